import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const NODE_API = path.resolve(__dirname, '../../node_modules/@duckdb/node-api');

/**
 * Starts a child process that opens `file` read-write (taking DuckDB's
 * exclusive lock), optionally runs `sql`, prints "ready" and waits. With
 * `crash: true` it then exits at once without closing: a killed writer,
 * leaving its WAL behind.
 */
export function holdDatabase(file: string, sql = '', opts: { crash?: boolean } = {}): Promise<ChildProcess> {
  const code = `
    const { DuckDBInstance } = require(${JSON.stringify(NODE_API)});
    (async () => {
      const i = await DuckDBInstance.create(${JSON.stringify(file)});
      const c = await i.connect();
      ${sql ? `await c.run(${JSON.stringify(sql)});` : ''}
      process.stdout.write('ready\\n');
      ${opts.crash ? 'process.kill(process.pid, "SIGKILL");' : 'setInterval(() => {}, 1000);'}
    })().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(child); });
    child.on('exit', (code, sig) => {
      if (opts.crash && sig === 'SIGKILL') resolve(child);
      else reject(new Error(`holder exited (${code ?? sig}): ${err}`));
    });
  });
}

/** Kills a holder and waits until it is gone (so its lock is released). */
export function release(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
