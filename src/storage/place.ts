import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError, storageErrorFrom } from '../core/errors';
import { fsyncDir } from './atomic';
import { failpoint } from './failpoint';
import { linkOrCopy } from './move-aside';

/** Owner and permission bits a replacement database must keep. */
export interface FileOwner { mode: number; uid: number; gid: number }

/** The owner and mode of `file`, or undefined when it does not exist. */
export function ownerOf(file: string): FileOwner | undefined {
  try {
    const st = fs.statSync(file);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** A new database file waiting at a temporary name beside `dest`. */
export interface Prepared {
  tmp: string;
  dest: string;
  /** Set when the source was renamed (not copied) to `tmp`: discarding renames it back. */
  movedFrom?: string;
}

export const tempNameFor = (dest: string) => path.join(path.dirname(dest), `.${path.basename(dest)}.dbguard-tmp`);

/** fsyncs `file` and gives it `owner`'s mode (0600 without one) and, running as root, its uid/gid. */
function adopt(file: string, owner: FileOwner | undefined): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
    fs.fchmodSync(fd, owner ? owner.mode : 0o600);
    if (owner && process.getuid?.() === 0) fs.fchownSync(fd, owner.uid, owner.gid);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Step one of putting a database in place: a fsynced copy of `source` at a
 * temporary name beside `dest`, with `owner`'s mode and owner. With `move`,
 * `source` is a disposable file (a salvage) and is renamed when it is on
 * the same file system. Nothing at `dest` changes. Throws StorageError;
 * leaves no temporary file.
 */
export async function prepareReplacement(source: string, dest: string, owner: FileOwner | undefined, opts: { move?: boolean } = {}): Promise<Prepared> {
  const tmp = tempNameFor(dest);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.rmSync(tmp, { force: true });
  let movedFrom: string | undefined;
  try {
    if (opts.move) {
      try { fs.renameSync(source, tmp); movedFrom = source; } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err; }
    }
    if (!movedFrom) {
      await fs.promises.copyFile(source, tmp, fs.constants.COPYFILE_FICLONE);
      failpoint('prepare', dest);
    }
    adopt(tmp, owner);
  } catch (err) {
    discardReplacement({ tmp, dest, movedFrom });
    throw storageErrorFrom(err, dest, 'writing the new copy of') ?? err;
  }
  return { tmp, dest, movedFrom };
}

/** Step one for a file already written at `tempNameFor(dest)` (recreate): fsync, owner and mode. */
export function adoptReplacement(tmp: string, dest: string, owner: FileOwner | undefined): Prepared {
  try {
    adopt(tmp, owner);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw storageErrorFrom(err, dest, 'writing the new copy of') ?? err;
  }
  return { tmp, dest };
}

/** Removes a prepared file that will not be used (or renames a moved source back). Never throws. */
export function discardReplacement(p: Prepared): void {
  try {
    if (p.movedFrom) fs.renameSync(p.tmp, p.movedFrom);
    else fs.rmSync(p.tmp, { force: true });
  } catch { /* a leftover .dbguard-tmp is recognisable and replaced by the next run */ }
}

/**
 * Step two: `existing` (the files at `dest` now, see databaseFiles) must
 * already have copies in `aside` (keepAside). Removes the WALs at `dest`,
 * then renames the prepared file over `dest` (atomic) and fsyncs the folder.
 * On failure the removed WALs are put back from `aside` and the prepared file
 * is discarded; the StorageError says where every file is, including any
 * that could not be put back.
 */
export function commitReplacement(p: Prepared, existing: string[], aside: string | null): void {
  const wals = existing.filter((f) => f !== p.dest);
  const removed: string[] = [];
  try {
    for (const w of wals) {
      failpoint('remove-original', w);
      fs.rmSync(w);
      removed.push(w);
    }
    failpoint('place', p.dest);
    fs.renameSync(p.tmp, p.dest);
  } catch (err) {
    const notBack: string[] = [];
    for (const w of removed) {
      const copy = path.join(aside ?? '', path.basename(w));
      try {
        failpoint('put-back', w);
        linkOrCopy(copy, w);
      } catch (e) {
        notBack.push(`${w} could not be put back (${(e as Error).message}); it is safe in ${copy}`);
      }
    }
    discardReplacement(p);
    const mapped = storageErrorFrom(err, p.dest, 'putting the new file in place at');
    const state = notBack.length
      ? `${notBack.join('; ')}; copy it back by hand before starting the application`
      : `${existing.length ? existing.join(', ') : p.dest} ${existing.length > 1 ? 'are' : 'is'} as before`;
    throw new StorageError(
      `${mapped?.message ?? `could not put the new file in place at ${p.dest}: ${(err as Error).message}`}; ${state}${aside ? `; copies of the replaced files are in ${aside}` : ''}`,
      mapped?.hint ?? `fix ${path.dirname(p.dest)} (free space, permissions), then run again`,
      mapped?.code ?? 'place-failed',
    ).because(err);
  }
  try {
    failpoint('place-fsync', p.dest);
    fsyncDir(path.dirname(p.dest));
  } catch (err) {
    throw new StorageError(`the new file is in place at ${p.dest}, but its folder could not be synced to disk (${(err as Error).message}), so a power cut could still undo it${aside ? `; the replaced files are in ${aside}` : ''}`, `check the disk holding ${path.dirname(p.dest)}`, 'fsync-failed').because(err);
  }
}
