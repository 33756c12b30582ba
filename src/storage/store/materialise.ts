/**
 * materialise: a snapshot's bytes into a file, every block hash-checked,
 * fsynced, the whole file checked against the manifest. Two ways, by what
 * the backend is:
 * - a local folder (LocalBackend, cheap ranged reads): in file order, runs
 *   of blocks contiguous in a pack read and written with one call each, the
 *   next run read while the current one is checked (local-runs.ts), hashing
 *   the whole file as it is written;
 * - anything else (an object store, encrypted or not, where each request
 *   costs a round trip): pack by pack, each pack downloaded once and its
 *   blocks written at their offsets (positional writes), then the file read
 *   back once for its sha256.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { IntegrityError, InterruptedError, storageErrorFrom } from '../../core/errors';
import { isMissing, type ObjectBackend } from './backend';
import { packKey, storeIoError, type BlockRef } from './format';
import { LocalBackend } from './local-backend';
import type { PackIndex } from './pack-index';
import { materialiseLocalRuns } from './local-runs';
import { BlockReader, loadBlockList, RESTORE_HINT, snapName, type StoreSnapshot } from './read';
import { sha256File } from '../hash';

export interface MaterialiseOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

const interrupted = () => new InterruptedError('interrupted while rebuilding a backup from the store; the partial file was removed');

/**
 * Writes the snapshot's bytes into `dest` (created or truncated, mode 0600),
 * every block hash-checked; fsyncs; then checks the size and whole-file
 * sha256 against the manifest. Throws IntegrityError (damage, naming the
 * pack and offset), StorageError (disk, backend), InterruptedError; on any
 * failure `dest` is removed before the error is thrown.
 */
export async function materialiseSnapshot(backend: ObjectBackend, index: PackIndex, snap: StoreSnapshot, dest: string, opts: MaterialiseOptions = {}): Promise<{ bytes: number; sha256: string }> {
  let handle: fs.promises.FileHandle | undefined;
  const fsError = (err: unknown, action: string) => storageErrorFrom(err, dest, action) ?? err;
  try {
    try {
      handle = await fs.promises.open(dest, 'w', 0o600);
      await handle.chmod(0o600);
    } catch (err) {
      throw fsError(err, 'creating');
    }
    const h = handle;
    const write = (b: Buffer, at: number) => h.write(b, 0, b.length, at).catch((err) => { throw fsError(err, 'writing'); });
    let bytes: number;
    let sha256: string | undefined;
    if (backend instanceof LocalBackend) {
      const whole = crypto.createHash('sha256');
      const blocks = await loadBlockList(backend, snap, opts.signal);
      await index.refresh(opts.signal);
      bytes = await materialiseLocalRuns(backend, index, snap, blocks, write, (b) => whole.update(b), { ...opts, total: snap.manifest.bytes });
      sha256 = whole.digest('hex');
    } else {
      bytes = await byPack(backend, index, snap, write, opts);
    }
    try {
      await h.sync();
    } catch (err) {
      throw fsError(err, 'flushing to disk');
    }
    await h.close();
    handle = undefined;
    if (opts.signal?.aborted) throw interrupted();
    sha256 ??= await sha256File(dest, opts.signal).catch((err) => { throw fsError(err, 'reading back'); });
    if (bytes !== snap.manifest.bytes || sha256 !== snap.manifest.sha256) {
      throw new IntegrityError(`backup ${snapName(snap)} rebuilt from the store ${backend.where} is ${bytes} bytes with sha256 ${sha256}, but its manifest says ${snap.manifest.bytes} bytes, ${snap.manifest.sha256}`, RESTORE_HINT, 'store-sha-mismatch');
    }
    return { bytes, sha256 };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.promises.rm(dest, { force: true });
    throw err;
  }
}

/** Pack-by-pack rebuild: each pack fetched once; a block that pack cannot give is read from any other copy. Returns the file size. */
async function byPack(backend: ObjectBackend, index: PackIndex, snap: StoreSnapshot, write: (b: Buffer, at: number) => Promise<unknown>, opts: MaterialiseOptions): Promise<number> {
  const blocks = await loadBlockList(backend, snap, opts.signal);
  await index.refresh(opts.signal);
  // hash → the file offsets where it goes; grouped by the pack of its first copy
  const places = new Map<string, { block: BlockRef; at: number[] }>();
  let size = 0;
  for (const b of blocks) {
    const p = places.get(b.hash);
    if (p) p.at.push(size);
    else places.set(b.hash, { block: b, at: [size] });
    size += b.length;
  }
  const byPackId = new Map<string, string[]>();
  const reader = new BlockReader(backend, index);
  const viaReader: string[] = [];
  for (const hash of places.keys()) {
    const loc = index.locate(hash)[0];
    if (!loc) { viaReader.push(hash); continue; } // BlockReader throws the right IntegrityError
    const list = byPackId.get(loc.pack);
    if (list) list.push(hash);
    else byPackId.set(loc.pack, [hash]);
  }
  let done = 0;
  const put = async (hash: string, data: Buffer) => {
    for (const at of places.get(hash)!.at) {
      await write(data, at);
      done += data.length;
    }
    opts.onProgress?.(done, size);
  };
  for (const [pack, hashes] of byPackId) {
    if (opts.signal?.aborted) throw interrupted();
    let data: Buffer | undefined;
    try {
      data = await backend.get(packKey(pack), opts.signal);
    } catch (err) {
      // missing or damaged (failed authentication): its blocks come from other copies, or fail naming it
      if (!isMissing(err) && !(err instanceof IntegrityError)) throw storeIoError(err, backend.where, packKey(pack), 'reading');
    }
    for (const hash of hashes) {
      const loc = index.locate(hash).find((l) => l.pack === pack)!;
      const slice = data && loc.offset + loc.length <= data.length ? data.subarray(loc.offset, loc.offset + loc.length) : undefined;
      if (slice && loc.length === places.get(hash)!.block.length && crypto.createHash('sha256').update(slice).digest('hex') === hash) await put(hash, slice);
      else viaReader.push(hash);
    }
  }
  for (const hash of viaReader) {
    const { block, at } = places.get(hash)!;
    await put(hash, await reader.read(block, `offset ${at[0]} of backup ${snapName(snap)}`, opts.signal));
  }
  return size;
}
