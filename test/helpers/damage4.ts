/**
 * Damage and inspection helpers for the restore / repair / salvage / guard
 * tests (issue 4): the six kinds of damage a repair must survive, block
 * lookup per column, content fingerprints, and a reusable fixture folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runWorker } from '../../src/engines/duckdb/client';
import { openDuckdb, queryRows } from '../../src/engines/duckdb/open';
import type { InspectResult, ScanResult } from '../../src/engines/duckdb/protocol';
import { blockStart, flipByte, overwrite, putForeignWal } from './damage';

export { blockStart, flipByte, overwrite, putForeignWal };

export type DamageKind = 'header-zeroed' | 'magic-changed' | 'truncated' | 'text' | 'empty' | 'both-headers' | 'data-byte';

/** Fills `length` bytes at `offset` with zeros (the file keeps its size). */
export function zero(file: string, offset: number, length: number): void {
  overwrite(file, offset, Buffer.alloc(length));
}

/**
 * Damages a healthy DuckDB file in place. `data-byte` flips a byte inside a
 * block that holds only column data of `table` (found with DuckDB on the
 * healthy file first); `truncated` cuts the file in the middle of its blocks.
 */
export async function damage(file: string, kind: DamageKind, table = 'tracks'): Promise<void> {
  switch (kind) {
    case 'header-zeroed': return zero(file, 0, 4096);
    case 'magic-changed': return overwrite(file, 8, Buffer.from('XXXX'));
    case 'truncated': {
      const size = fs.statSync(file).size;
      return fs.truncateSync(file, 12288 + Math.floor((size - 12288) / 2 / 4096) * 4096);
    }
    case 'text': return fs.writeFileSync(file, 'corrupted data\n');
    case 'empty': return fs.writeFileSync(file, '');
    case 'both-headers': return zero(file, 4096, 8192);
    case 'data-byte': {
      const blocks = await soleBlocks(file, table);
      if (!blocks.length) throw new Error(`no block of ${file} holds only data of ${table}`);
      flipByte(file, blockStart(blocks[0]!.block) + 1000);
      return;
    }
  }
}

/** One block that only segments of `table` (and, when given, only of `column`) use; `column` lists the columns in it. */
export interface SoleBlock { block: number; column: string }

/**
 * Blocks used exclusively by `table` (optionally by one `column` of it): no
 * other table's or column's segment shares them and they hold no metadata.
 * Measured on a healthy file with a READ_ONLY open that is closed again.
 */
export async function soleBlocks(file: string, table: string, column?: string): Promise<SoleBlock[]> {
  const db = await openDuckdb(file);
  try {
    const tables = (await queryRows(db.conn, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()`)).map((r) => String(r.table_name));
    const users = new Map<number, Set<string>>();
    for (const t of tables) {
      const rows = await queryRows(db.conn, `SELECT block_id, column_name, additional_block_ids FROM pragma_storage_info('${t}')`);
      for (const r of rows) {
        const ids = [Number(r.block_id), ...((r.additional_block_ids as unknown[] | null) ?? []).map(Number)].filter((b) => b >= 0);
        for (const id of ids) {
          if (!users.has(id)) users.set(id, new Set());
          users.get(id)!.add(`${t}.${String(r.column_name)}`);
        }
      }
    }
    const metadata = new Set((await queryRows(db.conn, 'SELECT DISTINCT block_id FROM pragma_metadata_info()')).map((r) => Number(r.block_id)));
    const out: SoleBlock[] = [];
    for (const [block, who] of [...users.entries()].sort((a, b) => a[0] - b[0])) {
      if (metadata.has(block)) continue;
      const cols = [...who].map((u) => ({ t: u.slice(0, u.indexOf('.')), c: u.slice(u.indexOf('.') + 1) }));
      if (cols.some((x) => x.t !== table)) continue;
      if (column && (cols.length !== 1 || cols[0]!.c !== column)) continue;
      out.push({ block, column: cols.map((x) => x.c).join(',') });
    }
    return out;
  } finally {
    db.close();
  }
}

/** Full read of a file in a worker: catalog plus rows and fingerprint per table ("schema.name" → …). */
export async function scanFile(file: string): Promise<{ catalog: InspectResult['catalog']; tables: Record<string, { rows: number; fingerprint?: string; error?: unknown }> }> {
  const r = await runWorker<InspectResult & ScanResult>({ action: 'scan', file });
  return { catalog: r.catalog, tables: Object.fromEntries(r.tables.map((t) => [`${t.schema}.${t.name}`, { rows: t.rows, fingerprint: t.fingerprint, error: t.error }])) };
}

/** Rows of a query against a file opened READ_ONLY in this process (closed before returning). */
export async function query(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await openDuckdb(file);
  try {
    return await queryRows(db.conn, sql);
  } finally {
    db.close();
  }
}

/** Copies a fixture folder (config, data/, backups/) to a fresh folder `dest`. */
export function copyFixture(src: string, dest: string): string {
  fs.cpSync(src, dest, { recursive: true, preserveTimestamps: true });
  return dest;
}

/** The folders under `<dir>` (quarantine/ or pre-restore/), sorted. */
export function subfolders(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isDirectory()).sort().map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** Asserts a CLI run's exit code; on a mismatch the error shows its stdout and stderr. */
export function exited(r: { code: number | null; stdout: string; stderr: string }, code: number): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\n--- stdout:\n${r.stdout.slice(0, 3000)}\n--- stderr:\n${r.stderr.slice(0, 5000)}`);
}
