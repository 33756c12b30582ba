import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog } from '../../core/types';
import { classifyDuckdbError } from './classify';
import { openDuckdb, type OpenDb, qualified } from './open';
import type { TableScan } from './protocol';

/**
 * Reads every column of every row of one table (`count(*)` alone reads no
 * column data) and returns its row count and a content fingerprint.
 */
export async function scanTable(conn: DuckDBConnection, schema: string, name: string): Promise<TableScan> {
  const reader = await conn.runAndReadAll(`SELECT count(*), sum(hash(COLUMNS(*))) FROM ${qualified(schema, name)}`);
  const [n, ...sums] = reader.getRowsJson()[0]!;
  return { schema, name, rows: Number(n), fingerprint: sums.map(String).join(':') };
}

/**
 * Full read of every table of a catalog. A table that fails is recorded with
 * its classified error and the scan goes on; after a fatal error DuckDB
 * invalidates the instance, so the file is reopened for the remaining tables.
 */
export async function scanAll(file: string, db: OpenDb, catalog: Catalog, onTable?: (done: number, total: number) => void): Promise<{ tables: TableScan[]; db: OpenDb }> {
  const tables: TableScan[] = [];
  let current = db;
  for (const [i, t] of catalog.tables.entries()) {
    try {
      tables.push(await scanTable(current.conn, t.schema, t.name));
    } catch (err) {
      const failure = classifyDuckdbError(err);
      tables.push({ schema: t.schema, name: t.name, rows: t.rows, error: failure });
      current.close();
      current = await openDuckdb(file);
    }
    onTable?.(i + 1, catalog.tables.length);
  }
  return { tables, db: current };
}
