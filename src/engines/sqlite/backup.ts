/**
 * A consistent SQLite backup: a snapshot in one worker, then validation of the
 * copy in another process (integrity_check, full read, row counts against the
 * counts taken inside the snapshot's own read transaction).
 */
import * as fs from 'node:fs';
import { BusyError, IntegrityError } from '../../core/errors';
import { WorkerFailed, runSqliteWorker, type RunOptions } from './client';
import type { SqliteCheckResult, SqliteSnapshotResult } from './protocol';

export interface SqliteValidation {
  ok: boolean;
  /** Why the copy is not valid (empty when ok). */
  problems: string[];
  tables: { name: string; rows: number; fingerprint?: string }[];
  durationMs: number;
}

/**
 * Copies `file` to `dest` (which must not exist) as one plain database in
 * rollback-journal mode, mode 0600. Live: in WAL mode the application keeps
 * writing. Throws BusyError (exit 5) when a rollback-journal writer's lock is
 * not released within `waitMs`; IntegrityError when SQLite finds the source
 * damaged; WorkerFailed when the copy could not run (full disk: see
 * ops/worker-errors.ts). On any failure `dest` is removed.
 */
export async function snapshotSqlite(file: string, dest: string, target: string, opts: RunOptions & { waitMs?: number } = {}): Promise<SqliteSnapshotResult> {
  try {
    return await runSqliteWorker<SqliteSnapshotResult>({ action: 'snapshot', file, dest, waitMs: opts.waitMs ?? 0 }, opts);
  } catch (err) {
    fs.rmSync(dest, { force: true });
    fs.rmSync(`${dest}-journal`, { force: true });
    if (!(err instanceof WorkerFailed)) throw err;
    const f = err.failure;
    if (f.kind === 'lock') throw new BusyError(`${file} is locked by a writer (rollback-journal mode) and the lock was not released in time: ${f.message}`, `retry when the writer is idle, or wait longer: dbguard backup ${target} --wait 5m`).because(err);
    if (f.kind === 'corrupt') throw new IntegrityError(`${file} cannot be copied: SQLite reports ${f.message}`, `dbguard check ${target}, then dbguard repair ${target}`).because(err);
    throw err;
  }
}

/**
 * Opens `copy` in a fresh process, runs integrity_check and a full read, and
 * compares the row counts with `expected` (the snapshot's own counts). Never
 * throws for a bad copy (that is `ok: false`); throws WorkerFailed when the
 * validation could not run.
 */
export async function validateSqlite(copy: string, expected: { name: string; rows: number }[], opts: RunOptions = {}): Promise<SqliteValidation> {
  let r: SqliteCheckResult;
  try {
    r = await runSqliteWorker<SqliteCheckResult>({ action: 'validate', file: copy }, opts);
  } catch (err) {
    if (err instanceof WorkerFailed && (err.failure.kind === 'corrupt' || err.failure.kind === 'io')) return { ok: false, problems: [`${copy} cannot be opened: ${err.failure.message}`], tables: [], durationMs: 0 };
    throw err;
  }
  const problems: string[] = [];
  if (r.integrity.join() !== 'ok') problems.push(`integrity_check: ${r.integrity.slice(0, 3).join('; ')}`);
  if (r.journalMode !== 'delete') problems.push(`journal mode is ${r.journalMode}, not delete`);
  for (const t of r.tables) if (t.error) problems.push(`table ${t.name} cannot be read: ${t.error.message}`);
  for (const e of expected) {
    const got = r.tables.find((t) => t.name === e.name);
    if (!got) problems.push(`table ${e.name} is missing from the copy`);
    else if (got.rows !== e.rows) problems.push(`table ${e.name} has ${got.rows} rows in the copy, ${e.rows} at copy time`);
  }
  return { ok: problems.length === 0, problems, tables: r.tables.map((t) => ({ name: t.name, rows: t.rows, ...(t.fingerprint ? { fingerprint: t.fingerprint } : {}) })), durationMs: r.durationMs };
}
