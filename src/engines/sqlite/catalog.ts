/** Catalog, DDL and full read of an open SQLite database (runs inside the worker). */
import * as crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { classifySqliteError } from './classify';
import type { SqliteCatalog, SqliteTableRead } from './protocol';

/** Quotes an SQL identifier. Pure. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface SchemaRow { type: string; name: string; tbl_name: string; sql: string | null }

const ORDER: Record<string, number> = { table: 0, index: 1, view: 2, trigger: 3 };

/** The rows of `sqlite_schema` for user objects (no `sqlite_*` internals), tables first. Throws SQLite's error when page 1 is unreadable. */
export function schemaRows(db: Database.Database): SchemaRow[] {
  const rows = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid").all() as SchemaRow[];
  return rows.sort((a, b) => (ORDER[a.type] ?? 9) - (ORDER[b.type] ?? 9));
}

/** Tables, primary keys, views, indexes, triggers and the DDL that recreates them (row counts are 0: see `readAll`). */
export function readCatalog(db: Database.Database): SqliteCatalog {
  const rows = schemaRows(db);
  const tables = rows.filter((r) => r.type === 'table').map((r) => {
    const cols = db.prepare(`PRAGMA table_info(${ident(r.name)})`).all() as { name: string; pk: number }[];
    const primaryKey = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    return { schema: 'main', name: r.name, rows: 0, primaryKey };
  });
  return {
    tables,
    sequences: [],
    views: rows.filter((r) => r.type === 'view').map((r) => ({ schema: 'main', name: r.name })),
    indexes: rows.filter((r) => r.type === 'index').map((r) => ({ schema: 'main', table: r.tbl_name, name: r.name })),
    triggers: rows.filter((r) => r.type === 'trigger').map((r) => ({ schema: 'main', table: r.tbl_name, name: r.name })),
    ddl: rows.filter((r) => r.sql).map((r) => `${r.sql};`),
  };
}

/** A value as bytes for the row hash; types are tagged so 1, '1' and x'31' differ. Pure. */
function valueKey(v: unknown): string {
  if (v === null) return 'n';
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') return `r${v}`;
  if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`;
  return `t${String(v).length}:${String(v)}`;
}

const MASK = (1n << 64n) - 1n;

/**
 * Reads every row of every table (every table b-tree page and overflow page
 * is read), counting rows and summing a 64-bit hash of each row, so the
 * fingerprint does not depend on the row order (a VACUUMed copy matches).
 * A table that fails is returned with `error`, the others are still read.
 */
export function readAll(db: Database.Database, names: string[], onTable?: (done: number, total: number) => void): SqliteTableRead[] {
  const out: SqliteTableRead[] = [];
  for (const [i, name] of names.entries()) {
    let rows = 0;
    let sum = 0n;
    try {
      const stmt = db.prepare(`SELECT * FROM ${ident(name)}`).raw(true).safeIntegers(true);
      for (const row of stmt.iterate() as Iterable<unknown[]>) {
        const h = crypto.createHash('sha1').update(row.map(valueKey).join('\u0001')).digest();
        sum = (sum + h.readBigUInt64BE(0)) & MASK;
        rows++;
      }
      out.push({ schema: 'main', name, rows, fingerprint: sum.toString(16) });
    } catch (err) {
      out.push({ schema: 'main', name, rows, error: classifySqliteError(err) });
    }
    onTable?.(i + 1, names.length);
  }
  return out;
}

/** `count(*)` of each table, inside whatever transaction `db` has open. Throws SQLite's error. */
export function countRows(db: Database.Database, names: string[]): { name: string; rows: number }[] {
  return names.map((name) => ({ name, rows: Number((db.prepare(`SELECT count(*) AS n FROM ${ident(name)}`).get() as { n: number }).n) }));
}
