/** The dedup store (dbguard-store/1): everything s2 and the remote layer use. */
export { isMissing, type ObjectBackend, type ObjectInfo } from './backend';
export {
  STORE_FORMAT, DEFAULT_CHUNK_PLAN, PACK_TARGET_BYTES, localStoreDir,
  type BlockRef, type StoreConfig, type StoreManifestPart, type StoreManifest, type PackIndexFile,
} from './format';
export { LocalBackend } from './local-backend';
export type { IngestResult, IngestOptions } from './ingest';
export type { StoreSnapshot } from './read';
export type { StoreCheckOptions, StoreCheckResult, StoreFinding, SnapshotRef } from './check';
export type { CollectOptions, CollectResult } from './collect';
export { LocalStoreLocker, ObjectStoreLocker, type StoreLock, type StoreLocker } from './store-lock';
export { Store, type StoreOpenOptions } from './store';
