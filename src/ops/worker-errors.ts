import { CouldNotCheckError, StorageError, type DbguardError } from '../core/errors';
import { WorkerFailed } from '../engines/duckdb/client';
import type { WorkerFailure } from '../engines/duckdb/protocol';

/**
 * The one rule for "the check could not run" (DESIGN.md §5, invariant 9): a
 * full disk, a file-system error of the machine, no memory, a worker that
 * could not be forked or was killed (SIGKILL: the OOM killer, or an abort).
 * Such a failure says nothing about the file; callers must not report it as
 * damage nor act on it. Pure.
 */
export function couldNotRun(f: WorkerFailure): boolean {
  return f.kind === 'disk-full' || f.kind === 'storage' || f.kind === 'no-memory' || f.kind === 'not-started' || (f.kind === 'crash' && f.signal === 'SIGKILL');
}

/**
 * The error to throw for a worker failure that `couldNotRun`: StorageError
 * (exit 6, code `disk-full`) for a full disk, StorageError for other
 * file-system errors, CouldNotCheckError (exit 6) otherwise; undefined when
 * the failure may be about the file. `doing` reads "copying production.duckdb".
 */
export function notRunError(err: unknown, doing: string): DbguardError | undefined {
  if (!(err instanceof WorkerFailed) || !couldNotRun(err.failure)) return undefined;
  const f = err.failure;
  switch (f.kind) {
    case 'disk-full':
      return new StorageError(`disk full while ${doing}: ${f.message}`, 'free space on that disk (or point backupDir to a larger one) and run again; nothing is known to be damaged', 'disk-full').because(err);
    case 'storage':
      return new StorageError(`file-system error (${f.errno}) while ${doing}: ${f.message}`, 'check permissions and the disk (dmesg), then run again; nothing is known to be damaged').because(err);
    case 'no-memory':
      return new CouldNotCheckError(`out of memory while ${doing}: ${f.message}`, 'free memory (or lower the memory of other processes) and run again; nothing is known to be damaged').because(err);
    default:
      return new CouldNotCheckError(`the check could not run while ${doing}: ${f.message}${f.signal === 'SIGKILL' ? ' (killed: out of memory?)' : ''}`, 'see dmesg for the OOM killer, free memory or processes, and run again; nothing is known to be damaged').because(err);
  }
}
