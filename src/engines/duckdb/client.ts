import { runChildWorker, type ChildRunOptions } from '../child-worker';
import type { WorkerRequest } from './protocol';

/** A DuckDB operation failed in the worker, or the worker died (kind `crash`): the engine-wide EngineFailed. */
export { EngineFailed as WorkerFailed } from '../engine';

export type RunOptions = ChildRunOptions;

const DUCKDB = { folder: 'duckdb', label: 'DuckDB', diedWhile: 'while reading the file' };

/**
 * Runs one DuckDB request in a fresh child process and resolves with its
 * result. Rejects with WorkerFailed carrying the classified DuckDB error, or
 * kind `crash` when the child died without answering (fatal error, abort,
 * segfault). An aborted signal kills the child.
 */
export function runWorker<T>(req: WorkerRequest, opts: RunOptions = {}): Promise<T> {
  return runChildWorker<T>(DUCKDB, req, opts);
}
