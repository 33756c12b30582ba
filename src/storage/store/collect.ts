/**
 * collect (GC + repack), run under the exclusive store lock. Kill-safe at
 * every step because of its order: unreferenced objects go index first,
 * then pack (a kill leaves a pack without index: garbage); a repack writes
 * the new packs and their indexes, durably, before the old index and then
 * the old pack are deleted (a kill leaves duplicates). No step ever leaves a
 * published snapshot with a block that is in no pack.
 */
import * as crypto from 'node:crypto';
import { IntegrityError, InterruptedError } from '../../core/errors';
import { failpoint } from '../failpoint';
import { isMissing, type ObjectBackend } from './backend';
import { blocksKey, indexKey, manifestKey, packIdOfIndexKey, packIdOfKey, packKey, snapshotKeyParts, storeIoError, storePartOf } from './format';
import type { PackIndex } from './pack-index';
import { PackWriter } from './pack-writer';

export interface CollectOptions {
  /** Repack packs whose live share (bytes) is below this (default 0.5; 0 never repacks). */
  repackBelow?: number;
  /** Plan only: nothing is written or deleted. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /**
   * Never delete or repack a pack, index or block list whose object was
   * written at or after this time (the backend's clock): the work of runs
   * still in progress (a remote push). Used by `prune --remote`, which runs
   * beside pushes instead of under the exclusive lock.
   */
  keepNewerThan?: Date;
  /**
   * Asked before every deletion: a reason to stop (a push started meanwhile)
   * ends the collect there, with that reason in `problems`. What was done
   * before stays done and is consistent; the next collect finishes the job.
   */
  beforeDelete?: () => Promise<string | undefined>;
}

export interface CollectResult {
  dryRun: boolean;
  /** Packs removed because no snapshot references any of their blocks (or they had no index). */
  deletedPacks: string[];
  /** Index objects removed (of deleted or repacked packs, or whose pack is gone). */
  deletedIndexes: number;
  /** `.blocks` objects without a manifest that were removed (keys). */
  deletedBlockLists: string[];
  /** Packs rewritten because their live share was below repackBelow (deleted after their live blocks were copied). */
  repackedPacks: string[];
  /** New packs written by the repack. */
  writtenPacks: string[];
  /** Bytes freed (deleted objects minus new packs). */
  freedBytes: number;
  /** Temporary files of killed writes that were removed (local store). */
  removedTemporaries: number;
  /** Things collect left alone and why (unreadable index, damaged block in a pack to repack…). */
  problems: string[];
}

const HEX64 = /[0-9a-f]{64}/g;

interface Sweeper { sweepTemporaries(): Promise<number> }
const canSweep = (b: ObjectBackend): b is ObjectBackend & Sweeper => typeof (b as Partial<Sweeper>).sweepTemporaries === 'function';

/**
 * Runs one collect; the caller holds the exclusive lock. Throws StorageError
 * when the store cannot be listed, read or changed (what was done before
 * stays done and is consistent), InterruptedError on abort between steps.
 */
export async function collectStore(backend: ObjectBackend, index: PackIndex, packBytes: number, opts: CollectOptions): Promise<CollectResult> {
  const result: CollectResult = { dryRun: Boolean(opts.dryRun), deletedPacks: [], deletedIndexes: 0, deletedBlockLists: [], repackedPacks: [], writtenPacks: [], freedBytes: 0, removedTemporaries: 0, problems: [] };
  try {
    return await collectInto(result, backend, index, packBytes, opts);
  } catch (err) {
    if (!(err instanceof CollectStopped)) throw err;
    result.problems.push(`stopped before removing ${err.key}: ${err.message}; nothing needed was removed, and the next prune finishes the job`);
    return result;
  }
}

/** Thrown inside collect when `beforeDelete` gives a reason to stop. */
class CollectStopped extends Error {
  constructor(message: string, readonly key: string) { super(message); }
}

async function collectInto(result: CollectResult, backend: ObjectBackend, index: PackIndex, packBytes: number, opts: CollectOptions): Promise<CollectResult> {
  const { signal, dryRun = false } = opts;
  const repackBelow = opts.repackBelow ?? 0.5;
  const step = () => { if (signal?.aborted) throw new InterruptedError('collect interrupted; what it did so far is consistent, run it again to finish'); };
  const io = <T>(p: Promise<T>, key: string, action: string) => p.catch((err) => { throw storeIoError(err, backend.where, key, action); });
  const del = async (key: string) => {
    step();
    const stop = await opts.beforeDelete?.();
    if (stop) throw new CollectStopped(stop, key);
    await io(backend.delete(key, signal), key, 'removing');
  };

  if (!dryRun && canSweep(backend)) result.removedTemporaries = await io(backend.sweepTemporaries(), '', 'removing temporary files in');
  await index.refresh(signal);
  for (const [key, why] of index.unreadable) result.problems.push(`kept ${key} and its pack: the index is unreadable (${why})`);
  const unreadablePacks = new Set([...index.unreadable.keys()].map((k) => packIdOfIndexKey(k)!));

  // Live blocks: every hash any block list of a manifest names. Read leniently (every sha256-looking token),
  // so a damaged list still protects every block it can name.
  const snapObjects = await io(backend.list('snapshots/', signal), 'snapshots/', 'listing');
  const manifests = new Set<string>();
  const lists = new Map<string, number>();
  const cutoff = opts.keepNewerThan?.getTime();
  const young = (o: { modifiedAt: Date }) => cutoff !== undefined && o.modifiedAt.getTime() >= cutoff;
  for (const o of snapObjects) {
    const p = snapshotKeyParts(o.key);
    if (p?.kind === 'manifest') manifests.add(`${p.target}/${p.fileName}`);
    else if (p?.kind === 'blocks' && !young(o)) lists.set(`${p.target}/${p.fileName}`, o.bytes);
  }
  const live = new Set<string>();
  for (const name of manifests) {
    step();
    const [target, fileName] = name.split('/') as [string, string];
    let data: Buffer;
    try {
      data = await backend.get(blocksKey(target, fileName), signal);
    } catch (err) {
      if (isMissing(err)) { result.problems.push(`backup ${name} has no block list ${blocksKey(target, fileName)}: it cannot be restored`); continue; }
      throw storeIoError(err, backend.where, blocksKey(target, fileName), 'reading');
    }
    // the manifest only serves to check the list; unreadable, it protects the list's blocks all the same
    const manifest = await backend.get(manifestKey(target, fileName), signal).then((b) => { try { return JSON.parse(b.toString('utf8')) as unknown; } catch { return undefined; } }, () => undefined);
    const part = storePartOf(manifest);
    if (part && crypto.createHash('sha256').update(data).digest('hex') !== part.blocksSha256) result.problems.push(`the block list ${blocksKey(target, fileName)} is damaged; every block it still names was kept`);
    for (const m of data.toString('latin1').matchAll(HEX64)) live.add(m[0]);
  }

  // 1. Block lists without a manifest (a publish killed between the two puts, or a removal half done).
  for (const [name, bytes] of lists) {
    if (manifests.has(name)) continue;
    const [target, fileName] = name.split('/') as [string, string];
    if (!dryRun) await del(blocksKey(target, fileName));
    result.deletedBlockLists.push(blocksKey(target, fileName));
    result.freedBytes += bytes;
  }

  // 2. Packs no snapshot needs, packs without an index, indexes without a pack.
  const stored = new Map<string, number>();
  const protectedPacks = new Set<string>();
  for (const o of await io(backend.list('packs/', signal), 'packs/', 'listing')) {
    const id = packIdOfKey(o.key);
    if (id && young(o)) protectedPacks.add(id);
    else if (id) stored.set(id, o.bytes);
  }
  const indexBytes = new Map<string, number>();
  for (const o of await io(backend.list('index/', signal), 'index/', 'listing')) {
    const id = packIdOfIndexKey(o.key);
    if (id && young(o)) protectedPacks.add(id);
    else if (id) indexBytes.set(id, o.bytes);
  }
  const candidates: string[] = [];
  const keep = new Set<string>();
  for (const id of index.packIds()) {
    const file = index.pack(id)!;
    if (protectedPacks.has(id)) { keep.add(id); continue; }
    if (!stored.has(id)) {
      if (!dryRun) await del(indexKey(id));
      index.drop(id);
      result.deletedIndexes++;
      result.freedBytes += indexBytes.get(id) ?? 0;
      continue;
    }
    let liveBytes = 0;
    for (const [hash, , length] of file.blocks) if (live.has(hash)) liveBytes += length;
    if (liveBytes === 0) {
      if (!dryRun) { await del(indexKey(id)); await del(packKey(id)); index.drop(id); }
      result.deletedIndexes++;
      result.deletedPacks.push(id);
      result.freedBytes += (indexBytes.get(id) ?? 0) + stored.get(id)!;
    } else if (liveBytes < repackBelow * file.bytes) {
      candidates.push(id);
    } else {
      keep.add(id);
    }
  }
  for (const [id, bytes] of stored) {
    if (index.pack(id) || unreadablePacks.has(id) || indexBytes.has(id) || protectedPacks.has(id)) continue;
    if (!dryRun) await del(packKey(id));
    result.deletedPacks.push(id);
    result.freedBytes += bytes;
  }

  // 3. Repack: copy the live blocks that no kept pack holds into new packs, durable, then delete the old ones.
  if (dryRun) {
    for (const id of candidates) {
      result.repackedPacks.push(id);
      const file = index.pack(id)!;
      result.freedBytes += stored.get(id)! - file.blocks.reduce((n, [h, , l]) => n + (live.has(h) ? l : 0), 0);
    }
    return result;
  }
  const writer = new PackWriter(backend, index, packBytes, signal);
  const copied = new Set<string>();
  const repacked: string[] = [];
  for (const id of candidates) {
    step();
    let data: Buffer;
    try {
      data = await backend.get(packKey(id), signal);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw storeIoError(err, backend.where, packKey(id), 'reading');
      result.problems.push(`kept ${packKey(id)} without repacking it: ${err.message}`);
      continue;
    }
    const wanted = index.pack(id)!.blocks.filter(([h]) => live.has(h) && !copied.has(h) && !index.locate(h).some((l) => keep.has(l.pack)));
    const bad = wanted.find(([h, off, len]) => off + len > data.length || crypto.createHash('sha256').update(data.subarray(off, off + len)).digest('hex') !== h);
    if (bad) {
      result.problems.push(`kept ${packKey(id)} without repacking it: its block ${bad[0]} at offset ${bad[1]} is damaged (run dbguard verify)`);
      continue;
    }
    for (const [h, off, len] of wanted) {
      await writer.add(h, data.subarray(off, off + len));
      copied.add(h);
    }
    repacked.push(id);
  }
  await writer.flush();
  failpoint('store-collect-repacked');
  for (const id of writer.written) {
    result.writtenPacks.push(id);
    result.freedBytes -= index.pack(id)?.bytes ?? 0;
  }
  for (const id of repacked) {
    await del(indexKey(id));
    await del(packKey(id));
    index.drop(id);
    result.repackedPacks.push(id);
    result.deletedIndexes++;
    result.freedBytes += (indexBytes.get(id) ?? 0) + stored.get(id)!;
  }
  return result;
}
