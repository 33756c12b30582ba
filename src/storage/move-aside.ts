import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'date-fns/format';
import { StorageError, storageErrorFrom } from '../core/errors';
import { fsyncDir } from './atomic';

/** `<file>` and every `<file>.wal*` beside it that exist. */
export function databaseFiles(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[] = [];
  try { names = fs.readdirSync(dir); } catch { return []; }
  return names.filter((n) => n === base || n.startsWith(`${base}.wal`)).map((n) => path.join(dir, n)).sort();
}

/** A new folder `<parent>/<target>_<YYYYMMDD_HHMMSS>[_N]/`, mode 0700. */
export function newAsideFolder(parent: string, target: string, now: Date): string {
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  const base = path.join(parent, `${target}_${format(now, 'yyyyMMdd_HHmmss')}`);
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}_${n}`;
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Moves files into `destDir` without ever losing one: rename where possible;
 * across file systems copy, fsync, compare sizes, then remove the original.
 * Returns the new paths. Throws StorageError when a move fails; a file
 * already moved stays moved (and is named in the error).
 */
export function moveAside(files: string[], destDir: string): string[] {
  const moved: string[] = [];
  for (const f of files) {
    const dest = path.join(destDir, path.basename(f));
    try {
      try {
        fs.renameSync(f, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        fs.copyFileSync(f, dest, fs.constants.COPYFILE_EXCL);
        const fd = fs.openSync(dest, 'r+');
        try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
        if (fs.statSync(dest).size !== fs.statSync(f).size) throw new Error(`copy of ${f} is incomplete`);
        fs.rmSync(f);
      }
      moved.push(dest);
    } catch (err) {
      throw storageErrorFrom(err, f, `moving to ${destDir}`) ?? new StorageError(`could not move ${f} to ${destDir}${moved.length ? ` (already moved: ${moved.join(', ')})` : ''}: ${(err as Error).message}`, `free space in ${destDir} or fix its permissions; nothing was deleted`, 'move-failed');
    }
  }
  fsyncDir(destDir);
  if (files[0]) fsyncDir(path.dirname(files[0]));
  return moved;
}

/** Copies `src` to a temporary file beside `dest`, fsyncs it, and renames it over `dest` (mode kept 0600 unless given). */
export async function placeAtomically(src: string, dest: string, mode = 0o600): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.dbguard-tmp`);
  try {
    await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE);
    const fd = fs.openSync(tmp, 'r+');
    try { fs.fsyncSync(fd); fs.fchmodSync(fd, mode); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, dest);
    fsyncDir(path.dirname(dest));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw storageErrorFrom(err, dest, 'writing') ?? err;
  }
}
