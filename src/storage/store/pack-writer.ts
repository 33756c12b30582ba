import * as crypto from 'node:crypto';
import type { ObjectBackend } from './backend';
import { indexKey, packKey, STORE_FORMAT, storeIoError, type PackIndexFile } from './format';
import type { PackIndex } from './pack-index';

/**
 * Collects new blocks into one pack buffer (the only big buffer of an
 * ingest or repack) and writes it when full: the pack object first, then
 * its index — so an index never names a pack that is not complete and
 * durable. The pack id is the sha256 of the pack's bytes.
 */
export class PackWriter {
  private buf: Buffer;
  private size = 0;
  private entries: [string, number, number][] = [];
  private pending = new Set<string>();
  private hasher = crypto.createHash('sha256');
  /** Pack ids written so far, in order. */
  readonly written: string[] = [];

  constructor(
    private readonly backend: ObjectBackend,
    private readonly index: PackIndex,
    private readonly targetBytes: number,
    private readonly signal?: AbortSignal,
  ) {
    this.buf = Buffer.allocUnsafe(0);
  }

  /** True when `hash` is in the pack being filled (not yet written). */
  has(hash: string): boolean {
    return this.pending.has(hash);
  }

  /** Appends a block (copied); writes the current pack first when the block would overflow it. Throws StorageError when a put fails. */
  async add(hash: string, data: Buffer): Promise<void> {
    if (this.size > 0 && this.size + data.length > this.targetBytes) await this.flush();
    if (this.buf.length < this.size + data.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.targetBytes, this.size + data.length));
      this.buf.copy(grown, 0, 0, this.size);
      this.buf = grown;
    }
    data.copy(this.buf, this.size);
    this.hasher.update(data);
    this.entries.push([hash, this.size, data.length]);
    this.pending.add(hash);
    this.size += data.length;
  }

  /** Writes the open pack (if any) and its index, durably, and records it in the index. Throws StorageError naming the object. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const id = this.hasher.digest('hex');
    const file: PackIndexFile = { format: STORE_FORMAT, pack: id, bytes: this.size, blocks: this.entries };
    const pk = packKey(id);
    try {
      await this.backend.put(pk, this.buf.subarray(0, this.size), this.signal);
    } catch (err) {
      throw storeIoError(err, this.backend.where, pk, 'writing');
    }
    try {
      await this.backend.put(indexKey(id), Buffer.from(JSON.stringify(file)), this.signal);
    } catch (err) {
      throw storeIoError(err, this.backend.where, indexKey(id), 'writing');
    }
    this.index.add(file);
    this.written.push(id);
    this.size = 0;
    this.entries = [];
    this.pending = new Set();
    this.hasher = crypto.createHash('sha256');
  }
}
