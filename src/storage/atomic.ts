import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError } from '../core/errors';

/** Errors that mean "this platform cannot fsync a folder", not "the fsync failed". */
const CANNOT_FSYNC_DIR = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', ...(process.platform === 'win32' ? ['EPERM', 'EACCES'] : [])]);

/**
 * fsyncs a folder so a rename inside it survives a power cut. Skips only
 * where the platform cannot fsync a folder (EINVAL/ENOTSUP/EISDIR, and on
 * Windows EPERM/EACCES); every other error (EIO, ENOSPC, ENOENT…) throws a
 * StorageError naming the folder, with the original as its cause, because
 * the publish it was meant to make durable may not be.
 */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!CANNOT_FSYNC_DIR.has(code)) {
      throw new StorageError(`could not flush folder ${dir} to disk (${code || (err as Error).message}): what was just written there may not survive a power cut`, 'check the disk (dmesg, smartctl) and free space, then run the command again', code === 'ENOSPC' ? 'disk-full' : 'fsync-failed').because(err);
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Flushes a file's data to disk and sets its mode, without blocking the event
 * loop (so a sha256 can run beside it). Throws the file system's error (EIO,
 * ENOSPC…) for the caller to map: a file whose fsync failed is not durable.
 */
export async function fsyncFile(file: string, mode: number): Promise<void> {
  const handle = await fs.promises.open(file, 'r+');
  try {
    await handle.sync();
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file atomically: a temporary file beside it, fsync, rename over
 * the target, fsync of the folder. Readers see the old content or the new,
 * never a mix. The temporary file is removed if anything fails.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}
