/**
 * SQLite file facts that need no SQLite library: detection by magic bytes,
 * the side files that belong to a database, the backup extension, and the
 * journal and WAL headers. Pure reads; nothing here writes a file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The 16 bytes every SQLite 3 database starts with. */
export const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** A rollback journal's header magic; a journal whose first 8 bytes are zero was committed. */
const JOURNAL_MAGIC = Buffer.from('d9d505f920a163d7', 'hex');
const WAL_MAGICS = [0x377f0682, 0x377f0683];

/** True when `head` (the first bytes of a file) starts with the SQLite 3 magic. Pure. */
export function isSqliteHeader(head: Buffer): boolean {
  return head.length >= SQLITE_MAGIC.length && head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC);
}

/**
 * The side files SQLite keeps next to `file`: `-wal`, `-shm`, `-journal`.
 * They move with the database, together: a stale `-wal` next to a restored
 * file is replayed into it, and a database without its hot journal is corrupt.
 */
export function sideFiles(file: string): string[] {
  return [`${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/** The extension for backups of `source`: `.db` or `.sqlite` as the source has it, else `.sqlite`. Pure. */
export function backupExtension(source: string): string {
  const ext = path.extname(source).toLowerCase();
  return ext === '.db' || ext === '.sqlite' ? ext : '.sqlite';
}

/** What the first 100 bytes of a database file say. */
export interface SqliteHeader {
  kind: 'sqlite' | 'empty' | 'text' | 'duckdb' | 'unknown';
  fileSize: number;
  /** Bytes 16–17 (1 means 65536). */
  pageSize?: number;
  /** Bytes 28–31: the database size in pages as of the last commit ("in-header database size"). */
  headerPages?: number;
  /** The in-header size is only valid when the change counter (24) equals version-valid-for (92). */
  headerPagesValid?: boolean;
  /** Bytes 18–19: 1 rollback journal, 2 WAL. */
  writeVersion?: number;
  preview?: string;
}

/**
 * Reads and decodes the header of `file` without opening it with SQLite.
 * Throws only the file system's errors (ENOENT, EACCES, EIO), unchanged.
 */
export function readSqliteHeader(file: string): SqliteHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(100);
    const n = fs.readSync(fd, buf, 0, 100, 0);
    const head = buf.subarray(0, n);
    if (fileSize === 0) return { kind: 'empty', fileSize };
    if (!isSqliteHeader(head)) {
      if (n >= 12 && head.subarray(8, 12).toString('latin1') === 'DUCK') return { kind: 'duckdb', fileSize };
      const text = head.toString('utf8');
      // printable text (a config file, an HTML error page…) is named as such
      if (/^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd')) return { kind: 'text', fileSize, preview: text.slice(0, 40) };
      return { kind: 'unknown', fileSize };
    }
    if (n < 100) return { kind: 'sqlite', fileSize };
    const raw = buf.readUInt16BE(16);
    const pageSize = raw === 1 ? 65536 : raw;
    return {
      kind: 'sqlite',
      fileSize,
      pageSize,
      writeVersion: buf[18],
      headerPages: buf.readUInt32BE(28),
      headerPagesValid: buf.readUInt32BE(24) === buf.readUInt32BE(92),
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `pageSize` is one SQLite can write: a power of two from 512 to 65536. Pure. */
export function validPageSize(pageSize: number | undefined): boolean {
  return pageSize !== undefined && pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
}

/**
 * State of `<file>-journal`: `none` (absent, empty or zeroed: committed),
 * `hot` (a header a crashed or running writer left: SQLite needs it to roll back).
 * Whether a writer still runs is known only to SQLite's lock; callers treat `hot`
 * as "must stay with its database". Throws file-system errors other than ENOENT.
 */
export function journalState(file: string): 'none' | 'hot' {
  let fd: number;
  try {
    fd = fs.openSync(`${file}-journal`, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
  try {
    const buf = Buffer.alloc(8);
    const n = fs.readSync(fd, buf, 0, 8, 0);
    return n === 8 && buf.equals(JOURNAL_MAGIC) ? 'hot' : 'none';
  } finally {
    fs.closeSync(fd);
  }
}

/** The `-wal` header: absent, empty (reset), or its magic and page size. Throws file-system errors other than ENOENT. */
export function readWalHeader(file: string): { kind: 'none' } | { kind: 'wal'; pageSize: number; bytes: number } | { kind: 'bad'; bytes: number } {
  let fd: number;
  try {
    fd = fs.openSync(`${file}-wal`, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  try {
    const bytes = fs.fstatSync(fd).size;
    if (bytes === 0) return { kind: 'none' };
    const buf = Buffer.alloc(32);
    const n = fs.readSync(fd, buf, 0, 32, 0);
    if (n < 32 || !WAL_MAGICS.includes(buf.readUInt32BE(0))) return { kind: 'bad', bytes };
    return { kind: 'wal', pageSize: buf.readUInt32BE(8), bytes };
  } finally {
    fs.closeSync(fd);
  }
}
