/**
 * Reading snapshots back: the block list (checked against the manifest's
 * blocksSha256), each block from any of its copies (checked against its
 * hash). materialise.ts writes a whole file from these.
 */
import * as crypto from 'node:crypto';
import { IntegrityError, InterruptedError } from '../../core/errors';
import { isMissing, type ObjectBackend } from './backend';
import { blocksKey, packKey, parseBlockList, storeIoError, type BlockRef, type StoreManifest } from './format';
import type { PackIndex } from './pack-index';

/** A published snapshot of the store. */
export interface StoreSnapshot {
  target: string;
  id: string;
  /** `<id><ext>`: the object names are `snapshots/<target>/<fileName>.json|.blocks`. */
  fileName: string;
  manifest: StoreManifest;
}

/** A backend that can read part of an object (LocalBackend; S3 with Range). */
export interface RangeBackend extends ObjectBackend {
  getRange(key: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
}
export const hasRange = (b: ObjectBackend): b is RangeBackend => typeof (b as Partial<RangeBackend>).getRange === 'function';

export const snapName = (s: { target: string; id: string }) => `${s.target}/${s.id}`;

export const RESTORE_HINT = 'run `dbguard verify` to see every backup this affects, and restore from another backup';

/**
 * The block list of `snap`, checked against the manifest (sha256 and count).
 * Throws IntegrityError when it is missing or does not match, StorageError
 * when it cannot be read.
 */
export async function loadBlockList(backend: ObjectBackend, snap: StoreSnapshot, signal?: AbortSignal): Promise<BlockRef[]> {
  const key = blocksKey(snap.target, snap.fileName);
  let data: Buffer;
  try {
    data = await backend.get(key, signal);
  } catch (err) {
    if (isMissing(err)) throw new IntegrityError(`the block list ${key} of backup ${snapName(snap)} is missing from the store ${backend.where}`, RESTORE_HINT, 'store-blocks-missing');
    throw storeIoError(err, backend.where, key, 'reading');
  }
  const sha = crypto.createHash('sha256').update(data).digest('hex');
  if (sha !== snap.manifest.store.blocksSha256) throw new IntegrityError(`the block list ${key} of backup ${snapName(snap)} in ${backend.where} is damaged: its sha256 is ${sha}, the manifest says ${snap.manifest.store.blocksSha256}`, RESTORE_HINT, 'store-blocks-damaged');
  let blocks: BlockRef[];
  try {
    blocks = parseBlockList(data);
  } catch (err) {
    throw new IntegrityError(`the block list ${key} of backup ${snapName(snap)} in ${backend.where} is unreadable: ${(err as Error).message}`, RESTORE_HINT, 'store-blocks-damaged');
  }
  if (blocks.length !== snap.manifest.store.blockCount) throw new IntegrityError(`the block list ${key} of backup ${snapName(snap)} has ${blocks.length} blocks, the manifest says ${snap.manifest.store.blockCount}`, RESTORE_HINT, 'store-blocks-damaged');
  return blocks;
}

/**
 * Reads one block from any of its copies, checking its hash. Throws
 * IntegrityError naming the pack and offset when no copy is intact (missing
 * pack, short pack, wrong hash), StorageError when the backend fails
 * otherwise (that is "could not read", never damage).
 */
export class BlockReader {
  private cached: { pack: string; data: Buffer } | undefined;

  constructor(private readonly backend: ObjectBackend, private readonly index: PackIndex) {}

  async read(block: BlockRef, context: string, signal?: AbortSignal): Promise<Buffer> {
    const locs = this.index.locate(block.hash);
    if (locs.length === 0) throw new IntegrityError(`block ${block.hash} (${context}) is in no pack of the store ${this.backend.where}: no index lists it`, RESTORE_HINT, 'store-block-missing');
    let problem = '';
    for (const loc of locs) {
      const key = packKey(loc.pack);
      let data: Buffer;
      try {
        data = await this.range(key, loc.pack, loc.offset, loc.length, signal);
      } catch (err) {
        if (isMissing(err)) { problem = `pack ${key} is missing`; continue; }
        if ((err as NodeJS.ErrnoException).code === 'ESHORT') { problem = `pack ${key} is truncated (it ends before offset ${loc.offset + loc.length})`; continue; }
        if (err instanceof IntegrityError) { problem = `pack ${key} is damaged: ${err.message}`; continue; } // an encrypting backend's failed authentication
        throw storeIoError(err, this.backend.where, key, 'reading');
      }
      if (loc.length === block.length && crypto.createHash('sha256').update(data).digest('hex') === block.hash) return data;
      problem = `pack ${key} is damaged: the ${loc.length} bytes at offset ${loc.offset} do not hash to ${block.hash}`;
    }
    throw new IntegrityError(`block ${block.hash} (${context}) cannot be read from the store ${this.backend.where}: ${problem}`, RESTORE_HINT, 'store-block-damaged');
  }

  private async range(key: string, pack: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (hasRange(this.backend)) return this.backend.getRange(key, offset, length, signal);
    // Without ranges keep one pack in memory: blocks of one ingest lie in pack order.
    if (this.cached?.pack !== pack) {
      this.cached = undefined;
      this.cached = { pack, data: await this.backend.get(key, signal) };
    }
    const d = this.cached.data;
    if (offset + length > d.length) throw Object.assign(new Error('short'), { code: 'ESHORT' });
    return d.subarray(offset, offset + length);
  }
}

/** Every block of `snap`, in order, each hash-checked (see BlockReader). */
export async function* readSnapshotBlocks(backend: ObjectBackend, index: PackIndex, snap: StoreSnapshot, signal?: AbortSignal): AsyncIterable<Buffer> {
  const blocks = await loadBlockList(backend, snap, signal);
  await index.refresh(signal);
  const reader = new BlockReader(backend, index);
  let offset = 0;
  for (const b of blocks) {
    if (signal?.aborted) throw new InterruptedError();
    yield await reader.read(b, `offset ${offset} of backup ${snapName(snap)}`, signal);
    offset += b.length;
  }
}
