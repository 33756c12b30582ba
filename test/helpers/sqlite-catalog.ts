import { checkSqlite } from '../../src/engines/sqlite/check';

/** Table names, row counts and fingerprints of a SQLite file, through dbguard's own check worker. */
export async function readCatalogOf(file: string): Promise<{ name: string; rows: number; fingerprint?: string }[]> {
  const r = await checkSqlite(file, { target: 'test' });
  return r.tables.map((t) => ({ name: t.name, rows: t.rows, fingerprint: t.fingerprint }));
}
