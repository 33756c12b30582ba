import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'date-fns/parse';
import { storageErrorFrom, StorageError } from '../core/errors';
import { manifestPath, readManifest, type Manifest } from './manifest';
import { newestFirst, parseBackupId, parseBackupName, type ParsedFileName } from './naming';
import { allExtensions } from '../engines/registry';
import { listStoreSnapshots, storeHas, type ListedSnapshot } from './store-listing';

export type BackupStatus = 'valid' | 'invalid' | 'incomplete';

/** Where a backup's bytes are: a plain file in backupDir, the local store, or both. */
export type BackupLocation = 'plain' | 'store' | 'plain+store';

export interface BackupEntry {
  id: string;
  target: string;
  file: string;
  name: ParsedFileName;
  manifest?: Manifest;
  status: BackupStatus;
  /** The manifest's `createdAt` (the name's stamp only when there is no manifest). */
  createdAt: Date;
  bytes: number;
  /**
   * True when `createdAt` lies ahead of the clock by more than FUTURE_TOLERANCE_MS
   * (made while the clock ran ahead, or edited): such a backup is listed last,
   * flagged, and never chosen as "latest" or "newest valid".
   */
  future: boolean;
  /** `plain`: only `file` exists; `store`: only the store snapshot (`file` does not exist); `plain+store`: both. */
  location: BackupLocation;
  /** The published store snapshot, when the backup is in the store. */
  snapshot?: ListedSnapshot;
  /** Status of the plain file alone (undefined when there is none): a damaged plain file does not hide a good store copy. */
  plainStatus?: BackupStatus;
}

/** How far ahead of the clock a backup may be dated before it counts as from the future (clock steps, hosts slightly apart). */
export const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;

/** Marks the temporary files of an unfinished backup: `.<id>.tmp` and the engine's side files beside it. */
export const TEMP_SUFFIX = '.tmp';

/**
 * The target of a temporary file that dbguard names, or undefined for any
 * other file: `.<id>.tmp` and the engine's side files beside it (`.<id>.tmp`
 * followed by `.` or `-` and a suffix: a copy in progress), and
 * `.<id><ext>.json.<pid>.tmp` (a manifest being written, `<ext>` a registered
 * engine's extension), where `<id>` is a backup id. Exact, so no other file —
 * nor another target's — is ever cleaned.
 */
export function tempFileTarget(fileName: string): string | undefined {
  const copy = /^\.(.+?)\.tmp(?:[.-].+)?$/.exec(fileName);
  const manifest = /^\.(.+)\.json\.\d+\.tmp$/.exec(fileName);
  if (manifest) {
    const parsed = parseBackupName(manifest[1]!);
    if (parsed) return parsed.target;
  }
  return copy ? parseBackupId(copy[1]!)?.target : undefined;
}

/**
 * The backup folder of one configuration: naming, listing, temporary files.
 * Only files that match the backup naming pattern are ever listed or removed.
 */
export class BackupRepository {
  constructor(readonly dir: string) {}

  /**
   * Creates the folder (mode 0700) and any missing parents if needed; an
   * existing folder keeps its mode (it may be shared on purpose). Returns a
   * warning when an existing folder is open to group or others. Throws
   * StorageError (exit 6) naming the folder when it cannot be created or written.
   */
  ensureDir(): { created: boolean; warning?: string } {
    let created = false;
    try {
      created = mkdirParents(this.dir, 0o700);
      // mkdir's mode is masked by the umask: make a folder we created exactly 0700
      if (created) fs.chmodSync(this.dir, 0o700);
      fs.accessSync(this.dir, fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = `set backupDir in the config (or DBGUARD_BACKUP_DIR) to a folder the user running dbguard can create and write`;
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new StorageError(`backup folder ${this.dir} cannot be created: ${(err as NodeJS.ErrnoException).path ?? 'a part of that path'} is a file, not a folder`, hint, 'bad-path').because(err);
      }
      const existed = !created && isDirectory(this.dir);
      const action = existed ? 'writing to the backup folder' : 'creating the backup folder';
      throw storageErrorFrom(err, this.dir, action) ??
        new StorageError(`backup folder ${this.dir} cannot be ${existed ? 'written' : 'created or written'}: ${(err as Error).message}`, hint).because(err);
    }
    if (created) return { created };
    const mode = fs.statSync(this.dir).mode & 0o777;
    if ((mode & 0o077) === 0) return { created };
    return { created, warning: `backup folder ${this.dir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); backups hold production data: chmod 700 ${this.dir} unless it is shared on purpose` };
  }

  /** The data file of backup `id` made by an engine whose backup extension is `ext` (with its dot). */
  fileOf(id: string, ext: string): string {
    return path.join(this.dir, `${id}${ext}`);
  }

  tempOf(id: string): string {
    return path.join(this.dir, `.${id}${TEMP_SUFFIX}`);
  }

  /** True when a backup of any registered extension, its manifest, a temporary file or a store snapshot already uses this id. */
  taken(id: string): boolean {
    const target = parseBackupId(id)?.target;
    return fs.existsSync(this.tempOf(id)) || allExtensions().some((ext) => fs.existsSync(this.fileOf(id, ext)) || fs.existsSync(manifestPath(this.fileOf(id, ext)))) ||
      (target !== undefined && storeHas(this.dir, id, target, allExtensions()));
  }

  /**
   * Backups of `target` (or of every target) with their status, newest first
   * by the manifest's `createdAt` (not the name's stamp); backups dated after
   * `now` (beyond FUTURE_TOLERANCE_MS) come last, flagged `future`. Plain
   * files and the local store's snapshots are merged by id (`location`). A
   * store snapshot's status is its manifest's (its blocks are proven by
   * verify); a backup in both places is valid when either copy is. Read-only.
   */
  list(target?: string, now: Date = new Date()): BackupEntry[] {
    const byId = new Map<string, BackupEntry>();
    for (const e of this.listPlain(target, now)) byId.set(e.id, e);
    for (const snap of listStoreSnapshots(this.dir, target)) {
      const m = snap.manifest;
      const status: BackupStatus = m.validation.status === 'valid' ? 'valid' : 'invalid';
      const plain = byId.get(snap.id);
      if (plain && plain.status !== 'incomplete') {
        const better = plain.status !== 'valid' && status === 'valid';
        byId.set(snap.id, { ...plain, location: 'plain+store', snapshot: snap, plainStatus: plain.status, ...(better ? { status, manifest: m, bytes: m.bytes } : {}) });
        continue;
      }
      const created = new Date(m.createdAt);
      const createdAt = Number.isNaN(created.getTime()) ? parse(snap.name.stamp, 'yyyyMMdd_HHmmss', new Date()) : created;
      byId.set(snap.id, {
        id: snap.id, target: snap.target, file: path.join(this.dir, snap.fileName), name: snap.name, manifest: m, status, createdAt, bytes: m.bytes,
        future: createdAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS, location: 'store', snapshot: snap, plainStatus: plain?.status,
      });
    }
    return [...byId.values()].sort((a, b) => Number(a.future) - Number(b.future) || b.createdAt.getTime() - a.createdAt.getTime() || newestFirst(a.name, b.name));
  }

  /** The plain files only (today's format), unsorted. */
  private listPlain(target: string | undefined, now: Date): BackupEntry[] {
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
      const fromManifest = status !== 'incomplete' && manifest?.createdAt ? new Date(manifest.createdAt) : undefined;
      const createdAt = fromManifest && !Number.isNaN(fromManifest.getTime()) ? fromManifest : parse(name.stamp, 'yyyyMMdd_HHmmss', new Date());
      const future = createdAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS;
      entries.push({ id: name.id, target: name.target, file, name, manifest: status === 'incomplete' ? undefined : manifest, status, createdAt, bytes, future, location: 'plain' });
    }
    return entries;
  }

  /** Newest backup of `target` whose manifest says valid and that is not dated in the future, if any. */
  newestValid(target: string, now: Date = new Date()): BackupEntry | undefined {
    return this.list(target, now).find((e) => e.status === 'valid' && !e.future);
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
    const orphan = (n: string) => n.endsWith('.json') && parseBackupName(n.slice(0, -'.json'.length))?.target === target && !present.has(n.slice(0, -'.json'.length));
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
 * Returns true when it created `dir` itself.
 */
function mkdirParents(dir: string, mode: number): boolean {
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
      // another process made it first: then it is not ours to chmod
      if (d === missing[missing.length - 1]) return false;
    }
  }
  return missing.length > 0;
}

const isDirectory = (p: string) => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };
