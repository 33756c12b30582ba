/**
 * verify for the store: every block each snapshot needs is listed by an
 * index whose pack exists (and, with readData, hashes correctly); for each
 * missing or damaged pack, the exact snapshots that depend on it. Never
 * modifies the store. A backend that cannot be read is a StorageError
 * (could not check), never a finding.
 */
import * as crypto from 'node:crypto';
import { IntegrityError, InterruptedError } from '../../core/errors';
import { isMissing, type ObjectBackend } from './backend';
import { packIdOfKey, packKey, storeIoError } from './format';
import type { BlockLoc, PackIndex } from './pack-index';
import { loadBlockList, snapName, type StoreSnapshot } from './read';

export interface StoreCheckOptions {
  snapshots?: StoreSnapshot[];
  /** Also read every pack a snapshot needs and hash every block. */
  readData?: boolean;
  signal?: AbortSignal;
}

/** How the backend reports objects: `sealed` when stored sizes differ from the plaintext's (an encrypting backend). */
export interface CheckContext { sealed: boolean }

export interface StoreFinding {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  hint: string;
  /** The pack (id) at fault, when one is. */
  pack?: string;
}

export interface SnapshotRef { target: string; id: string; fileName: string }

export interface StoreCheckResult {
  ok: boolean;
  /** One entry per checked snapshot. */
  snapshots: (SnapshotRef & { ok: boolean; findings: StoreFinding[] })[];
  /** Per missing or damaged pack: what is wrong and the snapshots that depend on it (no other intact copy of their blocks). */
  packs: { pack: string; key: string; problem: 'missing' | 'damaged'; detail: string; snapshots: SnapshotRef[] }[];
  /** Problems of the store itself (unreadable index, garbage a collect removes). */
  findings: StoreFinding[];
  checkedBlocks: number;
  readPacks: number;
}

const HINT = 'restore from a backup that `dbguard verify` reports ok, and make a new backup; the next prune removes what no backup needs';

interface PackState { problem?: 'missing' | 'damaged'; detail?: string; actualBytes?: number; bad?: Set<string>; dependents: Map<string, SnapshotRef> }

/** Runs the checks described above on `snaps`. Throws StorageError when the store cannot be read, InterruptedError on abort. */
export async function checkStore(backend: ObjectBackend, index: PackIndex, snaps: StoreSnapshot[], opts: StoreCheckOptions, ctx: CheckContext = { sealed: false }): Promise<StoreCheckResult> {
  const { signal } = opts;
  await index.refresh(signal);
  const stored = new Map<string, number>();
  for (const o of await backend.list('packs/', signal).catch((err) => { throw storeIoError(err, backend.where, 'packs/', 'listing'); })) {
    const id = packIdOfKey(o.key);
    if (id) stored.set(id, o.bytes);
  }
  const findings: StoreFinding[] = [];
  const states = new Map<string, PackState>();
  for (const id of index.packIds()) {
    const st: PackState = { dependents: new Map() };
    const want = index.pack(id)!.bytes;
    const have = stored.get(id);
    if (have === undefined) Object.assign(st, { problem: 'missing', detail: `${packKey(id)} is missing from ${backend.where}` });
    else if (!ctx.sealed && have !== want) Object.assign(st, { problem: 'damaged', actualBytes: have, detail: `${packKey(id)} is ${have} bytes, its index says ${want}` });
    states.set(id, st);
  }
  for (const [key, why] of index.unreadable) findings.push({ severity: 'error', code: 'store-index-unreadable', message: `the pack index ${key} in ${backend.where} is unreadable (${why}): the blocks of its pack count as missing`, hint: HINT });
  for (const id of stored.keys()) {
    if (!states.has(id)) findings.push({ severity: 'warning', code: 'store-pack-unindexed', message: `${packKey(id)} has no index (left by an interrupted write): no backup uses it`, hint: 'the next `dbguard prune` removes it', pack: id });
  }

  // Block lists are read one at a time and not kept (30 lists of a 100 GiB file would be 12 M entries):
  // once for the packs that readData must read, once more for the verdicts.
  const load = async (snap: StoreSnapshot): Promise<{ blocks?: { hash: string; length: number }[]; finding?: StoreFinding }> => {
    if (signal?.aborted) throw new InterruptedError();
    try {
      return { blocks: await loadBlockList(backend, snap, signal) };
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      return { finding: { severity: 'error', code: err.code, message: err.message, hint: HINT } };
    }
  };
  const needed = new Set<string>();
  if (opts.readData) {
    for (const snap of snaps) for (const b of (await load(snap)).blocks ?? []) for (const l of index.locate(b.hash)) needed.add(l.pack);
  }

  let readPacks = 0;
  if (opts.readData) {
    for (const id of needed) {
      if (signal?.aborted) throw new InterruptedError();
      const st = states.get(id);
      if (!st || st.problem === 'missing') continue;
      let data: Buffer;
      try {
        data = await backend.get(packKey(id), signal);
      } catch (err) {
        if (isMissing(err)) { Object.assign(st, { problem: 'missing', detail: `${packKey(id)} is missing from ${backend.where}` }); continue; }
        if (!(err instanceof IntegrityError)) throw storeIoError(err, backend.where, packKey(id), 'reading');
        // an encrypting backend found the object damaged (it did not authenticate): every block of it is lost
        Object.assign(st, { problem: 'damaged', detail: `${packKey(id)} is damaged: ${err.message}`, bad: new Set(index.pack(id)!.blocks.map(([h]) => h)) });
        readPacks++;
        continue;
      }
      readPacks++;
      st.bad = new Set();
      for (const [hash, offset, length] of index.pack(id)!.blocks) {
        if (offset + length > data.length || crypto.createHash('sha256').update(data.subarray(offset, offset + length)).digest('hex') !== hash) st.bad.add(hash);
      }
      const packSha = crypto.createHash('sha256').update(data).digest('hex');
      if (st.bad.size > 0 || packSha !== id) {
        st.problem = 'damaged';
        st.detail = `${packKey(id)} is damaged: its sha256 is ${packSha}${st.bad.size ? `, and ${st.bad.size} of its blocks do not match their hash` : ''}`;
      }
    }
  }

  const usable = (loc: BlockLoc, hash: string) => {
    const st = states.get(loc.pack);
    if (!st || st.problem === 'missing') return false;
    if (st.bad) return !st.bad.has(hash);
    return st.actualBytes === undefined || loc.offset + loc.length <= st.actualBytes;
  };

  let checkedBlocks = 0;
  const out: StoreCheckResult['snapshots'] = [];
  for (const snap of snaps) {
    const ref = { target: snap.target, id: snap.id, fileName: snap.fileName };
    const { blocks, finding } = await load(snap);
    const own: StoreFinding[] = finding ? [finding] : [];
    if (blocks) {
      const byPack = new Map<string, number>();
      let unindexed = 0;
      const seen = new Set<string>();
      for (const b of blocks) {
        if (seen.has(b.hash)) continue;
        seen.add(b.hash);
        checkedBlocks++;
        const locs = index.locate(b.hash);
        if (locs.length === 0) { unindexed++; continue; }
        if (locs.some((l) => l.length === b.length && usable(l, b.hash))) continue;
        for (const l of locs) {
          byPack.set(l.pack, (byPack.get(l.pack) ?? 0) + 1);
          states.get(l.pack)?.dependents.set(snapName(ref), ref);
        }
      }
      for (const [pack, n] of byPack) {
        const st = states.get(pack)!;
        own.push({ severity: 'error', code: st.problem === 'missing' ? 'store-pack-missing' : 'store-pack-damaged', message: `${n} block${n === 1 ? '' : 's'} of backup ${snapName(ref)} ${n === 1 ? 'is' : 'are'} lost: ${st.detail ?? `${packKey(pack)} is damaged`}`, hint: HINT, pack });
      }
      if (unindexed > 0) own.push({ severity: 'error', code: 'store-block-missing', message: `${unindexed} block${unindexed === 1 ? '' : 's'} of backup ${snapName(ref)} ${unindexed === 1 ? 'is' : 'are'} in no pack index of ${backend.where}${index.unreadable.size ? ` (${index.unreadable.size} index objects are unreadable)` : ''}`, hint: HINT });
    }
    out.push({ ...ref, ok: own.length === 0, findings: own });
  }

  const packs: StoreCheckResult['packs'] = [];
  for (const [pack, st] of states) {
    if (!st.problem) continue;
    packs.push({ pack, key: packKey(pack), problem: st.problem, detail: st.detail!, snapshots: [...st.dependents.values()] });
    if (st.dependents.size === 0) findings.push({ severity: 'warning', code: `store-pack-${st.problem}`, message: `${st.detail}; no checked backup depends on it`, hint: 'the next `dbguard prune` removes it if no backup needs it', pack });
  }
  const ok = out.every((s) => s.ok) && findings.every((f) => f.severity !== 'error');
  return { ok, snapshots: out, packs, findings, checkedBlocks, readPacks };
}
