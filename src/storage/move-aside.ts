import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'date-fns/format';
import { StorageError, storageErrorFrom, UsageError } from '../core/errors';
import { fsyncDir } from './atomic';
import { failpoint } from './failpoint';

/** Says whether a file name in the database's folder is a side file of the database named `base` (Engine.isSideFile). */
export type SideFileTest = (base: string, name: string) => boolean;

/**
 * `<file>` and every side file of it that exists (as the engine's
 * `isSideFile` says: a WAL, a journal), sorted (the main file first). A
 * missing folder means no files; any other failure to read the folder throws
 * StorageError naming it, never "nothing there".
 */
export function databaseFiles(file: string, isSideFile: SideFileTest): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    failpoint('readdir', dir);
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StorageError(`cannot list the folder ${dir} to find ${base} and its side files (WAL, journal): ${(err as Error).message}`, `check that ${dir} is a readable folder; nothing was changed`, 'readdir-failed').because(err);
  }
  return names.filter((n) => n === base || isSideFile(base, n)).map((n) => path.join(dir, n)).sort();
}

/**
 * Throws UsageError (exit 2) when `file` is a symbolic link: restore, repair
 * and guard replace files by rename, which through a link would replace the
 * link and leave the real file (and the WAL DuckDB keeps beside the link) behind.
 */
export function refuseSymlink(file: string, setting: string): void {
  let st: fs.Stats;
  try { st = fs.lstatSync(file); } catch { return; }
  if (!st.isSymbolicLink()) return;
  let real = '';
  try { real = fs.realpathSync(file); } catch { real = path.resolve(path.dirname(file), fs.readlinkSync(file)); }
  throw new UsageError(`${file} is a symbolic link to ${real}; dbguard does not replace a database through a link`, `set ${setting} to the real file ${real} (nothing was changed)`, 'symlink');
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

const COPY_INSTEAD = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/**
 * Makes `dest` (which must not exist) a durable second name or copy of `src`:
 * a hard link where the file system allows, else a copy that is fsynced and
 * compared by size. `src` is never changed. On failure a partial `dest` is removed.
 */
export function linkOrCopy(src: string, dest: string): void {
  try {
    failpoint('link', src);
    fs.linkSync(src, dest);
  } catch (err) {
    if (!COPY_INSTEAD.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    try {
      fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
      failpoint('copy-aside', src);
      const fd = fs.openSync(dest, 'r+');
      try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
      if (fs.statSync(dest).size !== fs.statSync(src).size) throw new Error(`the copy of ${src} is incomplete`);
    } catch (copyErr) {
      fs.rmSync(dest, { force: true });
      throw copyErr;
    }
  }
}

/**
 * Step one of every move aside: copies (or hard-links) each of `files` into a
 * new folder `<parent>/<target>_<stamp>/` and fsyncs it, changing nothing at
 * the files' own place. All or nothing: when one copy fails the copies made
 * and the new folder are removed and StorageError says that nothing was
 * changed. Returns the folder, or null when `files` is empty.
 */
export function keepAside(files: string[], parent: string, target: string, now: Date): string | null {
  if (!files.length) return null;
  const unchanged = `${files.join(', ')} ${files.length > 1 ? 'are' : 'is'} unchanged where ${files.length > 1 ? 'they were' : 'it was'}`;
  let dir: string;
  try {
    dir = newAsideFolder(parent, target, now);
  } catch (err) {
    const mapped = storageErrorFrom(err, parent, 'creating a safety-copy folder in');
    throw new StorageError(`${mapped?.message ?? `could not create a safety-copy folder in ${parent}: ${(err as Error).message}`}; nothing was changed: ${unchanged}`, mapped?.hint ?? `fix ${parent} (free space, permissions), then run again`, mapped?.code ?? 'keep-aside-failed').because(err);
  }
  const made: string[] = [];
  let current = dir;
  try {
    for (const f of files) {
      current = path.join(dir, path.basename(f));
      linkOrCopy(f, current);
      made.push(current);
    }
    current = dir;
    fsyncDir(dir);
  } catch (err) {
    const left: string[] = [];
    for (const m of made) { try { fs.rmSync(m); } catch { left.push(m); } }
    try { if (!left.length) fs.rmdirSync(dir); } catch { left.push(dir); }
    const mapped = storageErrorFrom(err, current, 'keeping a safety copy at');
    throw new StorageError(
      `${mapped?.message ?? `could not keep a safety copy at ${current}: ${(err as Error).message}`}; nothing was changed: ${unchanged}${left.length ? `; partial copies remain in ${left.join(', ')}` : ''}`,
      mapped?.hint ?? `fix ${dir} (free space, permissions), then run again`,
      mapped?.code ?? 'keep-aside-failed',
    ).because(err);
  }
  return dir;
}

/**
 * Step two when nothing replaces the files: removes `files` (copies must
 * already be in `aside`) and fsyncs their folder. The WALs go first: a kill
 * between two removals leaves the main file in place, never an orphan WAL
 * beside a missing database. Throws StorageError naming what is
 * where when a removal fails.
 */
export function removeOriginals(files: string[], aside: string): void {
  const order = [...files].sort((a, b) => b.length - a.length);
  const removed: string[] = [];
  for (const f of order) {
    try {
      failpoint('remove-original', f);
      fs.rmSync(f);
      removed.push(f);
    } catch (err) {
      const left = order.filter((x) => !removed.includes(x));
      throw new StorageError(`could not remove ${f} after keeping it in ${aside}: ${(err as Error).message}; still in place: ${left.join(', ')}; copies of all of them are in ${aside}`, `fix the permissions of ${path.dirname(f)}, then run again`, 'remove-failed').because(err);
    }
  }
  if (files[0]) fsyncDir(path.dirname(files[0]));
}
