import { CouldNotCheckError, StorageError, type DbguardError } from '../core/errors';
import { couldNotRun, EngineFailed } from '../engines/engine';

export { couldNotRun };

/**
 * The error to throw for a worker failure that `couldNotRun`: StorageError
 * (exit 6, code `disk-full`) for a full disk, StorageError for other
 * file-system errors, CouldNotCheckError (exit 6) otherwise; undefined when
 * the failure may be about the file. `doing` reads "copying production.db".
 */
export function notRunError(err: unknown, doing: string): DbguardError | undefined {
  if (!(err instanceof EngineFailed) || !couldNotRun(err.failure)) return undefined;
  const f = err.failure;
  switch (f.kind) {
    case 'disk-full':
      return new StorageError(`disk full while ${doing}: ${f.message}`, 'free space on that disk (or point backupDir to a larger one) and run again; nothing is known to be damaged', 'disk-full').because(err);
    case 'storage':
      return new StorageError(`file-system error (${f.errno}) while ${doing}: ${f.message}`, 'check permissions and the disk (dmesg), then run again; nothing is known to be damaged').because(err);
    case 'no-memory':
      return new CouldNotCheckError(`out of memory while ${doing}: ${f.message}`, 'free memory (or lower the memory of other processes) and run again; nothing is known to be damaged').because(err);
    default:
      return new CouldNotCheckError(`the check could not run while ${doing}: ${f.message}${f.signal === 'SIGKILL' ? ' (killed: out of memory?)' : ''}`, f.hint ?? 'see dmesg for the OOM killer, free memory or processes, and run again; nothing is known to be damaged').because(err);
  }
}
