/**
 * `dbguard backup`: round trip, contents and naming, manifest, modes, the WAL
 * of a killed writer. Real DuckDB files in temp folders, the built CLI in
 * child processes (run `npm run build` after changing src/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFileHeader } from '../src/engines/duckdb/header';
import { backupTarget } from '../src/ops/backup';
import { listBackups } from '../src/ops/list';
import { parseBackupName, stampOf } from '../src/storage/naming';
import { contentOf, filesIn, makeProject, manualClock, readManifestFile, type Project } from './helpers/backup';
import { hasStackTrace, runCli } from './helpers/cli';
import { sha256 } from './helpers/db';
import { holdDatabase } from './helpers/hold';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('backup round trip (CLI)', () => {
  let p: Project;
  let sourceSha: string;
  let sourceContent: Awaited<ReturnType<typeof contentOf>>;
  let run: ReturnType<typeof runCli>;
  let b: any;

  beforeAll(async () => {
    p = await makeProject(1);
    sourceSha = sha256(p.db);
    sourceContent = await contentOf(p.db);
    run = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    b = run.json?.backups?.[0];
  });
  afterAll(() => p.cleanup());

  test('exits 0 with the --json shape of DESIGN.md §1', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json.ok).toBe(true);
    expect(run.json.backups).toHaveLength(1);
    expect(b).toMatchObject({ target: 'production', removed: [], status: 'valid' });
    expect(b.id).toMatch(/^production_data_\d{8}_\d{6}$/);
    expect(b.file).toBe(path.join(p.backups, `${b.id}.duckdb`));
    expect(b.bytes).toBe(fs.statSync(b.file).size);
    expect(b.sha256).toBe(sha256(b.file));
    expect(typeof b.durationMs).toBe('number');
  });

  test('the backup holds the same content as the source: rows and fingerprints of every table', async () => {
    expect(Object.keys(sourceContent).sort()).toEqual(['main.albums', 'main.artists', 'main.tracks']);
    expect(sourceContent['main.tracks']!.rows).toBe(5000);
    expect(await contentOf(b.file)).toEqual(sourceContent);
  });

  test('the backup is one file: no .wal, no temporary file, no lock left beside it', () => {
    expect(filesIn(p.backups)).toEqual([`${b.id}.duckdb`, `${b.id}.duckdb.json`]);
    expect(readFileHeader(b.file).kind).toBe('duckdb');
  });

  test('backup 0600, manifest 0600, backup folder 0700', () => {
    expect(mode(b.file)).toBe(0o600);
    expect(mode(`${b.file}.json`)).toBe(0o600);
    expect(mode(p.backups)).toBe(0o700);
  });

  test('the manifest proves the backup: checksum and every field of DESIGN.md §2', () => {
    const m = readManifestFile(b.file);
    expect(m.format).toBe('dbguard-backup/1');
    expect(m.id).toBe(b.id);
    expect(m.target).toBe('production');
    expect(path.isAbsolute(m.source)).toBe(true);
    expect(m.source).toBe(p.db);
    expect(m.createdAt).toMatch(ISO);
    // the name is the machine's local time of createdAt
    expect(parseBackupName(`${b.id}.duckdb`)!.stamp).toBe(stampOf(new Date(m.createdAt)));
    expect(m.bytes).toBe(fs.statSync(b.file).size);
    expect(m.sha256).toBe(sha256(b.file));
    expect(m.engine).toEqual({ name: 'duckdb', library: expect.stringMatching(/^v\d+\.\d+\.\d+/), storageVersion: readFileHeader(b.file).storageVersion });
    expect(typeof m.engine.storageVersion).toBe('number');
    const tables = Object.fromEntries(m.tables.map((t) => [t.name, t]));
    expect(tables.artists).toMatchObject({ schema: 'main', rows: 200, primaryKey: ['id'] });
    expect(tables.albums).toMatchObject({ schema: 'main', rows: 1000, primaryKey: ['id'] });
    expect(tables.tracks).toMatchObject({ schema: 'main', rows: 5000, primaryKey: ['id'] });
    expect(m.sequences).toEqual([{ schema: 'main', name: 'track_id_seq' }]);
    expect(m.views).toEqual([{ schema: 'main', name: 'album_lengths' }]);
    expect(m.validation.status).toBe('valid');
    expect(m.validation.checkedAt).toMatch(ISO);
    expect(typeof m.validation.durationMs).toBe('number');
  });

  test('list and verify see it, and backup, list and verify leave the source bytes unchanged', () => {
    const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(list.code).toBe(0);
    expect(list.json.backups).toEqual([expect.objectContaining({ target: 'production', id: b.id, file: b.file, bytes: b.bytes, status: 'valid', createdAt: expect.stringMatching(ISO) })]);
    const human = runCli(['list', 'production'], { cwd: p.dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(b.id);
    expect(human.stdout).toMatch(/valid/);
    const verify = runCli(['verify', 'production', '--json'], { cwd: p.dir });
    expect(verify.code).toBe(0);
    expect(verify.json.results).toEqual([expect.objectContaining({ id: b.id, ok: true, findings: [] })]);
    expect(sha256(p.db)).toBe(sourceSha);
    expect(filesIn(path.dirname(p.db))).toEqual(['production.duckdb']);
  });
});

describe('backup of a source with the WAL of a killed writer', () => {
  let p: Project;
  afterAll(() => p?.cleanup());

  test('the rows in the WAL are in the backup, the backup has no .wal, the source and its WAL are unchanged', async () => {
    p = await makeProject(1);
    await holdDatabase(p.db, "INSERT INTO artists SELECT 100000 + i, 'Late ' || i, 'NO' FROM range(50) t(i)", { crash: true });
    expect(fs.existsSync(`${p.db}.wal`)).toBe(true);
    const shaDb = sha256(p.db);
    const shaWal = sha256(`${p.db}.wal`);
    const source = await contentOf(p.db); // a READ_ONLY open replays the WAL in memory only
    expect(source['main.artists']!.rows).toBe(250);

    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    const b = r.json.backups[0];
    expect(b.walIncluded).toBe(true);
    expect(filesIn(p.backups)).toEqual([`${b.id}.duckdb`, `${b.id}.duckdb.json`]);
    expect(await contentOf(b.file)).toEqual(source);
    expect(readManifestFile(b.file).tables.find((t) => t.name === 'artists')!.rows).toBe(250);
    expect(sha256(p.db)).toBe(shaDb);
    expect(sha256(`${p.db}.wal`)).toBe(shaWal);
    // the backup opens on its own: the checkpoint folded the WAL in
    expect(readManifestFile(b.file).sha256).toBe(sha256(b.file));
  });
});

describe('backup naming (ops API, injected clock)', () => {
  let p: Project;
  beforeAll(async () => { p = await makeProject(0.01); });
  afterAll(() => p.cleanup());

  test('backups within the same second get _2, _3; list orders them newest first', async () => {
    fs.mkdirSync(p.backups, { mode: 0o755 });
    fs.chmodSync(p.backups, 0o755);
    const at = new Date(2024, 0, 15, 2, 0, 0); // local time, as in the names
    const clock = manualClock(at);
    const config = p.config();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await backupTarget(config, 'production', { clock })).id);
    expect(ids).toEqual(['production_data_20240115_020000', 'production_data_20240115_020000_2', 'production_data_20240115_020000_3']);
    for (const id of ids) {
      const m = readManifestFile(path.join(p.backups, `${id}.duckdb`));
      expect(m.id).toBe(id);
      expect(m.createdAt).toBe(at.toISOString());
      expect(mode(path.join(p.backups, `${id}.duckdb`))).toBe(0o600);
    }
    expect(listBackups(config, 'production', {}).backups.map((b) => b.id)).toEqual([...ids].reverse());
    // an existing folder keeps its mode (it may be shared on purpose; backup warns instead)
    expect(mode(p.backups)).toBe(0o755);
  });

  test('a later second gets the plain name again', async () => {
    const clock = manualClock(new Date(2024, 0, 15, 2, 0, 1));
    const r = await backupTarget(p.config(), 'production', { clock });
    expect(r.id).toBe('production_data_20240115_020001');
    expect(r.status).toBe('valid');
  });
});

describe('backup of several targets', () => {
  let p: Project;
  afterAll(() => p?.cleanup());

  test('both backs up production and staging; an unknown target is a usage error naming the configured ones', async () => {
    p = await makeProject(0.01);
    fs.copyFileSync(p.db, path.join(path.dirname(p.db), 'staging.duckdb'));
    const r = runCli(['backup', 'both', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.backups.map((b: any) => b.target)).toEqual(['production', 'staging']);
    const bad = runCli(['backup', 'prod'], { cwd: p.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('production');
    expect(bad.stderr).toContain('staging');
    expect(hasStackTrace(bad.stderr)).toBe(false);
  });
});
