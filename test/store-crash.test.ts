/**
 * Crash safety of the store: a full disk while packs are written (injected
 * ENOSPC and a real small tmpfs), kill -9 of a real process at each step of
 * an ingest and of a collect/repack. Afterwards there is no half-written
 * object, no new snapshot unless it is complete, every older snapshot still
 * rebuilds byte for byte, and the next collect removes what was left over.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InterruptedError, StorageError } from '../src/core/errors';
import type { Store } from '../src/storage/store';
import { tempDir } from './helpers/db';
import { mountTmpfs } from './helpers/faults';
import { backupInto, openStore, runStoreChild, treeOf } from './helpers/store';

const PLAN = { headerBytes: 0, chunkBytes: 64 * 1024 };
const PACK = 4 * 65536;
const t = tempDir('dbguard-store-crash-');
afterAll(() => t.cleanup());
let n = 0;
const fresh = () => { const d = path.join(t.dir, `case${++n}`); fs.mkdirSync(d); return d; };

const objects = (root: string) => treeOf(root).filter((f) => !f.startsWith('locks/'));
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Every snapshot of the store rebuilds to exactly `expected[fileName]`; check with readData is ok. */
async function allRestore(store: Store, dir: string, expected: Record<string, Buffer>): Promise<void> {
  const snaps = await store.snapshots();
  expect(snaps.map((s) => s.fileName).sort()).toEqual(Object.keys(expected).sort());
  for (const s of snaps) {
    const out = path.join(dir, `restored-${s.fileName}-${crypto.randomBytes(3).toString('hex')}`);
    await store.materialise(s, out);
    expect(sha(fs.readFileSync(out))).toBe(sha(expected[s.fileName]!));
    fs.rmSync(out);
  }
  const check = await store.check({ readData: true });
  expect(check.packs).toEqual([]);
  expect(check.ok).toBe(true);
}

function write(dir: string, name: string, data: Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, data);
  return f;
}

describe('full disk during pack writing', () => {
  afterEach(() => { delete process.env.DBGUARD_TEST_FAIL_AT; });

  test('injected ENOSPC at a pack put: StorageError exit 6 naming the object, nothing half-written, no new snapshot', async () => {
    const dir = fresh();
    const root = path.join(dir, 'store');
    const store = await openStore(root, PACK);
    const old = crypto.randomBytes(6 * 65536);
    await backupInto(store, write(dir, 'old.bin', old), 'p', 'old.bin', PLAN);
    const before = objects(root);
    process.env.DBGUARD_TEST_FAIL_AT = 'store-put=ENOSPC';
    const err = await backupInto(store, write(dir, 'new.bin', crypto.randomBytes(6 * 65536)), 'p', 'new.bin', PLAN).then(() => undefined, (e) => e);
    delete process.env.DBGUARD_TEST_FAIL_AT;
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ exitCode: 6, code: 'disk-full' });
    expect(err.message).toMatch(/disk full while writing packs\/[0-9a-f]{2}\/[0-9a-f]{64}\.pack in the store /);
    expect(err.message).toContain(root);
    expect(objects(root)).toEqual(before);
    await allRestore(store, dir, { 'old.bin': old });
  });

  test('injected ENOSPC at an index put (its pack written): StorageError naming the index; the pack without index is garbage that collect removes', async () => {
    const dir = fresh();
    const root = path.join(dir, 'store');
    const store = await openStore(root, PACK);
    const old = crypto.randomBytes(2 * 65536);
    await backupInto(store, write(dir, 'old.bin', old), 'p', 'old.bin', PLAN);
    const before = objects(root);
    const data = crypto.randomBytes(6 * 65536);
    const firstPack = sha(data.subarray(0, PACK)); // a pack id is the sha256 of its bytes: the first four new blocks
    process.env.DBGUARD_TEST_FAIL_AT = `store-put:${firstPack}.json=ENOSPC`;
    const err = await backupInto(store, write(dir, 'new.bin', data), 'p', 'new.bin', PLAN).then(() => undefined, (e) => e);
    delete process.env.DBGUARD_TEST_FAIL_AT;
    expect(err).toMatchObject({ exitCode: 6, code: 'disk-full' });
    expect(err.message).toContain(`index/${firstPack}.json in the store ${root}`);
    expect(objects(root)).toEqual([...before, `packs/${firstPack.slice(0, 2)}/${firstPack}.pack`].sort());
    expect((await store.check()).findings.map((f) => f.code)).toEqual(['store-pack-unindexed']);
    await allRestore(store, dir, { 'old.bin': old });
    expect((await store.collect()).deletedPacks).toEqual([firstPack]);
    expect(objects(root)).toEqual(before);
  });

  test('a real full disk (2 MiB tmpfs) mid-ingest: every object left is complete, older snapshots rebuild, collect clears the rest', async () => {
    const dir = fresh();
    const mnt = mountTmpfs(path.join(dir, 'disk'), 'size=2m');
    try {
      const root = path.join(mnt.dir, 'store');
      const store = await openStore(root, PACK);
      const old = crypto.randomBytes(5 * 65536);
      await backupInto(store, write(dir, 'old.bin', old), 'p', 'old.bin', PLAN);
      const before = objects(root);
      const err = await backupInto(store, write(dir, 'big.bin', crypto.randomBytes(40 * 65536)), 'p', 'big.bin', PLAN).then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ exitCode: 6, code: 'disk-full' });
      expect(err.message).toContain(root);
      const after = objects(root);
      expect(after.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(after.filter((f) => f.startsWith('snapshots/'))).toEqual(before.filter((f) => f.startsWith('snapshots/')));
      for (const f of after.filter((x) => x.startsWith('packs/'))) expect(sha(fs.readFileSync(path.join(root, f)))).toBe(path.basename(f, '.pack'));
      await allRestore(store, dir, { 'old.bin': old });
      await store.collect();
      expect(objects(root)).toEqual(before);
    } finally {
      mnt.cleanup();
    }
  });

  test('an abort during ingest is InterruptedError (exit 130) and publishes nothing', async () => {
    const dir = fresh();
    const store = await openStore(path.join(dir, 'store'), PACK);
    const ac = new AbortController();
    const err = await store.ingestFile(write(dir, 'f.bin', crypto.randomBytes(20 * 65536)), PLAN, { signal: ac.signal, onProgress: (done) => { if (done > 0) ac.abort(); } }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(await store.snapshots()).toEqual([]);
  });
});

describe('kill -9 during ingest', () => {
  test.each([
    ['at the first pack (its temporary file written)', 'store-put'],
    ['after the packs, before the block list', 'store-put:new_1.bin.blocks'],
    ['after the block list, before the manifest', 'store-put:new_1.bin.json'],
  ])('%s: no new snapshot, older ones intact, collect removes the garbage', async (_what, point) => {
    const dir = fresh();
    const root = path.join(dir, 'store');
    const store = await openStore(root, PACK);
    const old = crypto.randomBytes(6 * 65536);
    await backupInto(store, write(dir, 'old.bin', old), 'p', 'old.bin', PLAN);
    const before = objects(root);
    const fresh1 = write(dir, 'new.bin', crypto.randomBytes(10 * 65536));
    const child = runStoreChild(['ingest', root, fresh1, 'p', 'new_1.bin', String(PACK)], { DBGUARD_TEST_FAIL_AT: `${point}=KILL` });
    expect(await child.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(objects(root)).not.toEqual(before); // it left something behind
    await allRestore(store, dir, { 'old.bin': old });
    const r = await store.collect();
    expect(objects(root)).toEqual(before);
    expect(r.deletedPacks.length + r.removedTemporaries).toBeGreaterThan(0);
    await allRestore(store, dir, { 'old.bin': old });
    expect(fs.readdirSync(path.join(root, 'locks'))).toEqual([]); // the dead holder's shared lock was taken over
  });
});

describe('kill -9 during collect', () => {
  /** a (12 blocks, 3 packs) and b (shares a's first block) and c; a is removed: a's first pack is repacked, the other two deleted. */
  async function repackCase() {
    const dir = fresh();
    const root = path.join(dir, 'store');
    const store = await openStore(root, PACK);
    const a = crypto.randomBytes(12 * 65536);
    const b = Buffer.concat([a.subarray(0, 65536), crypto.randomBytes(3 * 65536)]);
    const c = crypto.randomBytes(2 * 65536);
    const sa = await backupInto(store, write(dir, 'a.bin', a), 'p', 'a.bin', PLAN);
    await backupInto(store, write(dir, 'b.bin', b), 'p', 'b.bin', PLAN);
    await backupInto(store, write(dir, 'c.bin', c), 'q', 'c.bin', PLAN);
    await store.removeSnapshot(sa.snap);
    const was = objects(root);
    const plan = await store.collect({ dryRun: true });
    expect(objects(root)).toEqual(was); // a dry run changes nothing
    expect(plan.repackedPacks).toEqual([sa.ingest.packs[0]]);
    expect(plan.deletedPacks.sort()).toEqual(sa.ingest.packs.slice(1).sort());
    return { dir, root, store, expected: { 'b.bin': b, 'c.bin': c }, repacked: sa.ingest.packs[0]!, deleted: sa.ingest.packs.slice(1) };
  }

  test('collect repacks: the live block moves to a new pack, dead packs go, every snapshot still rebuilds', async () => {
    const { dir, root, store, expected, repacked, deleted } = await repackCase();
    const r = await store.collect();
    expect(r.repackedPacks).toEqual([repacked]);
    expect(r.writtenPacks).toHaveLength(1);
    expect(r.deletedPacks.sort()).toEqual([...deleted].sort());
    expect(r.freedBytes).toBeGreaterThan(10 * 65536);
    for (const id of [repacked, ...deleted]) expect(objects(root).some((f) => f.includes(id))).toBe(false);
    await allRestore(store, dir, expected);
    const again = await store.collect();
    expect(again).toMatchObject({ deletedPacks: [], repackedPacks: [], writtenPacks: [], deletedIndexes: 0 });
  });

  test('an I/O error at a delete: StorageError (exit 6) naming the object; nothing lost; the next collect finishes', async () => {
    const c = await repackCase();
    process.env.DBGUARD_TEST_FAIL_AT = `store-delete:${c.repacked}.json=EIO`;
    let err: unknown;
    try { await c.store.collect(); } catch (e) { err = e; } finally { delete process.env.DBGUARD_TEST_FAIL_AT; }
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ exitCode: 6, code: 'io-error' });
    expect((err as Error).message).toContain(`index/${c.repacked}.json in the store ${c.root}`);
    await allRestore(c.store, c.dir, c.expected);
    await c.store.collect();
    await allRestore(c.store, c.dir, c.expected);
    expect(objects(c.root).some((f) => f.includes(c.repacked))).toBe(false);
  });

  test('a full disk writing the repacked pack: StorageError (exit 6), the old pack stays, every snapshot rebuilds', async () => {
    const c = await repackCase();
    process.env.DBGUARD_TEST_FAIL_AT = 'store-put=ENOSPC';
    let err: unknown;
    try { await c.store.collect(); } catch (e) { err = e; } finally { delete process.env.DBGUARD_TEST_FAIL_AT; }
    expect(err).toMatchObject({ exitCode: 6, code: 'disk-full' });
    expect(objects(c.root)).toContain(`index/${c.repacked}.json`);
    expect(objects(c.root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await allRestore(c.store, c.dir, c.expected);
    expect(fs.readdirSync(path.join(c.root, 'locks'))).toEqual([]);
  });

  test.each([
    ['at the first delete (an unreferenced index)', () => 'store-delete'],
    ['after the new pack is written, before any old one is deleted', () => 'store-collect-repacked'],
    ['between the old index and the old pack of the repack', (c: { repacked: string }) => `store-delete:${c.repacked}.pack`],
    ['before the old index of the repack', (c: { repacked: string }) => `store-delete:${c.repacked}.json`],
  ])('%s: every snapshot still rebuilds; a second collect finishes the job', async (_what, point) => {
    const c = await repackCase();
    const child = runStoreChild(['collect', c.root, String(PACK)], { DBGUARD_TEST_FAIL_AT: `${point(c)}=KILL` });
    expect(await child.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await allRestore(c.store, c.dir, c.expected);
    await c.store.collect();
    await allRestore(c.store, c.dir, c.expected);
    for (const id of [c.repacked, ...c.deleted]) expect(objects(c.root).some((f) => f.includes(id))).toBe(false);
    expect(await c.store.collect({ dryRun: true })).toMatchObject({ deletedPacks: [], repackedPacks: [], deletedBlockLists: [], deletedIndexes: 0 });
    expect((await c.store.stats()).packs).toBe(3); // b's new pack, c's, and the repacked one
  });
});


test('duplicates left by a killed repack: a damaged old copy is skipped, readers take the intact one', async () => {
  const dir = fresh();
  const root = path.join(dir, 'store');
  const store = await openStore(root, PACK);
  const a = crypto.randomBytes(4 * 65536);
  const b = Buffer.concat([a.subarray(0, 65536), crypto.randomBytes(65536)]);
  const sa = await backupInto(store, write(dir, 'a.bin', a), 'p', 'a.bin', PLAN);
  await backupInto(store, write(dir, 'b.bin', b), 'p', 'b.bin', PLAN);
  await store.removeSnapshot(sa.snap);
  const child = runStoreChild(['collect', root, String(PACK)], { DBGUARD_TEST_FAIL_AT: 'store-collect-repacked=KILL' });
  expect((await child.exit).signal).toBe('SIGKILL');
  const old = path.join(root, 'packs', sa.ingest.packs[0]!.slice(0, 2), `${sa.ingest.packs[0]}.pack`);
  expect(fs.existsSync(old)).toBe(true); // the old copy is still there, beside the new one
  const buf = fs.readFileSync(old);
  buf[5] ^= 0xff; // inside the block b shares
  fs.writeFileSync(old, buf);
  const out = path.join(dir, 'b-out.bin');
  await store.materialise((await store.snapshots())[0]!, out);
  expect(fs.readFileSync(out).equals(b)).toBe(true);
  const check = await store.check({ readData: true });
  expect(check.ok).toBe(true);
  expect(check.packs).toEqual([expect.objectContaining({ pack: sa.ingest.packs[0], problem: 'damaged', snapshots: [] })]);
  expect(check.findings.map((f) => f.code)).toEqual(['store-pack-damaged']);
});
