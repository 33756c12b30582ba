/**
 * The store (issue 11, dbguard-store/1): real DuckDB and SQLite files cut by
 * their engine's chunk plan, published, rebuilt byte for byte; a changed
 * version reuses the unchanged blocks; opening refuses foreign or
 * other-format folders without touching them; the README's python3 script
 * rebuilds a backup without dbguard.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { IntegrityError, StorageError } from '../src/core/errors';
import { engineNamed } from '../src/engines/registry';
import { DEFAULT_CHUNK_PLAN, LocalBackend, Store } from '../src/storage/store';
import { createMusicDb, execSql, sha256, tempDir } from './helpers/db';
import { createSqliteDb } from './helpers/sqlite';
import { backupInto, findSnap, manifestFor, objectsOnly, openStore, treeOf } from './helpers/store';

const t = tempDir('dbguard-store-');
afterAll(() => t.cleanup());
let n = 0;
const fresh = () => { const d = path.join(t.dir, `case${++n}`); fs.mkdirSync(d); return d; };

async function collectBytes(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

describe('round trip', () => {
  test('a DuckDB file and a changed version of it: identical bytes back, the second reuses most blocks, stored < logical', async () => {
    const dir = fresh();
    const v1 = path.join(dir, 'v1.duckdb');
    await createMusicDb(v1, 4);
    const v2 = path.join(dir, 'v2.duckdb');
    fs.copyFileSync(v1, v2);
    await execSql(v2, "UPDATE tracks SET title = title || ' (remastered)' WHERE id % 100 = 0");
    const plan = engineNamed('duckdb')!.chunking!(v1);
    expect(plan).toEqual({ headerBytes: 12288, chunkBytes: 262144 });
    const store = await openStore(path.join(dir, 'store'));

    const a = await backupInto(store, v1, 'production', 'production_data_20240101_020000.duckdb', plan);
    expect(a.ingest.sha256).toBe(sha256(v1));
    expect(a.ingest.bytes).toBe(fs.statSync(v1).size);
    expect(a.ingest.blocks[0]!.length).toBe(12288);
    expect(a.ingest.blocks.slice(1, -1).every((b) => b.length === 262144)).toBe(true);
    expect(a.ingest.packs.length).toBeGreaterThan(1); // 1 MiB test packs
    const b = await backupInto(store, v2, 'production', 'production_data_20240102_020000.duckdb', plan);
    expect(b.ingest.reusedBlocks).toBeGreaterThan(b.ingest.newBlocks);
    expect(b.ingest.newBlocks).toBeGreaterThan(0);

    const snaps = await store.snapshots('production');
    expect(snaps.map((s) => s.id)).toEqual(['production_data_20240102_020000', 'production_data_20240101_020000']);
    for (const [file, name] of [[v1, 'production_data_20240101_020000.duckdb'], [v2, 'production_data_20240102_020000.duckdb']] as const) {
      const snap = findSnap(snaps, name);
      expect(snap.manifest.store).toMatchObject({ blocks: `${name}.blocks`, blockCount: expect.any(Number), chunking: plan });
      const out = path.join(dir, `out-${name}`);
      expect(await store.materialise(snap, out)).toEqual({ bytes: fs.statSync(file).size, sha256: sha256(file) });
      expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);
      expect(fs.statSync(out).mode & 0o777).toBe(0o600);
      expect((await collectBytes(store.readBlocks(snap))).equals(fs.readFileSync(file))).toBe(true);
    }
    const stats = await store.stats();
    expect(stats.snapshots).toBe(2);
    expect(stats.logicalBytes).toBe(fs.statSync(v1).size + fs.statSync(v2).size);
    expect(stats.storedBytes).toBeLessThan(stats.logicalBytes * 0.75);
    expect((await store.check({ readData: true })).ok).toBe(true);

    const root = path.join(dir, 'store');
    expect(fs.statSync(root).mode & 0o777).toBe(0o700);
    for (const f of treeOf(root)) expect([f, fs.statSync(path.join(root, f)).mode & 0o777]).toEqual([f, 0o600]);
  });

  test('a SQLite file by whole pages; a few changed rows give a few new blocks', async () => {
    const dir = fresh();
    const db = path.join(dir, 'app.sqlite');
    createSqliteDb(db, { journalMode: 'delete', tracks: 3000 });
    const plan = engineNamed('sqlite')!.chunking!(db);
    expect(plan.headerBytes).toBe(0);
    expect(plan.chunkBytes % 4096).toBe(0);
    const store = await openStore(path.join(dir, 'store'));
    const a = await backupInto(store, db, 'staging', 'staging_data_1.sqlite', plan);
    const before = fs.readFileSync(db);
    const h = new Database(db);
    h.prepare("UPDATE tracks SET title = 'changed' WHERE id = 1500").run();
    h.close();
    const b = await backupInto(store, db, 'staging', 'staging_data_2.sqlite', plan);
    expect(b.ingest.newBlocks).toBeLessThanOrEqual(3);
    expect(b.ingest.reusedBlocks).toBeGreaterThanOrEqual(a.ingest.blocks.length - 3);
    const out1 = path.join(dir, 'out1.sqlite');
    const out2 = path.join(dir, 'out2.sqlite');
    await store.materialise(a.snap, out1);
    await store.materialise(b.snap, out2);
    expect(fs.readFileSync(out1).equals(before)).toBe(true);
    expect(sha256(out2)).toBe(sha256(db));
    const r = new Database(out2, { readonly: true });
    expect(r.prepare('SELECT title FROM tracks WHERE id = 1500').get()).toEqual({ title: 'changed' });
    r.close();
  });

  test('edge sizes: an empty file, a file shorter than the header chunk; a stream in odd pieces cuts the same blocks as the file', async () => {
    const dir = fresh();
    const store = await openStore(path.join(dir, 'store'));
    const empty = path.join(dir, 'empty.bin');
    fs.writeFileSync(empty, '');
    const small = path.join(dir, 'small.bin');
    fs.writeFileSync(small, crypto.randomBytes(100));
    const e = await backupInto(store, empty, 't', 'e.bin', { headerBytes: 12288, chunkBytes: 4096 });
    expect(e.ingest).toMatchObject({ bytes: 0, blocks: [], sha256: sha256(empty) });
    const s = await backupInto(store, small, 't', 's.bin', { headerBytes: 12288, chunkBytes: 4096 });
    expect(s.ingest.blocks.map((x) => x.length)).toEqual([100]);
    for (const [snap, file] of [[e.snap, empty], [s.snap, small]] as const) {
      const out = path.join(dir, `out-${snap.fileName}`);
      await store.materialise(snap, out);
      expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);
    }

    const big = crypto.randomBytes(300_000);
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, big);
    const plan = { headerBytes: 1000, chunkBytes: 65536 };
    const lock = await store.lockShared('test');
    const fromFile = await store.ingestFile(file, plan);
    async function* pieces() { for (let i = 0; i < big.length; i += 7777) yield big.subarray(i, i + 7777); }
    const fromStream = await store.ingestStream(pieces(), plan);
    await lock.release();
    expect(fromStream.blocks).toEqual(fromFile.blocks);
    expect(fromStream).toMatchObject({ sha256: fromFile.sha256, newBlocks: 0, reusedBlocks: fromFile.blocks.length, packs: [] });
    expect(fromFile.blocks.map((x) => x.length)).toEqual([1000, 65536, 65536, 65536, 65536, 36856]);
  });

  test('through a backend without ranged reads (an object store): each pack is fetched once, blocks written at their offsets', async () => {
    const dir = fresh();
    const root = path.join(dir, 'store');
    const local = await openStore(root, 4 * 65536);
    const a = crypto.randomBytes(8 * 65536);
    const same = a.subarray(0, 65536);
    // blocks of b interleave packs: new, old, new, old…, and one block repeats at several offsets
    const b = Buffer.concat([crypto.randomBytes(65536), a.subarray(4 * 65536, 5 * 65536), crypto.randomBytes(65536), same, a.subarray(65536, 2 * 65536), same, a.subarray(6 * 65536, 7 * 65536), same]);
    fs.writeFileSync(path.join(dir, 'a.bin'), a);
    fs.writeFileSync(path.join(dir, 'b.bin'), b);
    await backupInto(local, path.join(dir, 'a.bin'), 't', 'a.bin', { headerBytes: 0, chunkBytes: 65536 });
    await backupInto(local, path.join(dir, 'b.bin'), 't', 'b.bin', { headerBytes: 0, chunkBytes: 65536 });
    const objects = objectsOnly(new LocalBackend(root));
    const remote = await Store.open(objects);
    const snap = findSnap(await remote.snapshots('t'), 'b.bin');
    const out = path.join(dir, 'out.bin');
    expect(await remote.materialise(snap, out)).toEqual({ bytes: b.length, sha256: crypto.createHash('sha256').update(b).digest('hex') });
    expect(fs.readFileSync(out).equals(b)).toBe(true);
    const packGets = [...objects.gets].filter(([k]) => k.startsWith('packs/'));
    expect(packGets.length).toBe(3);
    expect(packGets.every(([, n]) => n === 1)).toBe(true);
  });

  test('publish refuses a manifest of other bytes and never rewrites a published snapshot; removeSnapshot unpublishes (manifest, then block list) and is idempotent', async () => {
    const dir = fresh();
    const store = await openStore(path.join(dir, 'store'));
    const file = path.join(dir, 'f.bin');
    fs.writeFileSync(file, crypto.randomBytes(50_000));
    const r = await store.ingestFile(file, DEFAULT_CHUNK_PLAN);
    await expect(store.publish('t', 'x.bin', manifestFor('t', 'x', r.bytes, 'f'.repeat(64)), r)).rejects.toBeInstanceOf(IntegrityError);
    expect(await store.snapshots()).toEqual([]);
    const snap = await store.publish('t', 'x.bin', manifestFor('t', 'x'), r);
    expect(snap.manifest).toMatchObject({ bytes: 50_000, sha256: sha256(file) });
    expect((await store.snapshots('t')).map((s) => s.fileName)).toEqual(['x.bin']);
    expect(await store.publish('t', 'x.bin', manifestFor('t', 'x'), r)).toEqual(snap); // the same bytes again: idempotent
    fs.writeFileSync(file, crypto.randomBytes(50_000));
    const other = await store.ingestFile(file, DEFAULT_CHUNK_PLAN);
    await expect(store.publish('t', 'x.bin', manifestFor('t', 'x'), other)).rejects.toMatchObject({ exitCode: 6, code: 'store-snapshot-exists' });
    expect((await store.readSnapshot('t', 'x.bin'))!.manifest.sha256).toBe(snap.manifest.sha256);
    await store.removeSnapshot(snap);
    await store.removeSnapshot(snap);
    expect(await store.snapshots()).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'store', 'snapshots', 't'))).toEqual([]);
  });
});

describe('opening', () => {
  const before = (dir: string) => treeOf(dir).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('hex')]);

  test('a folder with objects but no config.json is another tool\'s: StorageError (exit 6), nothing touched', async () => {
    const dir = fresh();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'abc'), 'restic data');
    const was = before(dir);
    const err = await Store.open(new LocalBackend(dir), { create: true }).catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ exitCode: 6, code: 'store-foreign' });
    expect(err.message).toContain(dir);
    expect(err.message).toContain('no config.json');
    expect(before(dir)).toEqual(was);
  });

  test('config.json of another format, or not JSON: StorageError naming it, nothing touched', async () => {
    for (const text of ['{"format":"dbguard-store/2","hash":"sha256"}', 'not json']) {
      const dir = fresh();
      fs.writeFileSync(path.join(dir, 'config.json'), text);
      const was = before(dir);
      const err = await Store.open(new LocalBackend(dir), { create: true }).catch((e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.message).toContain(path.join(dir, 'config.json'));
      if (text.startsWith('{')) expect(err.message).toContain('dbguard-store/2');
      expect(before(dir)).toEqual(was);
    }
  });

  test('no store without create; an encrypted store refuses to open without encryption', async () => {
    const dir = fresh();
    await expect(Store.open(new LocalBackend(path.join(dir, 'none')))).rejects.toMatchObject({ exitCode: 6, code: 'store-missing' });
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ format: 'dbguard-store/1', createdAt: 'x', hash: 'sha256', encryption: { algorithm: 'AES-256-GCM', kdf: {}, check: 'x' } }));
    await expect(Store.open(new LocalBackend(dir))).rejects.toMatchObject({ exitCode: 6, code: 'store-encryption' });
  });
});

describe('README', () => {
  test('the python3 script of "Store format (dbguard-store/1)" rebuilds a backup without dbguard', async () => {
    const py = spawnSync('python3', ['--version']);
    if (py.error) throw new Error('this test runs the README\'s python3 script and needs python3 (Debian package python3): apt-get install python3');
    const readme = fs.readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
    const m = /<!-- store-python-begin -->\n```python\n([\s\S]*?)```\n<!-- store-python-end -->/.exec(readme);
    expect(m).not.toBeNull();
    const dir = fresh();
    const script = path.join(dir, 'rebuild.py');
    fs.writeFileSync(script, m![1]!);
    const db = path.join(dir, 'p.duckdb');
    await createMusicDb(db, 1);
    const store = await openStore(path.join(dir, 'store'));
    await backupInto(store, db, 'production', 'production_data_1.duckdb', engineNamed('duckdb')!.chunking!(db));
    const out = path.join(dir, 'rebuilt.duckdb');
    const r = spawnSync('python3', [script, path.join(dir, 'store'), 'production', 'production_data_1.duckdb', out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`ok ${fs.statSync(db).size} bytes`);
    expect(sha256(out)).toBe(sha256(db));
  });
});
