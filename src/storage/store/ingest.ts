import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { InterruptedError, StorageError, storageErrorFrom } from '../../core/errors';
import type { ChunkPlan } from '../../engines/engine';
import type { ObjectBackend } from './backend';
import type { BlockRef } from './format';
import type { PackIndex } from './pack-index';
import { PackWriter } from './pack-writer';

/** What an ingest stored; `publish` turns it into a snapshot. */
export interface IngestResult {
  /** Whole-file size and sha256, from the same read that cut the blocks. */
  bytes: number;
  sha256: string;
  blocks: BlockRef[];
  /** Distinct blocks written to new packs, and their bytes. */
  newBlocks: number;
  newBytes: number;
  /** Blocks already in the store (or earlier in the same file). */
  reusedBlocks: number;
  /** Packs written by this ingest. */
  packs: string[];
  chunking: ChunkPlan;
}

export interface IngestOptions {
  signal?: AbortSignal;
  /** Bytes read so far and the total (0 when unknown, for a stream without `totalBytes`). */
  onProgress?: (done: number, total: number) => void;
  /** The stream's total size, for onProgress. */
  totalBytes?: number;
}

/** Throws a plain Error (a bug in the caller) for a plan that cannot cut a file. */
export function assertPlan(plan: ChunkPlan): void {
  if (!Number.isSafeInteger(plan.chunkBytes) || plan.chunkBytes <= 0 || !Number.isSafeInteger(plan.headerBytes) || plan.headerBytes < 0) {
    throw new Error(`invalid chunk plan ${JSON.stringify(plan)}: chunkBytes must be > 0 and headerBytes ≥ 0`);
  }
}

/**
 * Cuts `source` by `plan` (a header chunk of `headerBytes` when > 0, then
 * `chunkBytes` chunks, the last one shorter), hashes each block and the
 * whole stream in the same pass, and appends the blocks the index lacks to
 * packs of `packBytes` (one pack buffer in memory). Packs and their indexes
 * are durable when this resolves; nothing is published. Throws
 * StorageError when a put fails (the packs written before stay: complete,
 * unreferenced, removed by collect — never deleted here, because a
 * concurrent ingest may already reuse their blocks), InterruptedError on abort.
 */
export async function ingest(backend: ObjectBackend, index: PackIndex, source: AsyncIterable<Buffer>, plan: ChunkPlan, packBytes: number, opts: IngestOptions = {}): Promise<IngestResult> {
  assertPlan(plan);
  const { signal } = opts;
  const writer = new PackWriter(backend, index, packBytes, signal);
  const whole = crypto.createHash('sha256');
  const blocks: BlockRef[] = [];
  let newBlocks = 0;
  let newBytes = 0;
  let reusedBlocks = 0;
  let bytes = 0;
  const total = opts.totalBytes ?? 0;

  const take = async (chunk: Buffer) => {
    const hash = crypto.createHash('sha256').update(chunk).digest('hex');
    blocks.push({ hash, length: chunk.length });
    if (index.hasUsable(hash) || writer.has(hash)) {
      reusedBlocks++;
      return;
    }
    await writer.add(hash, chunk);
    newBlocks++;
    newBytes += chunk.length;
  };

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const need = () => (blocks.length === 0 && plan.headerBytes > 0 ? plan.headerBytes : plan.chunkBytes);
  const cut = (n: number): Buffer => {
    if (pending[0]!.length === n) { pendingBytes -= n; return pending.shift()!; }
    if (pending[0]!.length > n) {
      const head = pending[0]!.subarray(0, n);
      pending[0] = pending[0]!.subarray(n);
      pendingBytes -= n;
      return head;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const p = pending[0]!;
      const use = Math.min(p.length, n - filled);
      p.copy(out, filled, 0, use);
      filled += use;
      if (use === p.length) pending.shift();
      else pending[0] = p.subarray(use);
    }
    pendingBytes -= n;
    return out;
  };

  for await (const data of source) {
    if (signal?.aborted) throw new InterruptedError('interrupted while storing blocks; the packs written so far are unreferenced and the next prune removes them');
    if (data.length === 0) continue;
    whole.update(data);
    bytes += data.length;
    pending.push(data);
    pendingBytes += data.length;
    while (pendingBytes >= need()) await take(cut(need()));
    opts.onProgress?.(bytes, total);
  }
  if (pendingBytes > 0) await take(cut(pendingBytes));
  pending = [];
  if (signal?.aborted) throw new InterruptedError('interrupted while storing blocks; the packs written so far are unreferenced and the next prune removes them');
  await writer.flush();
  return { bytes, sha256: whole.digest('hex'), blocks, newBlocks, newBytes, reusedBlocks, packs: writer.written, chunking: { headerBytes: plan.headerBytes, chunkBytes: plan.chunkBytes } };
}

/** The bytes of `file` as a stream of 4 MiB reads; read errors become StorageError naming the file. */
export async function* fileChunks(file: string, signal?: AbortSignal): AsyncIterable<Buffer> {
  const stream = fs.createReadStream(file, { highWaterMark: 4 << 20 });
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) break;
      yield chunk as Buffer;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError(`cannot read ${file}: it does not exist`, 'check the path; nothing was stored', 'not-found').because(err);
    throw storageErrorFrom(err, file, 'reading') ?? err;
  } finally {
    stream.destroy();
  }
}
