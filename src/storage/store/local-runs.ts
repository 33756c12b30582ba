/**
 * The fast local rebuild: consecutive blocks that lie back to back in one
 * pack are read with one ranged read ("a run", up to RUN_BYTES), each block
 * of it hash-checked, and written with one positional write. The next run is
 * read while the current one is hashed and written (at most two runs, 16 MiB,
 * in memory). A block whose bytes in the run are wrong, or whose pack cannot
 * give the run, is read again on its own through BlockReader, which tries
 * every copy and otherwise throws the IntegrityError naming pack and offset.
 */
import * as crypto from 'node:crypto';
import { InterruptedError } from '../../core/errors';
import { isMissing } from './backend';
import { packKey, storeIoError, type BlockRef } from './format';
import type { LocalBackend } from './local-backend';
import type { PackIndex } from './pack-index';
import { BlockReader, snapName, type StoreSnapshot } from './read';

/** The largest single read (and write) of the local rebuild. */
export const RUN_BYTES = 8 * 1024 * 1024;

interface Run {
  pack: string;
  offset: number; // in the pack
  at: number; // in the file
  bytes: number;
  blocks: BlockRef[];
}

/** Groups `blocks` (file order) into runs contiguous in the pack of each block's first copy. */
export function planRuns(index: PackIndex, blocks: readonly BlockRef[], max = RUN_BYTES): Run[] {
  const runs: Run[] = [];
  let cur: Run | undefined;
  let at = 0;
  for (const b of blocks) {
    const loc = index.locate(b.hash)[0];
    const fits = cur && loc && loc.length === b.length && loc.pack === cur.pack && loc.offset === cur.offset + cur.bytes && cur.bytes + b.length <= max;
    if (fits) {
      cur!.bytes += b.length;
      cur!.blocks.push(b);
    } else {
      // a block no index lists gets a run of its own; BlockReader names it
      cur = { pack: loc?.pack ?? '', offset: loc?.offset ?? -1, at, bytes: b.length, blocks: [b] };
      runs.push(cur);
    }
    at += b.length;
  }
  return runs;
}

/**
 * Writes every block of `blocks` through `write(buf, fileOffset)`, each one
 * checked against its hash, feeding `onData` the file's bytes in order (for
 * the whole-file sha256). Throws IntegrityError / StorageError /
 * InterruptedError; never calls `write` with unchecked bytes.
 */
export async function materialiseLocalRuns(
  backend: LocalBackend,
  index: PackIndex,
  snap: StoreSnapshot,
  blocks: readonly BlockRef[],
  write: (b: Buffer, at: number) => Promise<unknown>,
  onData: (b: Buffer) => void,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; total: number },
): Promise<number> {
  const runs = planRuns(index, blocks);
  const reader = new BlockReader(backend, index);
  // undefined: the run's pack could not give it; its blocks go through BlockReader
  const fetch = (r: Run): Promise<Buffer | undefined> => {
    if (r.offset < 0) return Promise.resolve(undefined);
    return backend.getRange(packKey(r.pack), r.offset, r.bytes).catch((err) => {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ESHORT') return undefined;
      throw storeIoError(err, backend.where, packKey(r.pack), 'reading');
    });
  };
  let next = runs.length > 0 ? fetch(runs[0]!) : undefined;
  next?.catch(() => undefined); // awaited below; avoid an unhandled rejection while the previous run is written
  let done = 0;
  for (let i = 0; i < runs.length; i++) {
    if (opts.signal?.aborted) throw new InterruptedError();
    const run = runs[i]!;
    const data = await next!;
    next = i + 1 < runs.length ? fetch(runs[i + 1]!) : undefined;
    next?.catch(() => undefined);
    let out = data;
    let pos = 0;
    for (let j = 0; j < run.blocks.length; j++) {
      const b = run.blocks[j]!;
      const slice = data?.subarray(pos, pos + b.length);
      if (!slice || crypto.createHash('sha256').update(slice).digest('hex') !== b.hash) {
        const good = await reader.read(b, `offset ${run.at + pos} of backup ${snapName(snap)}`, opts.signal);
        if (out === data) out = data ? Buffer.from(data) : Buffer.allocUnsafe(run.bytes); // never patch a buffer a caller may hold
        good.copy(out!, pos);
      }
      pos += b.length;
    }
    await write(out!, run.at);
    onData(out!);
    done += run.bytes;
    opts.onProgress?.(done, opts.total);
  }
  return done;
}
