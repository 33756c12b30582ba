/**
 * Backups in blocks format (issue 11) through the built CLI and the ops API:
 * a day-by-day history where every version restores to exactly its rows,
 * plain demotion (the newest `plain` stay plain files that DuckDB opens
 * directly), list's location and dedup ratio, verify finding a flipped byte
 * or a missing pack and naming the backups it affects, two targets backing
 * up into one store at once, and prune freeing what nothing references.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { contentOf, filesIn, flipByte, makeProject, manualClock, type Project } from './helpers/backup';
import { runCli, runCliAsync } from './helpers/cli';
import { createMusicDb, execSql, sha256, tempDir, writeConfig } from './helpers/db';
import { createSqliteDb, withSqlite } from './helpers/sqlite';
import { blocksOf, expectRows, packsOf, restoreTo, storeDir, storeManifest } from './helpers/blocks';

const BLOCKS = { storage: { format: 'blocks', plain: 1 } };
const day = (n: number) => new Date(2024, 0, 1 + n, 2, 0, 0);

/** Changes about 1% of the tracks and adds a few, as a day of use would. */
const changeADay = (db: string, n: number) => execSql(db, `UPDATE tracks SET plays = plays + ${n + 1} WHERE id % 97 = ${n}; INSERT INTO tracks (album_id, title, duration_ms, plays, added_at) SELECT 1 + i % 1000, 'New ${n} ' || i, 180000, 0, TIMESTAMP '2024-02-01' FROM range(0, 40) t(i);`);

describe('a day-by-day history in blocks format', () => {
  let p: Project;
  let out: { dir: string; cleanup(): void };
  const ids: string[] = [];

  beforeAll(async () => {
    p = await makeProject(1, BLOCKS);
    out = tempDir('dbguard-store-out-');
    for (let n = 0; n < 4; n++) {
      if (n > 0) await changeADay(p.db, n);
      const r = await backupTarget(p.config(), 'production', { clock: manualClock(day(n)) });
      expect(r.status).toBe('valid');
      expect(r.location).toBe('plain+store');
      ids.push(r.id);
    }
  });
  afterAll(() => { p.cleanup(); out.cleanup(); });

  test('only the newest backup stays a plain file (plain = 1); list says where each one is and the dedup ratio', () => {
    const plain = filesIn(p.backups).filter((f) => f.endsWith('.duckdb'));
    expect(plain).toEqual([`${ids[3]}.duckdb`]);
    const r = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.backups.map((b: any) => [b.id, b.location, b.status])).toEqual([
      [ids[3], 'plain+store', 'valid'], [ids[2], 'store', 'valid'], [ids[1], 'store', 'valid'], [ids[0], 'store', 'valid'],
    ]);
    const logical = r.json.backups.reduce((n: number, b: any) => n + b.bytes, 0);
    expect(r.json.store.logicalBytes).toBe(logical);
    // four versions take far less than four copies (this small file's updates touch many of its few blocks)
    expect(r.json.store.storedBytes).toBeLessThan(logical * 0.6);
    expect(r.json.store.dedupRatio).toBeGreaterThan(1.6);
    const human = runCli(['list', 'production'], { cwd: p.dir });
    expect(human.stdout).toMatch(/WHERE/);
    expect(human.stdout).toContain(`${ids[2]}`);
    expect(human.stdout).toMatch(/store\s+.+ on disk for .+ of backups \(4 backup\(s\)/);
  });

  test('every version restores (restore --from ID --to PATH) to exactly the rows it had', async () => {
    for (const id of ids) {
      const { r, dest } = restoreTo(p, id, out.dir);
      expect({ id, code: r.code, stderr: r.stderr }).toEqual({ id, code: 0, stderr: '' });
      expect(r.json.from).toBe(id);
      await expectRows(dest, storeManifest(p, id));
      expect(fs.statSync(dest).size).toBe(storeManifest(p, id).bytes);
    }
    // the versions really differ: day 0 lacks the tracks added later
    expect((await contentOf(path.join(out.dir, `${ids[0]}.duckdb`)))['main.tracks']!.rows).toBe(5000);
    expect((await contentOf(path.join(out.dir, `${ids[3]}.duckdb`)))['main.tracks']!.rows).toBe(5120);
  });

  test('restore --at picks the store-only backup of that day', async () => {
    const dest = path.join(out.dir, 'at.duckdb');
    const at = new Date(day(1).getTime() + 3600 * 1000).toISOString();
    const r = runCli(['restore', 'production', '--at', at, '--to', dest, '--yes', '--json'], { cwd: p.dir });
    expect([r.code, r.json?.from, r.json?.source]).toEqual([0, ids[1], 'store']);
    await expectRows(dest, storeManifest(p, ids[1]!));
  });

  test('a cp of the plain file is a DuckDB database with the newest rows', async () => {
    const copy = path.join(out.dir, 'cp.duckdb');
    fs.copyFileSync(path.join(p.backups, `${ids[3]}.duckdb`), copy);
    await expectRows(copy, storeManifest(p, ids[3]!));
  });

  test('restore --from a store-only backup replaces the target with its rows; --dry-run changes nothing', async () => {
    const r = runCli(['restore', 'production', '--from', ids[1]!, '--yes', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.source).toBe('store');
    await expectRows(p.db, storeManifest(p, ids[1]!));
    expect(fs.readdirSync(path.dirname(p.db)).filter((f) => f.includes('dbguard-tmp'))).toEqual([]);
    const dry = runCli(['restore', 'production', '--from', ids[0]!, '--dry-run', '--json'], { cwd: p.dir });
    expect(dry.code).toBe(0);
    await expectRows(p.db, storeManifest(p, ids[1]!));
  });

  test('verify --all and --read-data pass on a sound store and record verifiedAt in the store manifests', () => {
    const all = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
    expect(all.code).toBe(0);
    expect(all.json.results.map((x: any) => [x.id, x.ok])).toEqual([...ids].reverse().map((id) => [id, true]));
    const deep = runCli(['verify', 'production', '--id', ids[0]!, '--read-data', '--json'], { cwd: p.dir });
    expect(deep.code).toBe(0);
    expect(storeManifest(p, ids[0]!).verifiedAt).toEqual(expect.any(String));
    expect(filesIn(p.backups).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  describe('damage in the store', () => {
    let d: Project;
    beforeEach(() => {
      const t = tempDir('dbguard-store-damage-');
      fs.cpSync(p.dir, t.dir, { recursive: true });
      d = { ...p, dir: t.dir, db: path.join(t.dir, 'data', 'production.duckdb'), backups: path.join(t.dir, 'backups'), configFile: path.join(t.dir, 'dbguard.config.json'), cleanup: t.cleanup };
    });
    afterEach(() => d.cleanup());

    /** The backups whose block lists need any of `hashes`. */
    const dependents = (hashes: Set<string>) => ids.filter((id) => blocksOf(d, id).some((h) => hashes.has(h)));

    test('a flipped byte in a pack: verify --all exits 4 and names exactly the backups that need that block', () => {
      // a block only the last two days need: the others must still pass
      const pack = packsOf(d).find((pk) => pk.blocks.some(([h]) => !blocksOf(d, ids[0]!).includes(h) && !blocksOf(d, ids[1]!).includes(h)))!;
      const [hash, offset, length] = pack.blocks.find(([h]) => !blocksOf(d, ids[0]!).includes(h) && !blocksOf(d, ids[1]!).includes(h))!;
      flipByte(pack.file, offset + Math.floor(length / 2));
      const affected = dependents(new Set([hash]));
      expect(affected.length).toBeGreaterThan(0);
      const r = runCli(['verify', 'production', '--all', '--json'], { cwd: d.dir });
      expect(r.code).toBe(4);
      const bad = r.json.results.filter((x: any) => !x.ok).map((x: any) => x.id).sort();
      expect(bad).toEqual([...affected].sort());
      for (const x of r.json.results.filter((y: any) => !y.ok)) expect(x.findings.map((f: any) => f.message).join(' ')).toContain(pack.id);
      const human = runCli(['verify', 'production', '--all'], { cwd: d.dir });
      expect(human.code).toBe(4);
      for (const id of affected) expect(human.stdout + human.stderr).toContain(id);
    });

    test('a missing pack: verify --all exits 4 and names every backup that needs it; restore of such a backup changes nothing', async () => {
      // a pack the oldest (store-only) backup needs
      const pack = packsOf(d).find((pk) => pk.blocks.some(([h]) => blocksOf(d, ids[0]!).includes(h)))!;
      fs.rmSync(pack.file);
      const affected = dependents(new Set(pack.blocks.map(([h]) => h)));
      expect(affected.length).toBeGreaterThan(0);
      const r = runCli(['verify', 'production', '--all', '--json'], { cwd: d.dir });
      expect(r.code).toBe(4);
      expect(r.json.results.filter((x: any) => !x.ok).map((x: any) => x.id).sort()).toEqual([...affected].sort());
      expect(affected).toContain(ids[0]);
      const storeOnly = ids[0]!;
      const before = fs.readFileSync(d.db);
      const res = runCli(['restore', 'production', '--from', storeOnly, '--yes'], { cwd: d.dir });
      expect(res.code).toBe(4);
      expect(fs.readFileSync(d.db).equals(before)).toBe(true);
    });
  });
});

describe('blocks format with several targets and prune', () => {
  let p: Project;
  let out: { dir: string; cleanup(): void };
  beforeAll(async () => {
    p = await makeProject(1, { ...BLOCKS, keep: 2 });
    await createMusicDb(path.join(p.dir, 'data', 'staging.duckdb'), 1);
    await execSql(path.join(p.dir, 'data', 'staging.duckdb'), `UPDATE tracks SET title = 'staging ' || id WHERE id % 3 = 0`);
    out = tempDir('dbguard-store-out-');
  });
  afterAll(() => { p.cleanup(); out.cleanup(); });

  test('two backups of different targets into one store at once (two processes): both valid, both restore', async () => {
    const [a, b] = await Promise.all([runCliAsync(['backup', 'production', '--json'], { cwd: p.dir }), runCliAsync(['backup', 'staging', '--json'], { cwd: p.dir })]);
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
    const prod = a.json.backups[0].id;
    const stag = b.json.backups[0].id;
    const { r, dest } = restoreTo(p, prod, out.dir);
    expect(r.code).toBe(0);
    await expectRows(dest, storeManifest(p, prod));
    const s = runCli(['restore', 'staging', '--from', stag, '--to', path.join(out.dir, 's.duckdb'), '--yes'], { cwd: p.dir });
    expect(s.code).toBe(0);
    await expectRows(path.join(out.dir, 's.duckdb'), storeManifest(p, stag, 'staging'));
  });

  test('rotation removes snapshots; prune deletes the packs nothing references and every kept backup still restores', async () => {
    for (let n = 1; n <= 3; n++) {
      await execSql(p.db, `DELETE FROM tracks WHERE id % 10 = ${n}; CHECKPOINT;`);
      const r = await backupTarget(p.config(), 'production', { clock: manualClock(new Date(Date.now() + n * 1000)) });
      expect(r.status).toBe('valid');
    }
    const listed = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
    expect(listed.length).toBe(2);
    const referenced = new Set<string>(listed.flatMap((b: any) => blocksOf(p, b.id)));
    for (const b of runCli(['list', 'staging', '--json'], { cwd: p.dir }).json.backups) for (const h of blocksOf(p, b.id, 'staging')) referenced.add(h);
    const before = packsOf(p).length;
    const r = runCli(['prune', 'all', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.store).toEqual(expect.objectContaining({ deletedPacks: expect.any(Array), dryRun: false }));
    const after = packsOf(p);
    expect(after.length).toBeLessThanOrEqual(before);
    // every remaining pack holds a block some backup needs, and every needed block is still there
    const present = new Set(after.flatMap((pk) => pk.blocks.map(([h]) => h)));
    for (const h of referenced) expect(present.has(h)).toBe(true);
    for (const pk of after) expect(pk.blocks.some(([h]) => referenced.has(h))).toBe(true);
    for (const b of listed) {
      const { r: res, dest } = restoreTo(p, b.id, out.dir);
      expect(res.code).toBe(0);
      await expectRows(dest, storeManifest(p, b.id));
    }
    expect(fs.existsSync(storeDir(p))).toBe(true);
  });
});

describe('blocks format with plain = 0 (every backup only in the store)', () => {
  let p: Project;
  let id: string;
  beforeAll(async () => {
    p = await makeProject(1, { storage: { format: 'blocks', plain: 0 } });
    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.json.backups[0]).toEqual(expect.objectContaining({ location: 'store', demoted: [] }));
    id = r.json.backups[0].id;
  });
  afterAll(() => p.cleanup());

  test('no plain file; status and verify --latest see the store backup', () => {
    expect(filesIn(p.backups).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
    const s = runCli(['status', 'production', '--json'], { cwd: p.dir });
    expect(JSON.stringify(s.json)).toContain(id);
    const v = runCli(['verify', 'production', '--read-data', '--json'], { cwd: p.dir });
    expect(v.code).toBe(0);
    expect(v.json.results.map((x: any) => x.id)).toEqual([id]);
  });

  test('repair --strategy restore of a damaged database puts the store backup back, read in full first', async () => {
    fs.writeFileSync(p.db, Buffer.alloc(fs.statSync(p.db).size, 0x5a));
    const r = runCli(['repair', 'production', '--strategy', 'restore', '--yes', '--json'], { cwd: p.dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.json.strategy).toBe('restore');
    expect(r.json.details.restoredFrom).toBe(id);
    await expectRows(p.db, storeManifest(p, id));
  });
});

describe('a damaged plain file of a backup that is also in the store', () => {
  test('restore takes the store copy; verify names the plain file', async () => {
    const p = await makeProject(1, BLOCKS);
    const out = tempDir('dbguard-store-out-');
    try {
      const b = await backupTarget(p.config(), 'production', {});
      const plain = path.join(p.backups, `${b.id}.duckdb`);
      flipByte(plain, Math.floor(fs.statSync(plain).size / 2));
      const v = runCli(['verify', 'production', '--json'], { cwd: p.dir });
      expect(v.code).toBe(4);
      expect(v.json.results[0].findings.map((f: any) => f.code)).toContain('checksum-mismatch');
      const { r, dest } = restoreTo(p, b.id, out.dir);
      expect([r.code, r.json?.source]).toEqual([0, 'store']);
      await expectRows(dest, storeManifest(p, b.id));
    } finally {
      p.cleanup();
      out.cleanup();
    }
  });
});

describe('demotion keeps a plain file whose store copy is not proven', () => {
  test('the packs only the older backup needs are gone: the next backup keeps its plain file, and it still restores', async () => {
    const p = await makeProject(1, BLOCKS);
    const out = tempDir('dbguard-store-out-');
    try {
      const a = await backupTarget(p.config(), 'production', { clock: manualClock(day(0)) });
      const plainA = path.join(p.backups, `${a.id}.duckdb`);
      const bytesA = sha256(plainA);
      // every block of a changes, then the store loses every pack a wrote (a disk error, a hand-made cleanup)
      await execSql(p.db, "UPDATE tracks SET title = title || ' (live)';");
      for (const pack of packsOf(p)) {
        fs.rmSync(pack.file);
        fs.rmSync(path.join(storeDir(p), 'index', `${pack.id}.json`));
      }
      const b = await backupTarget(p.config(), 'production', { clock: manualClock(day(1)) });
      expect(b.status).toBe('valid');
      expect(b.demoted).toEqual([]);
      expect(fs.existsSync(plainA)).toBe(true);
      expect(sha256(plainA)).toBe(bytesA);
      const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
      expect(list.json.backups.map((x: any) => [x.id, x.location])).toEqual([[b.id, 'plain+store'], [a.id, 'plain+store']]);
      const { r, dest } = restoreTo(p, a.id, out.dir);
      expect([r.code, r.json?.source]).toEqual([0, 'plain']);
      expect(sha256(dest)).toBe(bytesA);
    } finally {
      p.cleanup();
      out.cleanup();
    }
  });
});

describe('a SQLite target in blocks format', () => {
  test('cut into whole pages; two versions restore byte for byte and with their rows', async () => {
    const t = tempDir('dbguard-store-sqlite-');
    try {
      const db = path.join(t.dir, 'data', 'music.db');
      createSqliteDb(db, { tracks: 20000, pageSize: 4096 });
      writeConfig(t.dir, { storage: { format: 'blocks', plain: 1 }, targets: { music: { path: 'data/music.db' } } });
      const first = runCli(['backup', 'music', '--json'], { cwd: t.dir });
      expect([first.code, first.stderr]).toEqual([0, '']);
      withSqlite(db, (d) => d.prepare("UPDATE tracks SET lyrics = lyrics || ' (live)' WHERE id <= 30").run(), false);
      const second = runCli(['backup', 'music', '--json'], { cwd: t.dir });
      expect([second.code, second.stderr]).toEqual([0, '']);
      const snap = (id: string) => JSON.parse(fs.readFileSync(path.join(t.dir, 'backups', 'store', 'snapshots', 'music', `${id}.db.json`), 'utf8'));
      for (const b of [first.json.backups[0], second.json.backups[0]]) {
        const m = snap(b.id);
        // a whole number of 4 KiB pages (the engine groups small pages into chunks of at least 64 KiB)
        expect(m.store.chunking.headerBytes).toBe(0);
        expect(m.store.chunking.chunkBytes % 4096).toBe(0);
        const dest = path.join(t.dir, 'out', `${b.id}.db`);
        const r = runCli(['restore', 'music', '--from', b.id, '--to', dest, '--yes', '--json'], { cwd: t.dir });
        expect([r.code, r.stderr]).toEqual([0, '']);
        expect(sha256(dest)).toBe(m.sha256);
        const live = withSqlite(dest, (d) => (d.prepare("SELECT count(*) AS n FROM tracks WHERE lyrics LIKE '% (live)'").get() as { n: number }).n);
        expect(live).toBe(b.id === first.json.backups[0].id ? 0 : 30);
      }
      // a change to 30 neighbouring rows leaves most chunks of the second backup as they were
      expect(second.json.backups[0].store.reusedBlocks).toBeGreaterThan(second.json.backups[0].store.newBlocks);
    } finally {
      t.cleanup();
    }
  });
});
