import type { FailureKind, WorkerFailure } from './protocol';

/**
 * Turns a DuckDB error into a classified failure: first line only (DuckDB
 * appends C++ stack traces to internal errors), lock holder PID and exe
 * extracted from "Conflicting lock is held in <exe> (PID <n>)".
 */
export function classifyDuckdbError(err: unknown): WorkerFailure {
  const full = err instanceof Error ? err.message : String(err);
  const message = full.split('\n')[0]!.trim();
  const lock = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(full);
  if (lock) return { kind: 'lock', message, exe: lock[1], pid: Number(lock[2]) };
  let kind: FailureKind = 'other';
  if (/Could not set lock on file/i.test(full)) kind = 'lock';
  else if (/replaying WAL|WAL file|write-ahead log/i.test(full)) kind = 'wal';
  else if (/not a valid DuckDB database|is not a DuckDB|The file .* exists, but it is not a valid DuckDB|SQLite/i.test(full)) kind = 'not-duckdb';
  else if (/checksum|Corrupt|corrupt|INTERNAL Error|FATAL|invalidated|Serialization|Failed to read|deserializ|out of range|beyond|read past|offset/i.test(full)) kind = 'corrupt';
  else if (/IO Error/i.test(full)) kind = 'io';
  return { kind, message };
}
