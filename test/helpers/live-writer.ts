/**
 * The service stand-in of the live-backup tests: scripts/bench/live-writer.js
 * in a real child process holding the database read-write, and the
 * invariants its transactions keep, checked on a backup file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { openDuckdb, queryRows } from '../../src/engines/duckdb/open';

const SCRIPT = path.resolve(__dirname, '../../scripts/bench/live-writer.js');

export interface Writer {
  child: ChildProcess;
  /** Sends a command ("checkpoint", "big", "pause", "resume") and resolves when the writer has done it. */
  send(cmd: string): Promise<void>;
  /** Stops the writer cleanly (it closes the database) and returns how many commits it made. */
  stop(): Promise<{ commits: number; seq: number; latencies: number[] }>;
}

/** Starts the writer on `file` (created on first use) and resolves once it holds the file and is ready. */
export function startWriter(file: string, args: string[] = []): Promise<Writer> {
  const child = spawn(process.execPath, [SCRIPT, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { want: string; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => {
    out += d;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      const i = waiters.findIndex((w) => line.startsWith(w.want));
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(line);
    }
  });
  // one exit listener for every waiter (a listener per command passes Node's limit of 10)
  child.once('exit', (code) => { for (const w of waiters.splice(0)) w.reject(new Error(`writer exited (${code}): ${err}`)); });
  const next = (want: string) => new Promise<string>((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) { reject(new Error(`writer exited (${child.exitCode ?? child.signalCode}): ${err}`)); return; }
    waiters.push({ want, resolve, reject });
  });
  const ready = next('ready');
  const writer: Writer = {
    child,
    send: async (cmd) => { const done = next(`ok ${cmd}`); child.stdin!.write(`${cmd}\n`); await done; },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return { commits: 0, seq: 0, latencies: [] };
      const last = next('{');
      child.stdin!.end();
      return JSON.parse(await last);
    },
  };
  return ready.then(() => writer);
}

/** What a torn or mixed copy breaks, in words; empty when the file holds a state the writer committed. */
export async function invariantViolations(file: string): Promise<string[]> {
  const db = await openDuckdb(file);
  try {
    const one = async (sql: string) => Object.values((await queryRows(db.conn, sql))[0]!)[0];
    const problems: string[] = [];
    const sum = Number(await one('SELECT sum(balance) FROM accounts'));
    if (sum !== 100000) problems.push(`balances sum to ${sum}, not 100000`);
    const [n, max] = [Number(await one('SELECT count(*) FROM ledger')), Number(await one('SELECT coalesce(max(seq), 0) FROM ledger'))];
    if (n !== max) problems.push(`ledger has ${n} rows but its last seq is ${max} (a gap)`);
    const partial = Number(await one('SELECT count(*) FROM batches b LEFT JOIN (SELECT batch_id, count(*) AS c FROM items GROUP BY 1) i USING (batch_id) WHERE coalesce(i.c, 0) <> b.n'));
    if (partial) problems.push(`${partial} batch(es) are not whole`);
    const orphans = Number(await one('SELECT count(*) FROM items WHERE batch_id NOT IN (SELECT batch_id FROM batches)'));
    if (orphans) problems.push(`${orphans} item(s) belong to no batch`);
    const archive = Number(await one('SELECT count(*) FROM archive'));
    if (archive !== 200000) problems.push(`archive has ${archive} rows, not 200000`);
    return problems;
  } finally {
    db.close();
  }
}
