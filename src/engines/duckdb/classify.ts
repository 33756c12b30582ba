import type { FailureKind, WorkerFailure } from './protocol';

/** File-system errors of the machine, not of the database's content. */
const STORAGE_ERRNO = new Set(['EIO', 'EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EMFILE', 'ENFILE', 'EBUSY']);

/**
 * Turns a DuckDB error into a classified failure: first line only (DuckDB
 * appends C++ stack traces to internal errors), lock holder PID and exe
 * extracted from "Conflicting lock is held in <exe> (PID <n>)". A full disk
 * (ENOSPC or DuckDB's "No space left on device") is `disk-full`, other
 * file-system errors of Node (EIO, EACCES…) `storage`: never damage.
 */
export function classifyDuckdbError(err: unknown): WorkerFailure {
  const full = err instanceof Error ? err.message : String(err);
  const message = full.split('\n')[0]!.trim();
  const lock = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(full);
  if (lock) return { kind: 'lock', message, exe: lock[1], pid: Number(lock[2]) };
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const errno = typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
  // Before every other rule: a full disk while writing a copy or a WAL reads like a
  // WAL or an I/O failure, but it says nothing about the file being checked.
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || /No space left on device|Disk quota exceeded/i.test(full)) return { kind: 'disk-full', message, errno: errno ?? 'ENOSPC' };
  if (errno && STORAGE_ERRNO.has(errno)) return { kind: 'storage', message, errno };
  if (/Out of Memory Error|std::bad_alloc|failed to allocate/i.test(full)) return { kind: 'no-memory', message };
  let kind: FailureKind = 'other';
  if (/Could not set lock on file/i.test(full)) kind = 'lock';
  else if (/replaying WAL|WAL file|write-ahead log/i.test(full)) kind = 'wal';
  else if (/not a valid DuckDB database|is not a DuckDB|The file .* exists, but it is not a valid DuckDB|SQLite/i.test(full)) kind = 'foreign';
  else if (/checksum|Corrupt|corrupt|INTERNAL Error|FATAL|invalidated|Serialization|Failed to read|deserializ|out of range|beyond|read past|offset/i.test(full)) kind = 'corrupt';
  else if (/IO Error/i.test(full)) kind = 'io';
  return { kind, message };
}
