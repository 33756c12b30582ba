import type { EngineFailure as WorkerFailure, FailureKind } from '../engine';

const ERRNO_KINDS: Record<string, FailureKind> = { ENOSPC: 'disk-full', EDQUOT: 'disk-full', EIO: 'storage', EACCES: 'storage', EPERM: 'storage', EROFS: 'storage', ENOMEM: 'no-memory' };

/**
 * Classifies an error of better-sqlite3 (its `code` is SQLite's extended
 * result name) or of the file system. `SQLITE_FULL` and ENOSPC are a full
 * disk, never damage; `SQLITE_BUSY` is the writer's lock (exit 5); only
 * `SQLITE_CORRUPT`/`SQLITE_NOTADB` say the file is damaged. Pure.
 */
export function classifySqliteError(err: unknown): WorkerFailure {
  const e = err as { code?: string; message?: string };
  const message = String(e?.message ?? err).split('\n')[0]!;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (ERRNO_KINDS[code]) return { kind: ERRNO_KINDS[code]!, message, errno: code };
  if (code === 'SQLITE_FULL' || /database or disk is full/.test(message)) return { kind: 'disk-full', message, errno: 'ENOSPC' };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return { kind: 'lock', message };
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return { kind: 'corrupt', message };
  if (code === 'SQLITE_NOMEM') return { kind: 'no-memory', message };
  if (code === 'SQLITE_READONLY_ROLLBACK') return { kind: 'wal', message: `${message} (a hot journal needs rolling back)` };
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') return { kind: 'storage', message, errno: 'EACCES' };
  if (code.startsWith('SQLITE_IOERR')) return { kind: 'io', message };
  if (code.startsWith('SQLITE_CANTOPEN')) return { kind: 'io', message };
  return { kind: 'other', message };
}
