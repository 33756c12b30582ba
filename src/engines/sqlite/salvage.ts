/**
 * Salvage of a damaged SQLite file into a new one, without `sqlite3 .recover`
 * (Debian 12's 3.40.1 fails it with "SQL logic error"): every table whose
 * schema can be read is copied in rowid order, and where a read fails the
 * unreadable rowid range is narrowed down by probing, so every row SQLite can
 * still reach is kept and the lost ranges are reported.
 */
import Database from 'better-sqlite3';
import { errorMessage } from '../../core/errors';
import { ident, schemaRows } from './catalog';
import type { SalvageTable, SqliteSalvageResult } from './protocol';

const CHUNK = 500;
const MAX_ROWID = Number.MAX_SAFE_INTEGER;

interface Column { name: string; type: string; pk: number; hidden: number }

/** Reads rows with rowid >= `lo` in order until `limit` rows or an error; returns them and the error. */
function readFrom(stmt: Database.Statement, lo: number, limit: number): { rows: unknown[][]; failed: boolean } {
  const rows: unknown[][] = [];
  try {
    for (const row of stmt.iterate(lo, limit) as Iterable<unknown[]>) rows.push(row);
    return { rows, failed: false };
  } catch {
    return { rows, failed: true };
  }
}

/** True when a read starting at `lo` gets past the damage (returns its first row, or ends cleanly). */
function readableFrom(stmt: Database.Statement, lo: number): boolean {
  return !readFrom(stmt, lo, 1).failed;
}

/**
 * After a read failed past `lastGood`, finds the smallest rowid from which reading
 * works again: exponential steps forward, then a binary search back. Returns
 * undefined when nothing after `lastGood` can be read.
 */
function skipDamage(stmt: Database.Statement, lastGood: number): number | undefined {
  let bad = lastGood + 1;
  let step = 1;
  let good: number | undefined;
  while (bad + step <= MAX_ROWID) {
    const probe = bad + step;
    if (readableFrom(stmt, probe)) { good = probe; break; }
    bad = probe;
    step *= 2;
  }
  if (good === undefined) return undefined;
  while (good - bad > 1) {
    const mid = Math.floor((bad + good) / 2);
    if (readableFrom(stmt, mid)) good = mid; else bad = mid;
  }
  return good;
}

function copyRowidTable(src: Database.Database, dest: Database.Database, name: string, cols: Column[]): SalvageTable {
  const visible = cols.filter((c) => c.hidden === 0);
  const pkCols = cols.filter((c) => c.pk > 0);
  // an INTEGER PRIMARY KEY column is the rowid itself
  const alias = pkCols.length === 1 && pkCols[0]!.type.toUpperCase() === 'INTEGER' ? pkCols[0]!.name : undefined;
  const data = visible.filter((c) => c.name !== alias);
  const select = src.prepare(`SELECT rowid, ${data.map((c) => ident(c.name)).join(', ') || 'NULL'} FROM ${ident(name)} WHERE rowid >= ? ORDER BY rowid LIMIT ?`).raw(true);
  const targetCols = [alias ? ident(alias) : 'rowid', ...data.map((c) => ident(c.name))];
  const insert = dest.prepare(`INSERT INTO ${ident(name)} (${targetCols.join(', ')}) VALUES (${targetCols.map(() => '?').join(', ')})`);
  const insertMany = dest.transaction((rows: unknown[][]) => { for (const r of rows) insert.run(data.length ? r : r.slice(0, 1)); });
  const result: SalvageTable = { name, copied: 0, lostRowids: [] };
  let lo = -MAX_ROWID;
  try { lo = Number((src.prepare(`SELECT min(rowid) AS m FROM ${ident(name)}`).get() as { m: number | null }).m ?? 0); } catch { /* the leftmost leaf is damaged: start from the lowest rowid */ }
  for (;;) {
    const { rows, failed } = readFrom(select, lo, CHUNK);
    insertMany(rows);
    result.copied += rows.length;
    const last = rows.length ? Number(rows[rows.length - 1]![0]) : lo - 1;
    if (!failed) {
      if (rows.length < CHUNK) return result;
      lo = last + 1;
      continue;
    }
    const next = skipDamage(select, last);
    // the first row readable from `next` bounds the loss: rowids below it past the damage are gone
    // (a damaged leaf can also be stepped over without an error, so `next` alone would understate it)
    const first = next === undefined ? undefined : readFrom(select, next, 1).rows[0];
    const end = first ? Number(first[0]) - 1 : MAX_ROWID;
    result.lostRowids.push([last + 1, end]);
    if (next === undefined) return result;
    lo = next;
  }
}

function copyWithoutRowid(src: Database.Database, dest: Database.Database, name: string, cols: Column[]): SalvageTable {
  const visible = cols.filter((c) => c.hidden === 0).map((c) => ident(c.name));
  const insert = dest.prepare(`INSERT INTO ${ident(name)} (${visible.join(', ')}) VALUES (${visible.map(() => '?').join(', ')})`);
  const result: SalvageTable = { name, copied: 0, lostRowids: [] };
  try {
    for (const row of src.prepare(`SELECT ${visible.join(', ')} FROM ${ident(name)}`).raw(true).iterate() as Iterable<unknown[]>) {
      insert.run(row);
      result.copied++;
    }
  } catch (err) {
    result.error = `read stopped after ${result.copied} rows (WITHOUT ROWID tables cannot be read in ranges): ${errorMessage(err)}`;
  }
  return result;
}

/**
 * Copies what can be read of `file` (opened read-only) into the new database
 * `dest`, then recreates its indexes, views and triggers. Never writes `file`.
 * Throws only when not even the schema (page 1) can be read, or `dest` cannot be written.
 */
export function salvageSqlite(file: string, dest: string, onTable?: (done: number, total: number) => void): SqliteSalvageResult {
  const src = new Database(file, { readonly: true, fileMustExist: true });
  const out = new Database(dest);
  try {
    out.pragma('journal_mode = DELETE');
    const schema = schemaRows(src);
    const result: SqliteSalvageResult = { tables: [], lostTables: [], skippedObjects: [] };
    const tables = schema.filter((r) => r.type === 'table');
    for (const [i, t] of tables.entries()) {
      try {
        if (!t.sql) throw new Error('no CREATE statement in sqlite_schema');
        if (/^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(t.sql)) throw new Error('virtual table: recreate it from the application');
        const cols = src.prepare(`PRAGMA table_xinfo(${ident(t.name)})`).all() as Column[];
        out.exec(t.sql);
        const copy = /\)\s*WITHOUT\s+ROWID\s*$/i.test(t.sql) ? copyWithoutRowid : copyRowidTable;
        result.tables.push(copy(src, out, t.name, cols));
      } catch (err) {
        result.lostTables.push({ name: t.name, reason: errorMessage(err) });
      }
      onTable?.(i + 1, tables.length);
    }
    try {
      const seq = src.prepare('SELECT name, seq FROM sqlite_sequence').all() as { name: string; seq: number }[];
      const put = out.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)');
      for (const s of seq) put.run(s.name, s.seq);
    } catch { /* no AUTOINCREMENT table, or sqlite_sequence unreadable: rowids continue from the highest one */ }
    for (const o of schema.filter((r) => r.type !== 'table' && r.sql)) {
      try { out.exec(o.sql!); } catch (err) { result.skippedObjects.push({ name: o.name, reason: errorMessage(err) }); }
    }
    return result;
  } finally {
    src.close();
    out.close();
  }
}
