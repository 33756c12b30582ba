import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineFailed as WorkerFailed } from '../engine';
import type { SqliteMessage, SqliteRequest } from './protocol';

export { WorkerFailed };

/** Finds the compiled worker: beside this file in dist/, or dist/ when running from src/ under jest. */
function workerPath(): string {
  const here = path.join(__dirname, 'worker.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '../../../dist/engines/sqlite/worker.js');
}

export interface RunOptions {
  onProgress?: (phase: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Runs one SQLite request in a fresh child process (which alone loads
 * better-sqlite3) and resolves with its result. Rejects with WorkerFailed:
 * the classified SQLite error, kind `not-started` when the child could not be
 * forked, or kind `crash` when it died without answering. An aborted signal kills the child.
 */
export function runSqliteWorker<T>(req: SqliteRequest, opts: RunOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // detached: Ctrl-C to dbguard's process group never kills a worker; dbguard aborts it when it decides to
    const child = fork(workerPath(), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
    let settled = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    child.on('message', (msg: SqliteMessage) => {
      if (msg.type === 'progress') opts.onProgress?.(msg.phase, msg.done, msg.total);
      else if (msg.type === 'result') { settled = true; resolve(msg.result as T); }
      else if (msg.type === 'failure') { settled = true; reject(new WorkerFailed(msg.failure)); }
    });
    child.on('error', (err) => {
      if (!settled) { settled = true; reject(new WorkerFailed({ kind: 'not-started', message: `could not start the SQLite worker: ${err.message}`, errno: (err as NodeJS.ErrnoException).code })); }
    });
    child.on('exit', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      const why = sig ? `signal ${sig}` : `exit code ${code}`;
      const detail = stderr.split('\n').find((l) => l.trim()) ?? '';
      // a worker that exits before answering without a signal could not load better-sqlite3: it never ran
      const kind = !sig && /better[-_]sqlite3|Cannot find module|NODE_MODULE_VERSION/.test(stderr) ? 'not-started' : 'crash';
      reject(new WorkerFailed({ kind, message: `SQLite worker stopped with ${why}${detail ? `: ${detail.trim()}` : ''}`, ...(sig ? { signal: sig } : {}) }));
    });
    child.send(req);
  });
}
