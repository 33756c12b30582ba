import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'date-fns/parse';
import { storageErrorFrom, StorageError } from '../core/errors';
import { manifestPath, readManifest, type Manifest } from './manifest';
import { newestFirst, parseBackupName, type ParsedName } from './naming';

export type BackupStatus = 'valid' | 'invalid' | 'incomplete';

export interface BackupEntry {
  id: string;
  target: string;
  file: string;
  name: ParsedName;
  manifest?: Manifest;
  status: BackupStatus;
  createdAt: Date;
  bytes: number;
}

/** Marks the temporary files of an unfinished backup: `.<id>.tmp`, `.<id>.tmp.wal`. */
export const TEMP_SUFFIX = '.tmp';

/**
 * The target of a temporary file that dbguard names, or undefined for any
 * other file: `.<id>.tmp` and DuckDB's files beside it such as `.<id>.tmp.wal`
 * (a copy in progress), and
 * `.<id>.duckdb.json.<pid>.tmp` (a manifest being written), where `<id>` is a
 * backup id. Exact, so no other file — nor another target's — is ever cleaned.
 */
export function tempFileTarget(fileName: string): string | undefined {
  const m = /^\.(.+?)(?:\.duckdb\.json\.\d+\.tmp|\.tmp(?:\..+)?)$/.exec(fileName);
  return m ? parseBackupName(`${m[1]}.duckdb`)?.target : undefined;
}

/**
 * The backup folder of one configuration: naming, listing, temporary files.
 * Only files that match the backup naming pattern are ever listed or removed.
 */
export class BackupRepository {
  constructor(readonly dir: string) {}

  /**
   * Creates the folder (mode 0700) and any missing parents if needed.
   * Throws StorageError (exit 6) naming the folder when it cannot be created
   * or written.
   */
  ensureDir(): void {
    try {
      mkdirParents(this.dir, 0o700);
      if ((fs.statSync(this.dir).mode & 0o777) !== 0o700) fs.chmodSync(this.dir, 0o700);
      fs.accessSync(this.dir, fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = `set backupDir in the config (or DBGUARD_BACKUP_DIR) to a folder the user running dbguard can create and write`;
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new StorageError(`backup folder ${this.dir} cannot be created: ${(err as NodeJS.ErrnoException).path ?? 'a part of that path'} is a file, not a folder`, hint, 'bad-path');
      }
      throw storageErrorFrom(err, this.dir, 'creating the backup folder') ??
        new StorageError(`backup folder ${this.dir} cannot be created or written: ${(err as Error).message}`, hint);
    }
  }

  fileOf(id: string): string {
    return path.join(this.dir, `${id}.duckdb`);
  }

  tempOf(id: string): string {
    return path.join(this.dir, `.${id}${TEMP_SUFFIX}`);
  }

  /** True when a backup, its manifest or a temporary file already uses this id. */
  taken(id: string): boolean {
    return fs.existsSync(this.fileOf(id)) || fs.existsSync(manifestPath(this.fileOf(id))) || fs.existsSync(this.tempOf(id));
  }

  /** Backups of `target` (or of every target), newest first, with their status. Read-only. */
  list(target?: string): BackupEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storageErrorFrom(err, this.dir, 'listing') ?? err;
    }
    const entries: BackupEntry[] = [];
    for (const fileName of names) {
      const name = parseBackupName(fileName);
      if (!name || (target && name.target !== target)) continue;
      const file = path.join(this.dir, fileName);
      let bytes: number;
      try {
        const st = fs.statSync(file);
        if (!st.isFile()) continue;
        bytes = st.size;
      } catch {
        continue;
      }
      const manifest = readManifest(file);
      let status: BackupStatus = 'incomplete';
      if (manifest && manifest.id === name.id && manifest.target === name.target) {
        status = manifest.validation.status === 'valid' && manifest.bytes === bytes ? 'valid' : 'invalid';
      }
      const createdAt = manifest?.createdAt ? new Date(manifest.createdAt) : parse(name.stamp, 'yyyyMMdd_HHmmss', new Date());
      entries.push({ id: name.id, target: name.target, file, name, manifest: status === 'incomplete' ? undefined : manifest, status, createdAt, bytes });
    }
    return entries.sort((a, b) => newestFirst(a.name, b.name));
  }

  /** Newest backup of `target` whose manifest says valid, if any. */
  newestValid(target: string): BackupEntry | undefined {
    return this.list(target).find((e) => e.status === 'valid');
  }

  /**
   * What a killed run of `target` left behind: its temporary files, and
   * manifests whose data file is gone (a kill between writing the manifest
   * and publishing the data, or between the two removals of rotation).
   */
  leftovers(target: string): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const present = new Set(names);
    const orphan = (n: string) => n.endsWith('.duckdb.json') && parseBackupName(n.slice(0, -'.json'.length))?.target === target && !present.has(n.slice(0, -'.json'.length));
    return names.filter((n) => tempFileTarget(n) === target || orphan(n)).map((n) => path.join(this.dir, n));
  }

  /**
   * Removes a backup: the data file first, then its manifest (a lone manifest
   * is ignored by list). Idempotent (a file already gone is fine); throws
   * the file system's error (EPERM for an immutable file, with its path)
   * for anything else, so the caller can report it.
   */
  remove(entry: BackupEntry): void {
    // unlink, not rmSync: rmSync turns an immutable file's EPERM into a misleading ENOTDIR
    for (const f of [entry.file, manifestPath(entry.file)]) {
      try {
        fs.unlinkSync(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

/**
 * `mkdir -p` that always terminates. Node 20's `mkdirSync(…, { recursive: true })`
 * loops forever when the kernel answers ENOENT for a folder whose parent
 * exists (e.g. under /proc). Creates each missing level in turn, with `mode`.
 */
function mkdirParents(dir: string, mode: number): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(cur);
    } catch (err) {
      // ENOTDIR: a parent is a file; walking up finds and names it
      if (!['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
    if (st?.isDirectory()) break;
    if (st) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${cur}'`), { code: 'ENOTDIR', path: cur });
    missing.push(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(d).isDirectory()) throw err;
    }
  }
}
