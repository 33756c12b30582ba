/**
 * The `Store` facade (README "Store format (dbguard-store/1)"): one class for
 * the local store and the remote one, written against ObjectBackend.
 * Locking is the caller's: ingest + publish + removeSnapshot under
 * `lockShared`; `collect` takes the exclusive lock itself.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { IntegrityError, StorageError } from '../../core/errors';
import type { ChunkPlan } from '../../engines/engine';
import { MANIFEST_FORMAT, type Manifest } from '../manifest';
import { createIfAbsent, isMissing, type ObjectBackend } from './backend';
import { checkStore, type StoreCheckOptions, type StoreCheckResult } from './check';
import { collectStore, type CollectOptions, type CollectResult } from './collect';
import {
  assertSafeName, blocksKey, CONFIG_KEY, encodeBlockList, manifestKey, PACK_TARGET_BYTES, packIdOfKey, snapshotKeyParts, STORE_FORMAT, storeIoError, storePartOf,
  type BlockRef, type StoreConfig, type StoreManifest,
} from './format';
import { fileChunks, ingest, type IngestOptions, type IngestResult } from './ingest';
import { LocalBackend } from './local-backend';
import { PackIndex } from './pack-index';
import { materialiseSnapshot } from './materialise';
import { readSnapshotBlocks, type StoreSnapshot } from './read';
import { LocalStoreLocker, ObjectStoreLocker, type StoreLock, type StoreLocker } from './store-lock';

export interface StoreOpenOptions {
  /** Create the store (config.json) when the location is empty. */
  create?: boolean;
  /** The caller reads through an encrypting backend; a store whose config says encrypted refuses to open without it, and the reverse. */
  encrypted?: boolean;
  /** config.json's `encryption` member for a new encrypted store (the remote layer fills it). */
  encryption?: StoreConfig['encryption'];
  /** Pack target size (default 32 MiB); tests use small packs. */
  packBytes?: number;
  /** Lock implementation (default: files in `locks/` for a LocalBackend, lock objects otherwise). */
  locker?: StoreLocker;
}

export class Store {
  private readonly index: PackIndex;

  private constructor(
    readonly backend: ObjectBackend,
    readonly config: StoreConfig,
    private readonly packBytes: number,
    private readonly locker: StoreLocker,
  ) {
    this.index = new PackIndex(backend);
  }

  /**
   * Opens the store at `backend`. With `create`, an empty location gets a
   * new config.json. Throws StorageError (exit 6), touching nothing, when
   * the location holds objects but no config.json (another tool's objects),
   * when config.json is of another format or unreadable, when encryption
   * does not match, or when there is no store and `create` is not set.
   */
  static async open(backend: ObjectBackend, opts: StoreOpenOptions = {}): Promise<Store> {
    let config: StoreConfig | undefined;
    let raw: Buffer | undefined;
    try {
      raw = await backend.get(CONFIG_KEY);
    } catch (err) {
      if (!isMissing(err)) throw storeIoError(err, backend.where, CONFIG_KEY, 'reading');
    }
    if (raw) {
      try {
        config = JSON.parse(raw.toString('utf8')) as StoreConfig;
      } catch {
        throw new StorageError(`${backend.where}/${CONFIG_KEY} is not JSON: this is not a dbguard store, or its config.json is damaged`, `point dbguard at another folder; nothing there was touched`, 'store-foreign');
      }
      if (config?.format !== STORE_FORMAT) {
        throw new StorageError(`${backend.where}/${CONFIG_KEY} is of format ${JSON.stringify(config?.format)}, not ${STORE_FORMAT}: this dbguard cannot read that store`, `use the dbguard version that wrote it, or point storage elsewhere; nothing was touched`, 'store-format');
      }
    } else {
      let objects;
      try {
        objects = await backend.list('');
      } catch (err) {
        throw storeIoError(err, backend.where, '', 'listing');
      }
      if (objects.length > 0) {
        throw new StorageError(`${backend.where} holds ${objects.length} objects (e.g. ${objects[0]!.key}) but no ${CONFIG_KEY}: they are another tool's objects, not a dbguard store`, 'point dbguard at an empty location or an existing dbguard store; nothing was touched', 'store-foreign');
      }
      if (!opts.create) throw new StorageError(`there is no dbguard store at ${backend.where}`, 'make a backup in blocks format first (storage.format "blocks"), or check the path', 'store-missing');
      config = { format: STORE_FORMAT, createdAt: new Date().toISOString(), hash: 'sha256', encryption: opts.encryption ?? null };
      let created = true;
      try {
        const text = Buffer.from(`${JSON.stringify(config, null, 2)}\n`);
        created = await createIfAbsent(backend, CONFIG_KEY, text);
      } catch (err) {
        throw storeIoError(err, backend.where, CONFIG_KEY, 'writing');
      }
      // another run created the store first: its config.json (its encryption parameters) stands
      if (!created) return Store.open(backend, { ...opts, create: false });
    }
    if (!!config.encryption !== !!opts.encrypted) {
      throw new StorageError(
        config.encryption ? `the store at ${backend.where} is encrypted` : `the store at ${backend.where} is not encrypted, but encryption was asked for`,
        config.encryption ? 'set DBGUARD_REMOTE_KEY and remote.encryption true' : 'set remote.encryption to false for this store, or use a new location',
        'store-encryption',
      );
    }
    const locker = opts.locker ?? (backend instanceof LocalBackend ? new LocalStoreLocker(backend.pathOf('locks')) : new ObjectStoreLocker(backend));
    return new Store(backend, config, opts.packBytes ?? PACK_TARGET_BYTES, locker);
  }

  /** A shared lock (ingest, publish, remove): many at once; BusyError (exit 5) while an exclusive holder lives. */
  lockShared(command: string): Promise<StoreLock> {
    return this.locker.shared(command);
  }

  /** The exclusive lock (collect): BusyError (exit 5) naming a live holder of any lock. */
  lockExclusive(command: string): Promise<StoreLock> {
    return this.locker.exclusive(command);
  }

  /** Cuts, hashes, dedups and packs `file` in one read; does NOT publish. Caller holds a shared lock. */
  async ingestFile(file: string, plan: ChunkPlan, opts: IngestOptions = {}): Promise<IngestResult> {
    let total = opts.totalBytes;
    if (total === undefined) total = await fs.promises.stat(file).then((s) => s.size, () => 0);
    return this.ingestStream(fileChunks(file, opts.signal), plan, { ...opts, totalBytes: total });
  }

  /** Same from a stream of bytes (buffers of any size). Caller holds a shared lock. */
  async ingestStream(stream: AsyncIterable<Buffer>, plan: ChunkPlan, opts: IngestOptions = {}): Promise<IngestResult> {
    await this.index.refresh(opts.signal);
    await this.index.checkPresence(opts.signal);
    return ingest(this.backend, this.index, stream, plan, this.packBytes, opts);
  }

  /**
   * Publishes an ingested file: puts `.blocks`, then the manifest (with its
   * `store` part and the ingest's bytes/sha256): writing the manifest is the
   * publication. Throws IntegrityError when `manifest` names other bytes
   * than the ingest read or a block is no longer in the store, StorageError
   * when a put fails (then nothing is published) or a different snapshot of
   * that name is published already. Idempotent for the same bytes (returns
   * the published snapshot). Caller holds a shared lock.
   */
  async publish(target: string, fileName: string, manifest: Manifest, result: IngestResult): Promise<StoreSnapshot> {
    assertSafeName('target', target);
    assertSafeName('file name', fileName);
    if ((manifest.sha256 && manifest.sha256 !== result.sha256) || (manifest.bytes && manifest.bytes !== result.bytes)) {
      throw new IntegrityError(`the manifest of ${target}/${manifest.id} says ${manifest.bytes} bytes, sha256 ${manifest.sha256}, but the bytes stored were ${result.bytes} bytes, sha256 ${result.sha256}: the file changed while it was stored`, 'make the backup again', 'store-publish-mismatch');
    }
    await this.index.refresh();
    const lost = result.blocks.find((b) => !this.index.has(b.hash));
    if (lost) throw new IntegrityError(`block ${lost.hash} of ${target}/${manifest.id} is no longer in the store ${this.backend.where}: it was removed while the backup was stored`, 'make the backup again (hold the shared store lock from ingest to publish)', 'store-publish-lost');
    const list = encodeBlockList(result.blocks);
    const listSha = crypto.createHash('sha256').update(list).digest('hex');
    // Never rewrite a published snapshot: a kill between its two puts would pair the old manifest with a new block list.
    const existing = await this.readSnapshot(target, fileName);
    if (existing) {
      if (existing.manifest.sha256 === result.sha256 && existing.manifest.store.blocksSha256 === listSha) return existing;
      throw new StorageError(`the store ${this.backend.where} already holds a different backup ${target}/${fileName}`, `remove that backup first (dbguard prune), or publish under another name; nothing was changed`, 'store-snapshot-exists');
    }
    const full: StoreManifest = {
      ...manifest,
      bytes: result.bytes,
      sha256: result.sha256,
      store: { blocks: `${fileName}.blocks`, blocksSha256: listSha, blockCount: result.blocks.length, chunking: result.chunking },
    };
    await this.putOrThrow(blocksKey(target, fileName), list);
    await this.putOrThrow(manifestKey(target, fileName), Buffer.from(`${JSON.stringify(full, null, 2)}\n`));
    return { target, id: manifest.id, fileName, manifest: full };
  }

  /**
   * The blocks of `blocks` that no longer have a copy in a pack that exists
   * (index present AND pack object listed): what a run beside a collect must
   * store again before it publishes. Read-only. Throws StorageError when the
   * store cannot be listed.
   */
  async missingBlocks(blocks: readonly BlockRef[], signal?: AbortSignal): Promise<BlockRef[]> {
    await this.index.refresh(signal);
    let listed;
    try {
      listed = await this.backend.list('packs/', signal);
    } catch (err) {
      throw storeIoError(err, this.backend.where, 'packs/', 'listing');
    }
    const packs = new Set(listed.map((o) => packIdOfKey(o.key)).filter((id): id is string => id !== undefined));
    return blocks.filter((b) => !this.index.locate(b.hash).some((l) => packs.has(l.pack)));
  }

  /** Published snapshots (of `target`, or all), newest first per target; manifests read and checked, unreadable ones skipped (check reports them). Throws StorageError when the store cannot be listed or read. */
  async snapshots(target?: string): Promise<StoreSnapshot[]> {
    return (await this.scan(target)).snaps;
  }

  private async scan(target?: string): Promise<{ snaps: StoreSnapshot[]; unreadable: string[] }> {
    if (target !== undefined) assertSafeName('target', target);
    const prefix = target === undefined ? 'snapshots/' : `snapshots/${target}/`;
    let listed;
    try {
      listed = await this.backend.list(prefix);
    } catch (err) {
      throw storeIoError(err, this.backend.where, prefix, 'listing');
    }
    const snaps: StoreSnapshot[] = [];
    const unreadable: string[] = [];
    for (const o of listed) {
      const parts = snapshotKeyParts(o.key);
      if (parts?.kind !== 'manifest') continue;
      const snap = await this.readSnapshot(parts.target, parts.fileName);
      if (snap) snaps.push(snap);
      else unreadable.push(o.key);
    }
    snaps.sort((a, b) => (a.target === b.target ? b.manifest.createdAt.localeCompare(a.manifest.createdAt) : a.target.localeCompare(b.target)));
    return { snaps, unreadable };
  }

  /** One snapshot by target and file name; undefined when absent or its manifest is not a store manifest. */
  async readSnapshot(target: string, fileName: string): Promise<StoreSnapshot | undefined> {
    const key = manifestKey(target, fileName);
    let data: Buffer;
    try {
      data = await this.backend.get(key);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw storeIoError(err, this.backend.where, key, 'reading');
    }
    let m: StoreManifest;
    try {
      m = JSON.parse(data.toString('utf8')) as StoreManifest;
    } catch {
      return undefined;
    }
    if (m?.format !== MANIFEST_FORMAT || typeof m.id !== 'string' || !m.validation || !storePartOf(m)) return undefined;
    return { target, id: m.id, fileName, manifest: m };
  }

  /** Every block of a snapshot, in order, each checked against its hash (IntegrityError naming pack + offset otherwise). */
  readBlocks(snap: StoreSnapshot, opts: { signal?: AbortSignal } = {}): AsyncIterable<Buffer> {
    return readSnapshotBlocks(this.backend, this.index, snap, opts.signal);
  }

  /** Writes the snapshot into `dest` (0600), every block hash-checked, fsynced, whole sha256 checked; removes `dest` on any failure. */
  materialise(snap: StoreSnapshot, dest: string, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<{ bytes: number; sha256: string }> {
    return materialiseSnapshot(this.backend, this.index, snap, dest, opts);
  }

  /** verify: see StoreCheckResult. Never modifies the store. */
  async check(opts: StoreCheckOptions = {}): Promise<StoreCheckResult> {
    const scanned = opts.snapshots ? { snaps: opts.snapshots, unreadable: [] } : await this.scan();
    const result = await checkStore(this.backend, this.index, scanned.snaps, opts, { sealed: !!this.config.encryption });
    for (const key of scanned.unreadable) {
      result.findings.push({ severity: 'error', code: 'store-manifest-unreadable', message: `the manifest ${key} in ${this.backend.where} is unreadable or not a store manifest: that backup cannot be listed or restored`, hint: 'restore from another backup; the next prune keeps its blocks until the manifest is removed' });
      result.ok = false;
    }
    return result;
  }

  /** Removes a snapshot: manifest first (unpublishes), then `.blocks`. Idempotent. Caller holds a shared lock. */
  async removeSnapshot(snap: { target: string; fileName: string }): Promise<void> {
    for (const key of [manifestKey(snap.target, snap.fileName), blocksKey(snap.target, snap.fileName)]) {
      try {
        await this.backend.delete(key);
      } catch (err) {
        throw storeIoError(err, this.backend.where, key, 'removing');
      }
    }
  }

  /** GC + repack under the exclusive lock (taken here; BusyError while any holder lives). See CollectResult. */
  async collect(opts: CollectOptions & { lock?: boolean } = {}): Promise<CollectResult> {
    // lock false: the caller runs beside shared holders and protects their work with keepNewerThan (prune --remote)
    if (opts.lock === false) return collectStore(this.backend, this.index, this.packBytes, opts);
    const lock = await this.lockExclusive(opts.dryRun ? 'collect --dry-run' : 'collect');
    try {
      return await collectStore(this.backend, this.index, this.packBytes, opts);
    } finally {
      await lock.release();
    }
  }

  /** Stored bytes (packs + indexes + block lists + manifests) and the sum of the snapshots' logical bytes. */
  async stats(): Promise<{ storedBytes: number; logicalBytes: number; packs: number; blocks: number; snapshots: number }> {
    let storedBytes = 0;
    let packs = 0;
    for (const prefix of ['packs/', 'index/', 'snapshots/']) {
      for (const o of await this.backend.list(prefix).catch((err) => { throw storeIoError(err, this.backend.where, prefix, 'listing'); })) {
        storedBytes += o.bytes;
        if (prefix === 'packs/') packs++;
      }
    }
    const snaps = await this.snapshots();
    await this.index.refresh();
    return { storedBytes, logicalBytes: snaps.reduce((n, s) => n + s.manifest.bytes, 0), packs, blocks: this.index.blockCount, snapshots: snaps.length };
  }

  private async putOrThrow(key: string, data: Buffer): Promise<void> {
    try {
      await this.backend.put(key, data);
    } catch (err) {
      throw storeIoError(err, this.backend.where, key, 'writing');
    }
  }
}
