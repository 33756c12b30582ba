/**
 * Damage real DuckDB files the way disks, crashes and operators do, and find
 * out where a file's blocks are, so a test can aim at a table's data block or
 * an index block and assert that the damage landed there.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { readFreeList } from '../../src/engines/duckdb/free-list';
import { BLOCKS_START, readFileHeader } from '../../src/engines/duckdb/header';
import { openDuckdb, queryRows } from '../../src/engines/duckdb/open';
import { execSql } from './db';
import { holdDatabase, release } from './hold';

export const BLOCK_SIZE = 262144;

/** Byte offset where block `id` starts (its 8-byte checksum comes first). */
export function blockStart(id: number, blockSize = BLOCK_SIZE): number {
  return BLOCKS_START + id * blockSize;
}

/** Inverts every bit of the byte at `offset`; returns the old value. */
export function flipByte(file: string, offset: number): number {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (fs.readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${file} has no byte at ${offset}`);
    const old = b[0]!;
    b[0] = old ^ 0xff;
    fs.writeSync(fd, b, 0, 1, offset);
    return old;
  } finally {
    fs.closeSync(fd);
  }
}

/** Overwrites `bytes` at `offset` in place (the file keeps its size). */
export function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where the blocks of a healthy DuckDB file are, measured with DuckDB itself. */
export interface Layout {
  blockCount: number;
  blockSize: number;
  free: Set<number>;
  /** Blocks that hold metadata (catalog, row-group pointers, free list). */
  metadata: Set<number>;
  /** Column-segment blocks per table ("tracks" → [6]). */
  tableBlocks: Record<string, number[]>;
  /** Blocks in use that are neither table data nor metadata: ART index storage. */
  indexBlocks: number[];
}

/** Measures the block layout of a healthy file (READ_ONLY open, closed before returning). */
export async function layoutOf(file: string): Promise<Layout> {
  const header = readFileHeader(file);
  if (!header.active) throw new Error(`${file} has no valid database header`);
  const fd = fs.openSync(file, 'r');
  let free: Set<number> | undefined;
  try {
    free = readFreeList(fd, header.active, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
  if (!free) throw new Error(`cannot read the free list of ${file}`);
  const db = await openDuckdb(file);
  try {
    const metadata = new Set((await queryRows(db.conn, 'SELECT DISTINCT block_id FROM pragma_metadata_info()')).map((r) => Number(r.block_id)));
    const tables = (await queryRows(db.conn, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()`)).map((r) => String(r.table_name));
    const tableBlocks: Record<string, number[]> = {};
    for (const t of tables) {
      const rows = await queryRows(db.conn, `SELECT block_id, additional_block_ids FROM pragma_storage_info('${t.replace(/'/g, "''")}')`);
      const ids = new Set<number>();
      for (const r of rows) {
        if (Number(r.block_id) >= 0) ids.add(Number(r.block_id));
        for (const extra of (r.additional_block_ids as unknown[] | null) ?? []) ids.add(Number(extra));
      }
      tableBlocks[t] = [...ids].sort((a, b) => a - b);
    }
    const data = new Set(Object.values(tableBlocks).flat());
    const indexBlocks: number[] = [];
    for (let id = 0; id < header.active.blockCount; id++) {
      if (!free.has(id) && !metadata.has(id) && !data.has(id)) indexBlocks.push(id);
    }
    return { blockCount: header.active.blockCount, blockSize: header.active.blockAllocSize, free, metadata, tableBlocks, indexBlocks };
  } finally {
    db.close();
  }
}

/**
 * Writes a small, real SQLite database at `file`: with the sqlite3 command-line
 * tool where it is installed, else with Python's built-in sqlite3 module
 * (python3 is on every machine of this project's kind; the sqlite3 CLI is not).
 */
export function makeSqliteDb(file: string): void {
  const sql = "CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO tracks VALUES (1, 'One'), (2, 'Two');";
  const cli = spawnSync('sqlite3', [file, sql], { encoding: 'utf8' });
  if (cli.status === 0) return;
  const py = spawnSync('python3', ['-c', 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit(); c.close()', file, sql], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`cannot make a SQLite file: sqlite3 ${cli.error?.message ?? cli.stderr}; python3 ${py.error?.message ?? py.stderr}`);
}

/**
 * Leaves `<file>.wal` as a killed writer would: opens `file` read-write in a
 * child process, runs `sql` and kills the process with SIGKILL.
 */
export async function crashWriter(file: string, sql: string): Promise<void> {
  const child = await holdDatabase(file, sql, { crash: true });
  await release(child);
  if (!fs.existsSync(`${file}.wal`)) throw new Error(`the killed writer left no ${file}.wal`);
}

/**
 * Makes a WAL that belongs to another database with another schema (a table
 * "invoices" that `file` does not have) and puts it beside `file`: DuckDB
 * fails to replay it. `scratch` is a folder for the other database.
 */
export async function putForeignWal(file: string, scratch: string): Promise<void> {
  fs.mkdirSync(scratch, { recursive: true });
  const other = `${scratch}/other.duckdb`;
  await execSql(other, 'CREATE TABLE invoices (id INTEGER, amount DECIMAL(10,2))');
  await crashWriter(other, 'INSERT INTO invoices SELECT i, i * 1.5 FROM range(100) t(i)');
  fs.copyFileSync(`${other}.wal`, `${file}.wal`);
}
