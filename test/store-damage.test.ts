/**
 * Damage in the store is found and named: a flipped byte in a pack (check
 * with readData, and every read), a missing or truncated pack (check without
 * reading data), a damaged block list — each with the exact backups that
 * depend on it; materialise of a damaged backup throws IntegrityError and
 * leaves no file behind.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IntegrityError } from '../src/core/errors';
import { packKey } from '../src/storage/store/format';
import { LocalBackend, Store, type StoreSnapshot } from '../src/storage/store';
import { tempDir } from './helpers/db';
import { backupInto, objectsOnly, openStore, sealed } from './helpers/store';

const PLAN = { headerBytes: 0, chunkBytes: 64 * 1024 };
const t = tempDir('dbguard-store-damage-');
afterAll(() => t.cleanup());
let n = 0;

/** A store with three backups: a and b share their first 8 blocks (the first pack), c shares nothing. */
async function threeBackups() {
  const dir = path.join(t.dir, `case${++n}`);
  fs.mkdirSync(dir);
  const a = crypto.randomBytes(10 * 65536);
  const b = Buffer.concat([a.subarray(0, 9 * 65536), crypto.randomBytes(65536)]);
  const c = crypto.randomBytes(5 * 65536);
  const store = await openStore(path.join(dir, 'store'), 4 * 65536);
  const snaps: Record<string, StoreSnapshot> = {};
  const firstPack: Record<string, string> = {};
  for (const [name, data] of Object.entries({ a, b, c })) {
    const file = path.join(dir, `${name}.bin`);
    fs.writeFileSync(file, data);
    const r = await backupInto(store, file, name === 'c' ? 'staging' : 'production', `${name}_1.bin`, PLAN);
    snaps[name] = r.snap;
    if (r.ingest.packs[0]) firstPack[name] = r.ingest.packs[0];
  }
  const packFile = (id: string) => path.join(dir, 'store', ...packKey(id).split('/'));
  return { dir, store, snaps, data: { a, b, c }, sharedPack: firstPack.a!, packFile };
}

const names = (refs: { target: string; id: string }[]) => refs.map((r) => `${r.target}/${r.id}`).sort();

async function materialiseError(store: Store, snap: StoreSnapshot, dest: string) {
  const err = await store.materialise(snap, dest).then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect(fs.existsSync(dest)).toBe(false);
  return err as IntegrityError;
}

test('a flipped byte in a pack: check with readData names the pack and exactly the backups that depend on it; reads refuse it', async () => {
  const { dir, store, snaps, sharedPack, packFile } = await threeBackups();
  const file = packFile(sharedPack);
  const buf = fs.readFileSync(file);
  buf[70000] ^= 0xff;
  fs.writeFileSync(file, buf);

  const quick = await store.check();
  expect(quick.ok).toBe(true); // same size: only reading the data can tell

  const full = await store.check({ readData: true });
  expect(full.ok).toBe(false);
  expect(full.packs).toHaveLength(1);
  expect(full.packs[0]).toMatchObject({ pack: sharedPack, key: packKey(sharedPack), problem: 'damaged' });
  expect(names(full.packs[0]!.snapshots)).toEqual(['production/a_1', 'production/b_1']);
  const byId = Object.fromEntries(full.snapshots.map((s) => [s.id, s]));
  expect(byId.c_1).toMatchObject({ ok: true, findings: [] });
  for (const id of ['a_1', 'b_1']) {
    expect(byId[id]!.ok).toBe(false);
    expect(byId[id]!.findings[0]).toMatchObject({ severity: 'error', code: 'store-pack-damaged', pack: sharedPack });
    expect(byId[id]!.findings[0]!.message).toContain(packKey(sharedPack));
    expect(byId[id]!.findings[0]!.message).toContain(`1 block of backup production/${id} is lost`);
  }

  const err = await materialiseError(store, snaps.a!, path.join(dir, 'out-a.bin'));
  expect(err.message).toContain(packKey(sharedPack));
  expect(err.message).toContain('at offset 65536');
  expect(err.message).toContain('backup production/a_1');
  await expect((async () => { for await (const _ of store.readBlocks(snaps.b!)) void _; })()).rejects.toBeInstanceOf(IntegrityError);
  await expect(store.materialise(snaps.c!, path.join(dir, 'out-c.bin'))).resolves.toMatchObject({ bytes: 5 * 65536 });
});

test('a missing pack: check without reading data names the backups that depend on it', async () => {
  const { dir, store, snaps, sharedPack, packFile } = await threeBackups();
  fs.rmSync(packFile(sharedPack));
  const r = await store.check();
  expect(r.ok).toBe(false);
  expect(r.readPacks).toBe(0);
  expect(r.packs).toEqual([{ pack: sharedPack, key: packKey(sharedPack), problem: 'missing', detail: expect.stringContaining('is missing'), snapshots: expect.any(Array) }]);
  expect(names(r.packs[0]!.snapshots)).toEqual(['production/a_1', 'production/b_1']);
  expect(r.snapshots.find((s) => s.id === 'a_1')!.findings.map((f) => f.code)).toEqual(['store-pack-missing']);
  expect(r.snapshots.find((s) => s.id === 'a_1')!.findings[0]!.message).toContain('4 blocks of backup production/a_1 are lost');
  expect(r.snapshots.find((s) => s.id === 'c_1')!.ok).toBe(true);
  const err = await materialiseError(store, snaps.b!, path.join(dir, 'out-b.bin'));
  expect(err.message).toContain(`pack ${packKey(sharedPack)} is missing`);
});

test('a truncated pack is found by size without reading data; a damaged block list is named for its backup', async () => {
  const { dir, store, sharedPack, packFile } = await threeBackups();
  fs.truncateSync(packFile(sharedPack), 100_000);
  const blocksFile = path.join(dir, 'store', 'snapshots', 'staging', 'c_1.bin.blocks');
  const text = fs.readFileSync(blocksFile, 'utf8');
  fs.writeFileSync(blocksFile, text.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a')));
  const r = await store.check();
  expect(r.packs.map((p) => [p.pack, p.problem])).toEqual([[sharedPack, 'damaged']]);
  expect(r.packs[0]!.detail).toContain('100000 bytes');
  expect(names(r.packs[0]!.snapshots)).toEqual(['production/a_1', 'production/b_1']);
  const c = r.snapshots.find((s) => s.id === 'c_1')!;
  expect(c.findings.map((f) => f.code)).toEqual(['store-blocks-damaged']);
  expect(c.findings[0]!.message).toContain('c_1.bin.blocks');
});

test('through a backend without ranged reads: a damaged pack is IntegrityError naming it, and no file is left', async () => {
  const { dir, snaps, sharedPack, packFile } = await threeBackups();
  const buf = fs.readFileSync(packFile(sharedPack));
  buf[10] ^= 0x01;
  fs.writeFileSync(packFile(sharedPack), buf);
  const remote = await Store.open(objectsOnly(new LocalBackend(path.join(dir, 'store'))));
  const err = await materialiseError(remote, snaps.a!, path.join(dir, 'out-remote.bin'));
  expect(err.message).toContain(`pack ${packKey(sharedPack)} is damaged`);
  expect(err.message).toContain('at offset 0');
});

test('an unreadable manifest is a store finding of check (the backup is not listed, its blocks are kept by collect)', async () => {
  const { dir, store } = await threeBackups();
  fs.writeFileSync(path.join(dir, 'store', 'snapshots', 'staging', 'c_1.bin.json'), '{"format":"dbguard-backup/1", trunc');
  expect((await store.snapshots()).map((s) => s.id).sort()).toEqual(['a_1', 'b_1']);
  const r = await store.check();
  expect(r.ok).toBe(false);
  expect(r.findings.map((f) => [f.code, f.message.includes('snapshots/staging/c_1.bin.json')])).toEqual([['store-manifest-unreadable', true]]);
  const c = await store.collect();
  expect(c.deletedPacks).toEqual([]);
  expect(c.deletedBlockLists).toEqual([]);
});

test('on an encrypting backend (sealed objects, other stored sizes): check is ok when intact; a damaged pack is named with its backups, collect keeps it', async () => {
  const dir = path.join(t.dir, `case${++n}`);
  const root = path.join(dir, 'store');
  const backend = sealed(new LocalBackend(root));
  const store = await Store.open(backend, { create: true, encrypted: true, encryption: { algorithm: 'AES-256-GCM', kdf: {}, check: 'x' }, packBytes: 4 * 65536 });
  const a = crypto.randomBytes(10 * 65536);
  const b = Buffer.concat([a.subarray(0, 9 * 65536), crypto.randomBytes(65536)]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.bin'), a);
  fs.writeFileSync(path.join(dir, 'b.bin'), b);
  const ra = await backupInto(store, path.join(dir, 'a.bin'), 'p', 'a.bin', PLAN);
  await backupInto(store, path.join(dir, 'b.bin'), 'p', 'b.bin', PLAN);
  expect(await store.check()).toMatchObject({ ok: true, packs: [] });
  expect(await store.check({ readData: true })).toMatchObject({ ok: true, packs: [] });

  const pack = ra.ingest.packs[2]!; // a8 (b needs it too) and a9: half live once a is removed
  const file = path.join(root, ...packKey(pack).split('/'));
  const buf = fs.readFileSync(file);
  buf[100] ^= 0xff;
  fs.writeFileSync(file, buf);
  const r = await store.check({ readData: true });
  expect(r.ok).toBe(false);
  expect(r.packs.map((p) => [p.pack, p.problem, names(p.snapshots)])).toEqual([[pack, 'damaged', ['p/a', 'p/b']]]);
  expect(r.packs[0]!.detail).toContain('failed its authentication');
  const err = await materialiseError(store, ra.snap, path.join(dir, 'out.bin'));
  expect(err.message).toContain(`pack ${packKey(pack)} is damaged`);
  await store.removeSnapshot(ra.snap);
  const c = await store.collect({ repackBelow: 1 });
  expect(c.problems.join('\n')).toContain(`kept ${packKey(pack)} without repacking it`);
  expect(fs.existsSync(file)).toBe(true);
});

test('a pack lost outside dbguard heals with the next backup: its blocks are stored again, not reused, and the older backups are whole again', async () => {
  const { dir, store, data, sharedPack, packFile } = await threeBackups();
  fs.rmSync(packFile(sharedPack));
  fs.writeFileSync(path.join(dir, 'a2.bin'), data.a);
  const r = await backupInto(store, path.join(dir, 'a2.bin'), 'production', 'a_2.bin', PLAN);
  expect(r.ingest.newBlocks).toBe(4); // the four blocks of the lost pack
  const out = path.join(dir, 'a2-out.bin');
  await store.materialise(r.snap, out);
  expect(fs.readFileSync(out).equals(data.a)).toBe(true);
  // the same four blocks in the same order make the same bytes: the pack of that name is back, and serves the older backups too
  expect(r.ingest.packs[0]).toBe(sharedPack);
  expect(fs.existsSync(packFile(sharedPack))).toBe(true);
  const check = await store.check({ readData: true });
  expect(check).toMatchObject({ ok: true, packs: [], findings: [] });
  expect(check.snapshots.every((s) => s.ok)).toBe(true);
});
