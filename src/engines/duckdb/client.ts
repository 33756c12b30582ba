import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineFailed as WorkerFailed } from '../engine';
import type { WorkerMessage, WorkerRequest } from './protocol';

/** A DuckDB operation failed in the worker, or the worker died (kind `crash`): the engine-wide EngineFailed. */
export { EngineFailed as WorkerFailed } from '../engine';

/** Finds the compiled worker: beside this file in dist/, or dist/ when running from src/ under jest. */
function workerPath(): string {
  const here = path.join(__dirname, 'worker.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '../../../dist/engines/duckdb/worker.js');
}

export interface RunOptions {
  onProgress?: (phase: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Runs one DuckDB request in a fresh child process and resolves with its
 * result. Rejects with WorkerFailed carrying the classified DuckDB error, or
 * kind `crash` when the child died without answering (fatal error, abort,
 * segfault). An aborted signal kills the child.
 */
export function runWorker<T>(req: WorkerRequest, opts: RunOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // detached: a process group of its own, so a terminal's Ctrl-C or a service manager's SIGTERM to
    // dbguard's group never kills a worker (not even while it starts); dbguard aborts it when it decides to
    const child = fork(workerPath(), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
    let settled = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // an already-aborted signal never fires 'abort': the run must not start unstoppable
    if (opts.signal?.aborted) onAbort();
    child.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'progress') opts.onProgress?.(msg.phase, msg.done, msg.total);
      else if (msg.type === 'result') { settled = true; resolve(msg.result as T); }
      else if (msg.type === 'failure') { settled = true; reject(new WorkerFailed(msg.failure)); }
    });
    child.on('error', (err) => {
      if (settled) return;
      // Sending the request to a worker that was already killed (a Ctrl-C to its group, the OOM
      // killer) fails with EPIPE: that worker did start, and its 'exit' says how it died.
      const code = (err as NodeJS.ErrnoException).code;
      if (child.pid !== undefined && (code === 'EPIPE' || code === 'ERR_IPC_CHANNEL_CLOSED' || code === 'ECONNRESET')) return;
      settled = true;
      reject(new WorkerFailed({ kind: 'not-started', message: `could not start the DuckDB worker: ${err.message}`, errno: code }));
    });
    child.on('exit', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      const why = sig ? `signal ${sig}` : `exit code ${code}`;
      const detail = stderr.split('\n').find((l) => l.trim()) ?? '';
      reject(new WorkerFailed({ kind: 'crash', message: `DuckDB stopped with ${why} while reading the file${detail ? `: ${detail.trim()}` : ''}`, ...(sig ? { signal: sig } : {}) }));
    });
    child.send(req);
  });
}
