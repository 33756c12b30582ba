/** Salvage and recreate of SQLite files, each in a worker (the source is only read). */
import * as fs from 'node:fs';
import { runSqliteWorker, type RunOptions } from './client';
import type { SqliteSalvageResult } from './protocol';

/**
 * Copies every readable row of `file` into the new file `dest` (see
 * salvage.ts). On failure `dest` is removed and the WorkerFailed is rethrown.
 * `file` should be the quarantined copy: it is opened read-only.
 */
export async function salvageSqliteFile(file: string, dest: string, opts: RunOptions = {}): Promise<SqliteSalvageResult> {
  try {
    return await runSqliteWorker<SqliteSalvageResult>({ action: 'salvage', file, dest }, opts);
  } catch (err) {
    fs.rmSync(dest, { force: true });
    fs.rmSync(`${dest}-journal`, { force: true });
    throw err;
  }
}

/** Builds an empty database at `dest` (must not exist) from the manifest's DDL (`sqlite_schema.sql`). Removes `dest` on failure. */
export async function recreateSqlite(dest: string, ddl: string[], opts: RunOptions = {}): Promise<void> {
  try {
    await runSqliteWorker({ action: 'recreate', dest, ddl }, opts);
  } catch (err) {
    fs.rmSync(dest, { force: true });
    fs.rmSync(`${dest}-journal`, { force: true });
    throw err;
  }
}

/** A one-line report of what a salvage lost: tables, rowid ranges. Pure. */
export function describeLoss(r: SqliteSalvageResult): string {
  const parts: string[] = [];
  for (const t of r.lostTables) parts.push(`table ${t.name} lost entirely (${t.reason})`);
  for (const t of r.tables) {
    if (t.lostRowids.length) parts.push(`${t.name}: rowids ${t.lostRowids.map(([a, b]) => (a === b ? `${a}` : `${a <= -Number.MAX_SAFE_INTEGER + 1 ? 'start' : a}–${b >= Number.MAX_SAFE_INTEGER ? 'end' : b}`)).join(', ')} unreadable (${t.copied} rows kept)`);
    if (t.error) parts.push(`${t.name}: ${t.error}`);
  }
  for (const o of r.skippedObjects) parts.push(`${o.name} not recreated (${o.reason})`);
  return parts.length ? parts.join('; ') : 'nothing lost';
}
