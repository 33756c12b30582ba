/**
 * The in-memory index of a store: block hash → where its copies lie, built
 * from every `index/<packId>.json`. Refreshed incrementally (only new index
 * objects are read, vanished ones dropped), so every ingest and read works
 * from the store as it is now, never from a stale picture that a collect
 * has since changed.
 */
import { isMissing, type ObjectBackend } from './backend';
import { indexKey, packIdOfIndexKey, packIdOfKey, parsePackIndex, storeIoError, type PackIndexFile } from './format';

export interface BlockLoc {
  pack: string;
  offset: number;
  length: number;
}

/** Runs `fn` over `items`, at most `width` at a time; rejects with the first error. */
export async function eachLimited<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export class PackIndex {
  private readonly byHash = new Map<string, BlockLoc[]>();
  private readonly packs = new Map<string, PackIndexFile>();
  /** Index objects that exist but cannot be used (not JSON, wrong format): key → why. */
  readonly unreadable = new Map<string, string>();

  constructor(private readonly backend: ObjectBackend) {}

  /**
   * Brings the index up to date with the backend's `index/` objects. Throws
   * StorageError when the backend cannot be read; an index that is
   * malformed is recorded in `unreadable`, not thrown (its pack's blocks
   * are then unknown: readers report them missing, collect keeps that pack).
   */
  async refresh(signal?: AbortSignal): Promise<void> {
    let listed;
    try {
      listed = await this.backend.list('index/', signal);
    } catch (err) {
      throw storeIoError(err, this.backend.where, 'index/', 'listing');
    }
    const present = new Set<string>();
    const fresh: string[] = [];
    for (const o of listed) {
      const id = packIdOfIndexKey(o.key);
      if (!id) continue;
      present.add(id);
      if (!this.packs.has(id) && !this.unreadable.has(o.key)) fresh.push(id);
    }
    for (const id of [...this.packs.keys()]) if (!present.has(id)) this.drop(id);
    for (const key of [...this.unreadable.keys()]) if (!present.has(packIdOfIndexKey(key) ?? '')) this.unreadable.delete(key);
    await eachLimited(fresh, 8, async (id) => {
      signal?.throwIfAborted();
      let data: Buffer;
      try {
        data = await this.backend.get(indexKey(id), signal);
      } catch (err) {
        if (isMissing(err)) return; // removed since the listing
        throw storeIoError(err, this.backend.where, indexKey(id), 'reading');
      }
      try {
        this.add(parsePackIndex(data, id));
      } catch (err) {
        this.unreadable.set(indexKey(id), (err as Error).message);
      }
    });
  }

  /** Indexed packs whose object was missing at the last `checkPresence`. */
  private absent = new Set<string>();

  /**
   * Lists `packs/` and remembers which indexed packs are missing, so that an
   * ingest stores their blocks again instead of reusing a copy that is gone
   * (a pack lost outside dbguard then heals with the next backup). Throws
   * StorageError when the backend cannot be listed.
   */
  async checkPresence(signal?: AbortSignal): Promise<void> {
    let listed;
    try {
      listed = await this.backend.list('packs/', signal);
    } catch (err) {
      throw storeIoError(err, this.backend.where, 'packs/', 'listing');
    }
    const present = new Set(listed.map((o) => packIdOfKey(o.key)));
    this.absent = new Set(this.packIds().filter((id) => !present.has(id)));
  }

  /** True when some copy of `hash` is in a pack that was present at the last `checkPresence` (or was written since). */
  hasUsable(hash: string): boolean {
    const locs = this.byHash.get(hash);
    return !!locs && locs.some((l) => !this.absent.has(l.pack));
  }

  /** Records a pack's index (after its pack and index objects were put). Idempotent. */
  add(file: PackIndexFile): void {
    this.absent.delete(file.pack); // written (again) just now
    if (this.packs.has(file.pack)) return;
    this.packs.set(file.pack, file);
    for (const [hash, offset, length] of file.blocks) {
      const loc = { pack: file.pack, offset, length };
      const locs = this.byHash.get(hash);
      if (locs) locs.push(loc);
      else this.byHash.set(hash, [loc]);
    }
  }

  /** Forgets a pack (deleted, or its index vanished). */
  drop(packId: string): void {
    const file = this.packs.get(packId);
    if (!file) return;
    this.packs.delete(packId);
    for (const [hash] of file.blocks) {
      const locs = this.byHash.get(hash)?.filter((l) => l.pack !== packId);
      if (locs?.length) this.byHash.set(hash, locs);
      else this.byHash.delete(hash);
    }
  }

  /** Every known copy of `hash` (empty when none). */
  locate(hash: string): readonly BlockLoc[] {
    return this.byHash.get(hash) ?? [];
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  pack(packId: string): PackIndexFile | undefined {
    return this.packs.get(packId);
  }

  packIds(): string[] {
    return [...this.packs.keys()];
  }

  get blockCount(): number {
    return this.byHash.size;
  }
}
