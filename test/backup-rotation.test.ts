/**
 * Rotation after a backup (keep the newest N valid ones, never touch a file
 * dbguard did not name), and refusals: a busy or damaged source and storage
 * errors fail with their exit codes, leave nothing behind and remove nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { listBackups } from '../src/ops/list';
import { stampOf } from '../src/storage/naming';
import { cloneBackup, dataBlockOffset, filesIn, flipByte, makeProject, manualClock, type Project } from './helpers/backup';
import { CLI, cleanEnv, hasStackTrace, runCli } from './helpers/cli';
import { holdDatabase, release } from './helpers/hold';

const MINUTE = 60_000;
/** DBGUARD_SLOW_TESTS=1 makes all 32 rotation runs real backups; by default runs 2–30 are cloned. */
const ALL_REAL = Boolean(process.env.DBGUARD_SLOW_TESTS);

describe('rotation', () => {
  let p: Project;
  const t0 = new Date(2024, 2, 1, 2, 0, 0);
  const idAt = (i: number) => `production_data_${stampOf(new Date(t0.getTime() + i * MINUTE))}`;
  const strays = ['notes.txt', 'production_data_manual.duckdb', 'production_data_20240301.duckdb', 'production_backup_old.duckdb', 'README', '.production_data_notes.tmp'];
  const incomplete = 'production_data_20000101_000000.duckdb';
  let stagingId: string;

  beforeAll(async () => { p = await makeProject(0.01); });
  afterAll(() => p.cleanup());

  test('32 runs with keep 30 leave the newest 30 valid backups; each run past 30 removes the oldest', async () => {
    const config = p.config();
    expect(config.keep).toBe(30);
    const clock = manualClock(t0);
    const removed: string[][] = [];
    for (let i = 0; i < 32; i++) {
      clock.set(new Date(t0.getTime() + i * MINUTE));
      if (i === 0 || i >= 30 || ALL_REAL) {
        const r = await backupTarget(config, 'production', { clock });
        expect(r.id).toBe(idAt(i));
        expect(r.status).toBe('valid');
        removed.push(r.removed);
      } else {
        // a finished run's files, without running DuckDB: a copy of the first backup with its own manifest
        cloneBackup(path.join(p.backups, `${idAt(0)}.duckdb`), 'production', clock.now());
        removed.push([]);
      }
      if (i === 0) {
        // files dbguard did not write, an incomplete backup and another target's backup
        for (const s of strays) fs.writeFileSync(path.join(p.backups, s), 'not a dbguard backup');
        fs.copyFileSync(path.join(p.backups, `${idAt(0)}.duckdb`), path.join(p.backups, incomplete));
        stagingId = cloneBackup(path.join(p.backups, `${idAt(0)}.duckdb`), 'staging', new Date(2023, 0, 1));
      }
    }
    expect(removed.slice(0, 30).every((r) => r.length === 0)).toBe(true);
    expect(removed[30]).toEqual([idAt(0)]);
    expect(removed[31]).toEqual([idAt(1)]);

    const listed = listBackups(config, 'production', {}).backups;
    const valid = listed.filter((b) => b.status === 'valid').map((b) => b.id);
    expect(valid).toEqual(Array.from({ length: 30 }, (_, k) => idAt(31 - k)));
    expect(listed.find((b) => b.id === incomplete.replace('.duckdb', ''))?.status).toBe('incomplete');
    const files = filesIn(p.backups);
    for (const s of [...strays, incomplete, `${stagingId}.duckdb`, `${stagingId}.duckdb.json`]) expect(files).toContain(s);
    expect(files).not.toContain(`${idAt(0)}.duckdb`);
    expect(files).not.toContain(`${idAt(0)}.duckdb.json`);
    // no temporary file of dbguard is left; a look-alike of the user's is not cleaned
    expect(files.filter((f) => f.startsWith('.'))).toEqual(['.production_data_notes.tmp']);
  });

  test('CLI --keep=2 keeps the 2 newest valid and removes only backups it named', () => {
    const before = filesIn(p.backups);
    const r = runCli(['backup', 'production', '--keep=2', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    const b = r.json.backups[0];
    // 30 valid + the new one, keep 2: the 29 oldest go
    expect(b.removed).toHaveLength(29);
    expect(new Set(b.removed)).toEqual(new Set(Array.from({ length: 29 }, (_, k) => idAt(k + 2))));
    const files = filesIn(p.backups);
    expect(files.filter((f) => /^production_data_\d{8}_\d{6}(_\d+)?\.duckdb$/.test(f)).sort()).toEqual([incomplete, `${idAt(31)}.duckdb`, `${b.id}.duckdb`].sort());
    for (const s of [...strays, `${stagingId}.duckdb`, `${stagingId}.duckdb.json`]) expect(files).toContain(s);
    expect(before.length - files.length).toBe(29 * 2 - 2);
  });
});

describe('refusals: a failed run leaves nothing behind and removes nothing', () => {
  let p: Project;
  let before: string[];
  beforeAll(async () => {
    p = await makeProject(1);
    const clock = manualClock(new Date(2024, 0, 1, 2, 0, 0));
    const first = await backupTarget(p.config(), 'production', { clock });
    cloneBackup(first.file, 'production', new Date(2024, 0, 2, 2, 0, 0));
    fs.writeFileSync(path.join(p.backups, 'notes.txt'), 'mine');
    before = filesIn(p.backups);
  });
  afterAll(() => p.cleanup());

  test('--no-live, a source held read-write by another process: exit 5 naming the PID, no temporary file, nothing rotated', async () => {
    const holder = await holdDatabase(p.db);
    try {
      const r = runCli(['backup', 'production', '--no-live', '--keep', '1', '--json'], { cwd: p.dir });
      expect(r.code).toBe(5);
      expect(r.json.ok).toBe(false);
      expect(r.json.errors[0]).toMatchObject({ target: 'production', exitCode: 5 });
      expect(r.json.errors[0].message).toContain(`PID ${holder.pid}`);
      expect(r.json.errors[0].message).toContain(p.db);
      const err = JSON.parse(r.stderr.trim().split('\n').pop()!);
      expect(err.error).toMatchObject({ exitCode: 5, message: expect.stringContaining(`PID ${holder.pid}`) });
      expect(filesIn(p.backups)).toEqual(before);

      const human = runCli(['backup', 'production', '--no-live'], { cwd: p.dir });
      expect(human.code).toBe(5);
      expect(human.stderr).toContain(`PID ${holder.pid}`);
      expect(human.stderr).toMatch(/--wait/);
      expect(hasStackTrace(human.stderr)).toBe(false);
      expect(filesIn(p.backups)).toEqual(before);
    } finally {
      await release(holder);
    }
  });

  test('a damaged but openable source: exit 4 and nothing rotated; --allow-damaged stores it as invalid, never counted', async () => {
    const good = fs.readFileSync(p.db);
    try {
      flipByte(p.db, await dataBlockOffset(p.db, 'tracks'));
      const r = runCli(['backup', 'production', '--keep', '1', '--json'], { cwd: p.dir });
      expect(r.code).toBe(4);
      expect(r.json.errors[0]).toMatchObject({ target: 'production', exitCode: 4 });
      expect(r.json.errors[0].message).toMatch(/tracks/);
      expect(filesIn(p.backups)).toEqual(before);

      const allowed = runCli(['backup', 'production', '--keep', '1', '--allow-damaged', '--json'], { cwd: p.dir });
      expect(allowed.code).toBe(4);
      const b = allowed.json.backups[0];
      expect(b.status).toBe('invalid');
      expect(b.problems.join(' ')).toMatch(/tracks/);
      expect(b.removed).toEqual([]);
      expect(filesIn(p.backups)).toEqual([...before, `${b.id}.duckdb`, `${b.id}.duckdb.json`].sort());
      const listed = listBackups(p.config(), 'production', {}).backups;
      expect(listed.find((x) => x.id === b.id)?.status).toBe('invalid');
      // verify --latest skips it: the newest *valid* backup is verified
      const v = runCli(['verify', 'production', '--json'], { cwd: p.dir });
      expect(v.code).toBe(0);
      expect(v.json.results[0].id).not.toBe(b.id);
      // and a prune never removes it
      const pr = runCli(['prune', 'production', '--keep', '1', '--dry-run', '--json'], { cwd: p.dir });
      expect(pr.json.targets[0].removed.map((x: any) => x.id)).not.toContain(b.id);
      fs.rmSync(b.file);
      fs.rmSync(`${b.file}.json`);
    } finally {
      fs.writeFileSync(p.db, good);
    }
  });

  test('a text file or a missing file as source: exit 4, nothing rotated, no stack trace', () => {
    const good = fs.readFileSync(p.db);
    try {
      fs.writeFileSync(p.db, 'this is not a database\n'.repeat(1000));
      const r = runCli(['backup', 'production', '--keep', '1'], { cwd: p.dir });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(p.db);
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(filesIn(p.backups)).toEqual(before);
      fs.rmSync(p.db);
      const missing = runCli(['backup', 'production', '--keep', '1', '--json'], { cwd: p.dir });
      expect(missing.code).toBe(4);
      expect(missing.json.errors[0].message).toContain(p.db);
      expect(filesIn(p.backups)).toEqual(before);
    } finally {
      fs.writeFileSync(p.db, good);
    }
  });
});

describe('storage errors: exit 6 naming the path', () => {
  let p: Project;
  beforeAll(async () => { p = await makeProject(0.01); });
  afterAll(() => p.cleanup());

  test('a backup folder under a regular file cannot be created', () => {
    fs.writeFileSync(path.join(p.dir, 'afile'), 'x');
    const r = runCli(['backup', 'production'], { cwd: p.dir, env: { DBGUARD_BACKUP_DIR: 'afile/backups' } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(path.join(p.dir, 'afile', 'backups'));
    expect(r.stderr).toContain(`${path.join(p.dir, 'afile')} is a file`);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const j = runCli(['backup', 'production', '--json'], { cwd: p.dir, env: { DBGUARD_BACKUP_DIR: 'afile/backups' } });
    expect(j.code).toBe(6);
    expect(j.json.errors[0]).toMatchObject({ exitCode: 6, message: expect.stringContaining('afile') });
  });

  (process.platform === 'linux' ? test : test.skip)('a backup folder the kernel refuses to create, even for root (under /proc)', () => {
    const dir = `/proc/dbguard-test-${process.pid}/backups`;
    // Node's own recursive mkdir loops forever here, deaf to SIGTERM: a hang must end as a failure, not a stuck suite
    const r = spawnSync(process.execPath, [CLI, 'backup', 'production'], { cwd: p.dir, env: cleanEnv({ DBGUARD_BACKUP_DIR: dir }), encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL' });
    expect(r.status).toBe(6);
    expect(r.stderr).toContain(dir);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  test('not enough free space for the copy: exit 6 with the numbers, nothing written', () => {
    const free = Number(fs.statfsSync(p.dir).bavail) * Number(fs.statfsSync(p.dir).bsize);
    const blocks = Math.ceil((free * 1.2) / 262144);
    const sparse = path.join(p.dir, 'data', 'huge.duckdb');
    fs.copyFileSync(p.db, sparse);
    try {
      // a healthy database, extended by whole (empty) blocks: a sparse file larger than the free space
      fs.truncateSync(sparse, 12288 + blocks * 262144);
    } catch (err) {
      console.warn(`skipped: cannot make a sparse file of ${free * 1.2} bytes here (${(err as Error).message})`);
      return;
    }
    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir, env: { DBGUARD_PRODUCTION_PATH: sparse } });
    fs.rmSync(sparse);
    expect(r.code).toBe(6);
    expect(r.json.errors[0].code).toBe('disk-full');
    expect(r.json.errors[0].message).toMatch(/\d+ bytes free, \d+ needed/);
    expect(r.json.errors[0].message).toContain(p.backups);
    expect(filesIn(p.backups)).toEqual([]);
  });
});
