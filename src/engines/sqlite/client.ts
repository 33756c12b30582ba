import { EngineFailed as WorkerFailed } from '../engine';
import { runChildWorker, type ChildRunOptions } from '../child-worker';
import type { SqliteRequest } from './protocol';

export { WorkerFailed };

export type RunOptions = ChildRunOptions;

// a worker that exits before answering without a signal could not load better-sqlite3: it never ran
const SQLITE = { folder: 'sqlite', label: 'SQLite', notStarted: /better[-_]sqlite3|Cannot find module|NODE_MODULE_VERSION/ };

/**
 * Runs one SQLite request in a fresh child process (which alone loads
 * better-sqlite3) and resolves with its result. Rejects with WorkerFailed:
 * the classified SQLite error, kind `not-started` when the child could not be
 * forked or load better-sqlite3, or kind `crash` when it died without
 * answering. An aborted signal kills the child.
 */
export function runSqliteWorker<T>(req: SqliteRequest, opts: RunOptions = {}): Promise<T> {
  return runChildWorker<T>(SQLITE, req, opts);
}
