import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/** Options that keep DuckDB from fetching extensions when handed a foreign file. */
export const SAFE_OPTIONS = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' } as const;

export interface OpenDb {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

/**
 * Opens a DuckDB file (READ_ONLY unless `readWrite`) with extension auto-install
 * and auto-load off. `close()` releases connection and instance at once, so the
 * file lock does not linger until garbage collection. Throws DuckDB's error.
 */
export async function openDuckdb(file: string, readWrite = false): Promise<OpenDb> {
  const options: Record<string, string> = { ...SAFE_OPTIONS };
  if (!readWrite) options.access_mode = 'READ_ONLY';
  const instance = await DuckDBInstance.create(file, options);
  let conn: DuckDBConnection;
  try {
    conn = await instance.connect();
  } catch (err) {
    instance.closeSync();
    throw err;
  }
  return {
    instance,
    conn,
    close() {
      try { conn.closeSync(); } catch { /* already closed */ }
      try { instance.closeSync(); } catch { /* already closed */ }
    },
  };
}

/** Quotes an identifier for DuckDB SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Fully qualified, quoted table name. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/** Runs a query and returns its rows as plain objects with JSON-safe values. */
export async function queryRows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}
