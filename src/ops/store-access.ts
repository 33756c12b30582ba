import * as fs from 'node:fs';
import type { Config } from '../config/load';
import { retryWhileBusy } from '../core/retry';
import type { ChunkPlan, Engine } from '../engines/engine';
import { DEFAULT_CHUNK_PLAN, LocalBackend, localStoreDir, Store, type StoreSnapshot } from '../storage/store';
import type { BackupEntry } from '../storage/repository';

/** The chunking of `file` by its engine, else fixed 256 KiB. Never throws for a plan the engine cannot give. */
export function chunkPlanOf(engine: Engine, file: string): ChunkPlan {
  try {
    return engine.chunking?.(file) ?? DEFAULT_CHUNK_PLAN;
  } catch {
    return DEFAULT_CHUNK_PLAN;
  }
}

/** True when the configuration keeps history in the store. */
export const blocksFormat = (config: Config) => config.storage.format === 'blocks';

/** True when a local store exists under backupDir (whatever the configured format: backups made before a switch stay readable). */
export const localStoreExists = (backupDir: string) => fs.existsSync(localStoreDir(backupDir));

/**
 * Opens the local store under `backupDir` (creating it when `create`).
 * Throws StorageError for another tool's objects or another format (the store's own checks).
 */
export function openLocalStore(backupDir: string, create = false): Promise<Store> {
  return Store.open(new LocalBackend(localStoreDir(backupDir)), { create });
}

/**
 * Runs `fn` holding the store's shared (ingest, publish, read, remove a
 * snapshot) or exclusive (collect) lock, waiting up to `waitMs` while it is
 * busy (BusyError, exit 5, naming the holder, after that). Always releases.
 */
export async function withStoreLock<T>(store: Store, kind: 'shared' | 'exclusive', command: string, fn: () => Promise<T>, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  const lock = await retryWhileBusy(() => (kind === 'shared' ? store.lockShared(command) : store.lockExclusive(command)), opts.waitMs ?? 0, opts.signal);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** The store snapshot of a listed backup, as the facade takes it (undefined for a plain-only backup). */
export function snapshotOf(entry: BackupEntry): StoreSnapshot | undefined {
  const s = entry.snapshot;
  return s && { target: s.target, id: s.id, fileName: s.fileName, manifest: s.manifest } as StoreSnapshot;
}

/** True when the plain file of `entry` is there and matches its manifest (then it is read instead of the store). */
export const plainUsable = (entry: BackupEntry) => entry.location !== 'store' && (entry.plainStatus ?? entry.status) === 'valid';
