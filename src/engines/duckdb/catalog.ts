import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog, TableInfo } from '../../core/types';
import { classifyDuckdbError } from './classify';
import { ident, qualified, queryRows } from './open';
import type { NullKeyCount, WorkerFailure } from './protocol';

/** A table whose primary-key columns could not be read while the catalog was taken. */
export interface UnreadableTable {
  schema: string;
  table: string;
  error: WorkerFailure;
}

const str = (v: unknown) => String(v ?? '');

/**
 * Reads the user catalog of the attached main database: tables with their
 * primary-key columns and exact row counts, sequences, views and indexes.
 * Internal schemas and temporary objects are left out. Read-only.
 * The NULL-primary-key test reads column data: when it fails for one table
 * (a damaged block), that table is listed in `unreadable`, its row count
 * comes from the row-group metadata, and the other tables are still read.
 * Throws only when even that count fails (the catalog itself is damaged).
 */
export async function readCatalog(conn: DuckDBConnection): Promise<{ catalog: Catalog; nullPrimaryKeys: NullKeyCount[]; unreadable: UnreadableTable[] }> {
  const db = `database_name = current_database()`;
  const tableRows = await queryRows(conn, `SELECT schema_name, table_name FROM duckdb_tables() WHERE ${db} AND NOT temporary AND NOT internal ORDER BY schema_name, table_name`);
  const pkRows = await queryRows(conn, `SELECT schema_name, table_name, constraint_column_names FROM duckdb_constraints() WHERE ${db} AND constraint_type = 'PRIMARY KEY'`);
  const pks = new Map<string, string[]>();
  for (const r of pkRows) pks.set(`${str(r.schema_name)}.${str(r.table_name)}`, (r.constraint_column_names as unknown[]).map(str));

  const tables: TableInfo[] = [];
  const nullPrimaryKeys: NullKeyCount[] = [];
  const unreadable: UnreadableTable[] = [];
  for (const r of tableRows) {
    const schema = str(r.schema_name);
    const name = str(r.table_name);
    const primaryKey = pks.get(`${schema}.${name}`) ?? [];
    const nullTest = primaryKey.length ? `, count(*) FILTER (WHERE ${primaryKey.map((c) => `${ident(c)} IS NULL`).join(' OR ')}) AS null_pk` : '';
    let counts: Record<string, unknown> | undefined;
    try {
      [counts] = await queryRows(conn, `SELECT count(*) AS n${nullTest} FROM ${qualified(schema, name)}`);
    } catch (err) {
      if (!nullTest) throw err;
      // count(*) alone reads no column data; if it fails too, the catalog is damaged: give up
      try {
        [counts] = await queryRows(conn, `SELECT count(*) AS n FROM ${qualified(schema, name)}`);
      } catch {
        throw err;
      }
      unreadable.push({ schema, table: name, error: classifyDuckdbError(err) });
    }
    tables.push({ schema, name, rows: Number(counts!.n), primaryKey });
    if (Number(counts!.null_pk ?? 0) > 0) nullPrimaryKeys.push({ schema, table: name, rows: Number(counts!.null_pk) });
  }
  const sequences = (await queryRows(conn, `SELECT schema_name, sequence_name FROM duckdb_sequences() WHERE ${db} AND NOT temporary ORDER BY 1, 2`)).map((r) => ({
    schema: str(r.schema_name),
    name: str(r.sequence_name),
  }));
  const views = (await queryRows(conn, `SELECT schema_name, view_name FROM duckdb_views() WHERE ${db} AND NOT internal AND NOT temporary ORDER BY 1, 2`)).map((r) => ({
    schema: str(r.schema_name),
    name: str(r.view_name),
  }));
  const indexes = (await queryRows(conn, `SELECT schema_name, table_name, index_name FROM duckdb_indexes() WHERE ${db} ORDER BY 1, 2, 3`)).map((r) => ({
    schema: str(r.schema_name),
    table: str(r.table_name),
    name: str(r.index_name),
  }));
  return { catalog: { tables, sequences, views, indexes }, nullPrimaryKeys, unreadable };
}

/** The DuckDB library version string, e.g. "v1.5.6". */
export async function libraryVersion(conn: DuckDBConnection): Promise<string> {
  const [row] = await queryRows(conn, 'SELECT library_version FROM pragma_version()');
  return str(row?.library_version);
}
