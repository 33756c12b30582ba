import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbguardError, StorageError, storageErrorFrom } from '../core/errors';
import { failpoint, pausepoint } from '../storage/failpoint';
import { adoptReplacement, prepareReplacement, tempNameFor, type FileOwner, type Prepared } from '../storage/place';
import type { BackupEntry } from '../storage/repository';
import { openLocalStore, plainUsable, snapshotOf, withStoreLock } from './store-access';

export interface SourceOptions {
  signal?: AbortSignal;
  /** How long to wait for the store's lock (prune's collect holds it exclusively). */
  waitMs?: number;
  onProgress?: (done: number, total: number) => void;
  /** Read the store copy even when the plain file is there (its verification failed). */
  fromStore?: boolean;
}

/**
 * Writes the bytes of backup `entry` into `dest` (created 0600): from the
 * store, under its shared lock, every block hash-checked, fsynced, the whole
 * sha256 checked against the manifest (Store.materialise). Never leaves a
 * partial `dest` on failure. Throws IntegrityError (4) for damaged blocks,
 * BusyError (5) while a collect holds the store, StorageError (6).
 */
export async function materialiseEntry(backupDir: string, entry: BackupEntry, dest: string, opts: SourceOptions = {}): Promise<void> {
  const snap = snapshotOf(entry);
  if (!snap) throw new StorageError(`${entry.id} is not in the store under ${backupDir}`, `dbguard list ${entry.target} shows where each backup is`);
  const store = await openLocalStore(backupDir);
  await withStoreLock(store, 'shared', `restore ${entry.target}`, async () => {
    await pausepoint('materialise', opts.signal);
    try {
      // failpoint `materialising`: after the first blocks are written (tests kill the restore mid-write)
      await store.materialise(snap, dest, { signal: opts.signal, onProgress: (d, t) => { failpoint('materialising', dest); opts.onProgress?.(d, t); } });
    } catch (err) {
      fs.rmSync(dest, { force: true });
      if (err instanceof DbguardError) throw err;
      throw storageErrorFrom(err, dest, `writing backup ${entry.id} from the store into`) ?? err;
    }
  }, opts);
}

/**
 * Step one of putting backup `entry` in place at `dest` (see storage/place.ts):
 * a fsynced file at a temporary name beside `dest` with `owner`'s mode,
 * copied from the plain file when it is there and matches its manifest,
 * else materialised from the store. Nothing at `dest` changes; no temporary
 * file is left on failure. `fromStore` says which, because a copy from the
 * store has not been read by the engine yet.
 */
export async function prepareFromBackup(backupDir: string, entry: BackupEntry, dest: string, owner: FileOwner | undefined, opts: SourceOptions = {}): Promise<Prepared & { fromStore: boolean }> {
  if (!opts.fromStore && plainUsable(entry)) return { ...(await prepareReplacement(entry.file, dest, owner)), fromStore: false };
  const tmp = tempNameFor(dest);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.rmSync(tmp, { force: true });
  await materialiseEntry(backupDir, entry, tmp, opts);
  return { ...adoptReplacement(tmp, dest, owner), fromStore: true };
}
