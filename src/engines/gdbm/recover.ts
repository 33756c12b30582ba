import * as fs from 'node:fs';
import { IntegrityError, StorageError, storageErrorFrom } from '../../core/errors';
import { classifyGdbmError, type GdbmFailure } from './failure';
import { countKeys } from './read';
import { runGdbmtool } from './tool';

export interface GdbmRecovery {
  /** True when gdbm lost no key and no bucket: the copy holds everything the damaged file did. */
  complete: boolean;
  keys: number;
  failedKeys: number;
  failedBuckets: number;
  duplicateKeys: number;
  /** gdbmtool's summary, for the report. */
  summary: string;
}

const num = (re: RegExp, s: string) => { const m = re.exec(s); return m ? Number(m[1]) : undefined; };

/** Copies `src` to `dest` (exclusive, 0600, fsynced). Throws StorageError. */
function copyExclusive(src: string, dest: string): void {
  try {
    fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(dest, 0o600);
    const fd = fs.openSync(dest, 'r+');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch (e) {
    fs.rmSync(dest, { force: true });
    throw storageErrorFrom(e, dest, 'copying to') ?? e;
  }
}

/**
 * Runs `gdbmtool recover` on a copy of `damaged` made at `dest`; `damaged`
 * itself is only read. On success `dest` is a database that opens and holds
 * `keys` keys; `complete` says whether gdbm reported any key or bucket lost.
 * Returns a `failure` (and removes `dest`) when gdbm cannot recover the file
 * at all. Throws StorageError for the copy, gdbmtoolMissing, InterruptedError.
 */
export async function recoverCopy(damaged: string, dest: string, signal?: AbortSignal): Promise<{ recovery?: GdbmRecovery; failure?: GdbmFailure }> {
  copyExclusive(damaged, dest);
  try {
    const r = await runGdbmtool([dest, 'recover', 'summary'], { signal });
    const failed = r.errors.find((e) => !/^Recovery succeeded/.test(e));
    if (failed || !/Recovery succeeded/.test(r.stdout)) {
      fs.rmSync(dest, { force: true });
      return { failure: classifyGdbmError(failed ?? (r.stdout.trim() || 'gdbmtool recover printed nothing')) };
    }
    const counted = await countKeys(dest, signal);
    if (counted.failure) {
      fs.rmSync(dest, { force: true });
      return { failure: { kind: 'corrupt', message: `the recovered copy does not open: ${counted.failure.message}` } };
    }
    const failedKeys = num(/Keys recovered: \d+, failed: (\d+)/, r.stdout) ?? 0;
    const failedBuckets = num(/Buckets recovered: \d+, failed: (\d+)/, r.stdout) ?? 0;
    const duplicateKeys = num(/duplicate: (\d+)/, r.stdout) ?? 0;
    return {
      recovery: {
        complete: failedKeys === 0 && failedBuckets === 0,
        keys: counted.keys!,
        failedKeys,
        failedBuckets,
        duplicateKeys,
        summary: r.stdout.trim().split('\n').filter((l) => /recovered/.test(l)).join('; '),
      },
    };
  } catch (e) {
    fs.rmSync(dest, { force: true });
    throw e;
  }
}

/**
 * Creates a new, empty GDBM database at `dest` (which must not exist), in the
 * numsync format when asked, mode 0600. Throws StorageError (disk, permissions),
 * IntegrityError when gdbm refuses otherwise, gdbmtoolMissing.
 */
export async function createEmptyGdbm(dest: string, opts: { numsync?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  if (fs.existsSync(dest)) throw new IntegrityError(`${dest} already exists; an empty database is only created where none is`, 'remove the leftover file, then run again');
  const r = await runGdbmtool([...(opts.numsync ? ['-x'] : []), '-n', dest, 'count'], { signal: opts.signal });
  if (r.errors.length) {
    fs.rmSync(dest, { force: true });
    const f = classifyGdbmError(r.errors[0]!);
    if (f.kind === 'storage') throw new StorageError(`cannot create ${dest}: ${f.message}`, 'free space or fix the permissions of that folder, then run again');
    throw new IntegrityError(`gdbm cannot create ${dest}: ${f.message}`, 'check the folder and run again');
  }
  fs.chmodSync(dest, 0o600);
}
