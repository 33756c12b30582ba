/**
 * The SQLite check of one live file: header (read without SQLite), side files,
 * then integrity_check, foreign_key_check and a full read in a worker. Never
 * writes the source, its `-wal` or its `-journal`: a file with a hot journal
 * is checked through a private copy of the pair, which SQLite rolls back.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError } from '../../core/errors';
import type { Finding, TableCount } from '../../core/types';
import { WorkerFailed, runSqliteWorker, type RunOptions } from './client';
import { journalState, readSqliteHeader, readWalHeader } from './format';
import { foreignKeyFinding, hotJournalFinding, integrityFinding, sqliteHeaderFindings, unopenableFinding, unreadableTableFinding, walMismatchFinding } from './findings';
import type { SqliteCatalog, SqliteCheckResult, WorkerFailure } from './protocol';

export interface SqliteCheckOptions extends RunOptions {
  target: string;
  /** `PRAGMA quick_check` instead of `integrity_check`. */
  quick?: boolean;
  /** How long to wait for a rollback-journal writer's lock (0: fail at once). */
  waitMs?: number;
}

export interface SqliteCheckReport {
  findings: Finding[];
  tables: (TableCount & { fingerprint?: string })[];
  catalog?: SqliteCatalog;
  library?: string;
  journalMode?: string;
  hotJournal: boolean;
}

/** Failures that say something about the file (the others: could not check, or busy). */
const aboutTheFile = (f: WorkerFailure) => f.kind === 'corrupt' || f.kind === 'io' || (f.kind === 'crash' && f.signal !== 'SIGKILL');

/** Copies `file` and its hot journal together into a private folder (never moves or changes them); returns the copy and a cleanup. */
export function copyPair(file: string): { copy: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-sqlite-'));
  const copy = path.join(dir, path.basename(file));
  try {
    // only called once SQLite said the journal is hot (no writer holds the RESERVED lock): nothing
    // writes either file until the application starts again and rolls it back
    fs.copyFileSync(`${file}-journal`, `${copy}-journal`);
    fs.copyFileSync(file, copy);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { copy, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Checks a SQLite database file that exists. Findings are return values;
 * throws BusyError (exit 5) when a writer's lock could not be had within
 * `waitMs`, WorkerFailed when the check could not run (full disk, no memory,
 * worker not started: see ops/worker-errors.ts), and file-system errors.
 */
export async function checkSqlite(file: string, opts: SqliteCheckOptions): Promise<SqliteCheckReport> {
  const { target } = opts;
  const header = readSqliteHeader(file);
  const { findings, stop } = sqliteHeaderFindings(file, header, target);
  const report: SqliteCheckReport = { findings, tables: [], hotJournal: false };
  if (stop) return report;
  const wal = readWalHeader(file);
  if (wal.kind === 'bad') findings.push(walMismatchFinding(file, target, `${wal.bytes} bytes without a WAL header`));
  else if (wal.kind === 'wal' && wal.pageSize !== header.pageSize) findings.push(walMismatchFinding(file, target, `its page size is ${wal.pageSize}, the database's ${header.pageSize}`));

  let result: SqliteCheckResult;
  const run = (f: string, readWrite: boolean) => runSqliteWorker<SqliteCheckResult>({ action: 'check', file: f, quick: !!opts.quick, waitMs: opts.waitMs ?? 0, readWrite }, opts);
  const viaCopy = async () => {
    report.hotJournal = true;
    findings.push(hotJournalFinding(file, target));
    const pair = copyPair(file);
    try { return await run(pair.copy, true); } finally { pair.cleanup(); }
  };
  try {
    try {
      result = await run(file, false);
    } catch (err) {
      // SQLite alone knows a journal is hot (a header, and no writer's RESERVED lock): a read-only
      // open then fails with SQLITE_READONLY_ROLLBACK instead of rolling back the source
      if (err instanceof WorkerFailed && err.failure.kind === 'wal' && journalState(file) === 'hot') result = await viaCopy();
      else throw err;
    }
  } catch (err) {
    if (!(err instanceof WorkerFailed)) throw err;
    const f = err.failure;
    if (f.kind === 'lock') throw new BusyError(`${file} is locked by a writer (rollback-journal mode): ${f.message}`, `retry when the writer is idle, or wait for it: dbguard check ${target} --wait 5m`).because(err);
    if (!aboutTheFile(f)) throw err;
    findings.push(unopenableFinding(file, target, f.message));
    return report;
  }
  report.library = result.library;
  report.journalMode = result.journalMode;
  report.catalog = result.catalog;
  if (result.integrity.length !== 1 || result.integrity[0] !== 'ok') findings.push(integrityFinding(file, target, result.integrity, !!opts.quick));
  if (result.foreignKeys.length) findings.push(foreignKeyFinding(file, target, result.foreignKeys));
  for (const t of result.tables) {
    if (t.error && !aboutTheFile(t.error)) throw new WorkerFailed(t.error);
    if (t.error) findings.push(unreadableTableFinding(file, target, t.name, t.error.message));
    report.tables.push({ schema: t.schema, name: t.name, rows: t.rows, ...(t.fingerprint ? { fingerprint: t.fingerprint } : {}) });
  }
  return report;
}
