import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../atomic';
import { failpoint } from '../failpoint';
import type { ObjectBackend, ObjectInfo } from './backend';

/** A temporary file of `put`: `.<basename>.<pid>.<rand>.tmp`, beside its object. */
const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A store on a local folder (`<backupDir>/store/`): one file per object,
 * sub-folders 0700, files 0600. Also reads byte ranges (`getRange`), so a
 * local restore never reads a whole 32 MiB pack for one block.
 */
export class LocalBackend implements ObjectBackend {
  readonly where: string;

  constructor(readonly root: string) {
    this.where = path.resolve(root);
  }

  /** The file of `key`; throws a plain Error (a bug) for a key that would leave the root. */
  pathOf(key: string): string {
    if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`invalid store key ${JSON.stringify(key)}`);
    return path.join(this.where, ...key.split('/'));
  }

  /**
   * Atomic and durable: temporary file beside the object (0600), fsync,
   * rename over the key, fsync of the folder. Failpoint `store-put:<basename>`
   * fires after the temporary file is written (so KILL leaves a temporary
   * file, which `sweepTemporaries` removes). On any error the temporary file
   * is removed and the error (ENOSPC, EIO…) is thrown unchanged.
   */
  async put(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    await this.mkdirs(dir);
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await fs.promises.open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(data);
        failpoint('store-put', file);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    fsyncDir(dir);
  }

  async get(key: string, signal?: AbortSignal): Promise<Buffer> {
    return fs.promises.readFile(this.pathOf(key), { signal });
  }

  /**
   * `length` bytes at `offset` of `key`. Throws ENOENT when absent, and an
   * error with code `ESHORT` when the object ends before the range does (a
   * truncated pack: damage, for the caller to report).
   */
  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const handle = await fs.promises.open(this.pathOf(key), 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) throw Object.assign(new Error(`${key} ends at ${offset + done}, before ${offset + length}`), { code: 'ESHORT' });
      return buf;
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.promises.stat(this.pathOf(key));
      return st.isFile() ? { key, bytes: st.size, modifiedAt: st.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Every object under `prefix`; temporary files of `put` are not objects and are never listed. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const out: ObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(rel ? path.join(this.where, ...rel.split('/')) : this.where, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (e.isFile() && !TEMP.test(e.name) && key.startsWith(prefix)) {
          const st = await fs.promises.stat(path.join(this.where, ...key.split('/'))).catch(() => undefined);
          if (st) out.push({ key, bytes: st.size, modifiedAt: st.mtime });
        }
      }
    };
    await walk(base);
    return out;
  }

  /** Removes `key` (idempotent). Failpoint `store-delete:<basename>` fires before the removal. */
  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    failpoint('store-delete', file);
    await fs.promises.rm(file, { force: true });
  }

  /**
   * Removes the temporary files that `put`s killed mid-write left (only those
   * of processes that are dead, so a put in progress is never disturbed).
   * Returns how many went.
   */
  async sweepTemporaries(): Promise<number> {
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        const m = e.isFile() ? TEMP.exec(e.name) : null;
        if (m && Number(m[2]) !== process.pid && !alive(Number(m[2]))) {
          await fs.promises.rm(p, { force: true });
          removed++;
        }
      }
    };
    await walk(this.where);
    return removed;
  }

  /**
   * Creates `dir` and its missing parents (0700) and fsyncs the parent of
   * each one created: a new `packs/ab/` folder must survive a power cut as
   * surely as the pack renamed into it, or an index would name a lost pack.
   */
  private async mkdirs(dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (first === undefined) return;
    for (let d = dir; ; d = path.dirname(d)) {
      fsyncDir(path.dirname(d));
      if (d === first || path.dirname(d) === d) break;
    }
  }
}
