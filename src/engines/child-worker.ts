import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineFailed, type EngineFailure } from './engine';

/** What every engine worker sends back over IPC. */
export type ChildMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'result'; result: unknown }
  | { type: 'failure'; failure: EngineFailure };

export interface ChildWorker {
  /** The engine's folder name under dist/engines/ (`duckdb`, `sqlite`). */
  folder: string;
  /** For messages: "DuckDB", "SQLite". */
  label: string;
  /** Text after "stopped with signal X" when the worker died without answering. */
  diedWhile?: string;
  /** A worker that exited (no signal) with this stderr never ran: kind `not-started` instead of `crash`. */
  notStarted?: RegExp;
}

export interface ChildRunOptions {
  onProgress?: (phase: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Finds the compiled worker beside the engine in dist/, or in dist/ when running from src/ under jest. */
function workerPath(folder: string): string {
  const here = path.join(__dirname, folder, 'worker.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '../../dist/engines', folder, 'worker.js');
}

/**
 * Runs one request in a fresh child process of the engine's worker and
 * resolves with its result. Rejects with EngineFailed: the worker's
 * classified failure; kind `not-started` when the child could not be forked;
 * kind `crash` (with the signal) when it died without answering. The child
 * runs in its own process group, so a Ctrl-C to dbguard's group never kills
 * it; an aborted `signal` kills it.
 */
export function runChildWorker<T>(w: ChildWorker, req: object, opts: ChildRunOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = fork(workerPath(w.folder), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
    let settled = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // an already-aborted signal never fires 'abort': the run must not start unstoppable
    if (opts.signal?.aborted) onAbort();
    child.on('message', (msg: ChildMessage) => {
      if (msg.type === 'progress') opts.onProgress?.(msg.phase, msg.done, msg.total);
      else if (msg.type === 'result') { settled = true; resolve(msg.result as T); }
      else if (msg.type === 'failure') { settled = true; reject(new EngineFailed(msg.failure)); }
    });
    child.on('error', (err) => {
      if (settled) return;
      // Sending the request to a worker that was already killed (a Ctrl-C to its group, the OOM
      // killer) fails with EPIPE: that worker did start, and its 'exit' says how it died.
      const code = (err as NodeJS.ErrnoException).code;
      if (child.pid !== undefined && (code === 'EPIPE' || code === 'ERR_IPC_CHANNEL_CLOSED' || code === 'ECONNRESET')) return;
      settled = true;
      reject(new EngineFailed({ kind: 'not-started', message: `could not start the ${w.label} worker: ${err.message}`, errno: code }));
    });
    child.on('exit', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      const why = sig ? `signal ${sig}` : `exit code ${code}`;
      const detail = stderr.split('\n').find((l) => l.trim()) ?? '';
      const kind = !sig && w.notStarted?.test(stderr) ? 'not-started' : 'crash';
      reject(new EngineFailed({ kind, message: `${w.label} ${w.diedWhile ? `stopped with ${why} ${w.diedWhile}` : `worker stopped with ${why}`}${detail ? `: ${detail.trim()}` : ''}`, ...(sig ? { signal: sig } : {}) }));
    });
    child.send(req);
  });
}
