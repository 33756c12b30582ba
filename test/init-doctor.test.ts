/** `dbguard init [--demo] [--force]` and `dbguard doctor` through the built CLI. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../src/config/defaults';
import { openDuckdb, queryRows } from '../src/engines/duckdb/open';
import { hasStackTrace, runCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';

const t = tempDir('dbguard-init-doctor-');
afterAll(() => t.cleanup());

let n = 0;
const fresh = () => {
  const dir = path.join(t.dir, `d${++n}`);
  fs.mkdirSync(dir);
  return dir;
};
const noStack = (r: { stdout: string; stderr: string }) => expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);

describe('init', () => {
  test('writes dbguard.config.json with the defaults, which loads', () => {
    const dir = fresh();
    const r = runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    noStack(r);
    expect(r.stdout).toContain('wrote dbguard.config.json');
    const file = path.join(dir, 'dbguard.config.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(DEFAULT_CONFIG);
    // no databases without --demo
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
    // the written config is valid: doctor gets past the config
    const d = runCli(['doctor', '--json'], { cwd: dir });
    expect(d.json.items.find((i: { check: string }) => i.check === 'config')).toMatchObject({ ok: true, detail: `${file} is valid` });
  });

  test('refuses to overwrite an existing config without --force (exit 3), and leaves it alone', () => {
    const dir = fresh();
    const file = path.join(dir, 'dbguard.config.json');
    fs.writeFileSync(file, '{ "keep": 7 }\n');
    const r = runCli(['init'], { cwd: dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stderr).toContain(`${file} already exists`);
    expect(r.stderr).toContain('--force');
    expect(fs.readFileSync(file, 'utf8')).toBe('{ "keep": 7 }\n');
    const j = runCli(['init', '--json'], { cwd: dir });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stderr).error).toMatchObject({ code: 'config-exists', exitCode: 3 });
  });

  test('--force overwrites it with the defaults', () => {
    const dir = fresh();
    const file = path.join(dir, 'dbguard.config.json');
    fs.writeFileSync(file, '{ "keep": 7 }\n');
    const r = runCli(['init', '--force'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(DEFAULT_CONFIG);
  });

  test('--config names where the file goes', () => {
    const dir = fresh();
    const r = runCli(['init', '--config', 'etc/dbguard.json', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, configFile: path.join(dir, 'etc/dbguard.json'), configWritten: true, databases: [] });
    expect(fs.existsSync(path.join(dir, 'etc/dbguard.json'))).toBe(true);
  });

  test('--demo creates both sample databases, and `check both` passes on them', async () => {
    const dir = fresh();
    const r = runCli(['init', '--demo'], { cwd: dir });
    expect(r.code).toBe(0);
    noStack(r);
    const production = path.join(dir, 'data', 'production.duckdb');
    const staging = path.join(dir, 'data', 'staging.duckdb');
    expect(fs.existsSync(staging)).toBe(true);
    expect(r.stdout).toContain('created production database data/production.duckdb');
    expect(r.stdout).toContain('created staging database data/staging.duckdb');
    expect(fs.existsSync(`${production}.wal`)).toBe(false);
    // a SQLite target beside them: the music library's WAL-mode file
    const musique = path.join(dir, 'data', 'musique.db');
    expect(r.stdout).toContain('created music database data/musique.db');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'dbguard.config.json'), 'utf8')).targets.music).toEqual({ path: 'data/musique.db', engine: 'sqlite' });
    expect(fs.readFileSync(musique).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    // header bytes 18/19 are 2 in WAL mode
    expect([...fs.readFileSync(musique).subarray(18, 20)]).toEqual([2, 2]);
    const m = runCli(['check', 'music', '--json'], { cwd: dir });
    expect(m.code).toBe(0);
    expect(m.json.targets[0].engine).toBe('sqlite');
    expect(Object.fromEntries(m.json.targets[0].tables.map((x: { name: string; rows: number }) => [x.name, x.rows]))).toEqual({ albums: 200, artists: 50, tracks: 2000 });

    const c = runCli(['check', 'both', '--json'], { cwd: dir });
    expect(c.code).toBe(0);
    noStack(c);
    expect(c.json.ok).toBe(true);
    const rows = (i: number) => Object.fromEntries(c.json.targets[i].tables.map((x: { name: string; rows: number }) => [x.name, x.rows]));
    expect(c.json.targets.map((x: { target: string }) => x.target)).toEqual(['production', 'staging']);
    expect(rows(0)).toEqual({ albums: 1000, artists: 200, tracks: 10000 });
    expect(rows(1)).toEqual({ albums: 1000, artists: 200, tracks: 5000 });

    // a music library with primary keys, a sequence and a view
    const db = await openDuckdb(production);
    try {
      const pks = await queryRows(db.conn, "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' ORDER BY 1");
      expect(pks.map((x) => x.table_name)).toEqual(['albums', 'artists', 'tracks']);
      expect((await queryRows(db.conn, 'SELECT sequence_name FROM duckdb_sequences()')).map((x) => x.sequence_name)).toEqual(['track_id_seq']);
      expect((await queryRows(db.conn, 'SELECT view_name FROM duckdb_views() WHERE NOT internal')).map((x) => x.view_name)).toEqual(['album_lengths']);
    } finally {
      db.close();
    }
  });

  test('--demo again keeps the existing config and databases untouched', async () => {
    const dir = fresh();
    writeConfig(dir);
    const production = path.join(dir, 'data', 'production.duckdb');
    await createMusicDb(production);
    const before = sha256(production);
    const config = fs.readFileSync(path.join(dir, 'dbguard.config.json'), 'utf8');
    const r = runCli(['init', '--demo', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.json.configWritten).toBe(false);
    expect(r.json.databases).toEqual([
      { target: 'production', path: production, created: false },
      { target: 'staging', path: path.join(dir, 'data', 'staging.duckdb'), created: true },
    ]);
    expect(sha256(production)).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'dbguard.config.json'), 'utf8')).toBe(config);
  });
});

describe('doctor', () => {
  let healthy: string;
  beforeAll(async () => {
    healthy = fresh();
    writeConfig(healthy);
    await createMusicDb(path.join(healthy, 'data', 'production.duckdb'));
    fs.copyFileSync(path.join(healthy, 'data', 'production.duckdb'), path.join(healthy, 'data', 'staging.duckdb'));
    fs.mkdirSync(path.join(healthy, 'backups'));
  }, 60000);

  /** A copy of the healthy setup with `change` applied. */
  const variant = (change: (dir: string) => void) => {
    const dir = fresh();
    fs.cpSync(healthy, dir, { recursive: true });
    change(dir);
    return dir;
  };

  test('a healthy setup: exit 0, every check ok', () => {
    const r = runCli(['doctor'], { cwd: healthy });
    expect(r.code).toBe(0);
    noStack(r);
    expect(r.stdout).toContain('all checks passed');
    expect(r.stdout).not.toContain('to fix:');
    const j = runCli(['doctor', '--json'], { cwd: healthy });
    expect(j.code).toBe(0);
    expect(j.json.ok).toBe(true);
    expect(j.json.items.map((i: { check: string }) => i.check)).toEqual([
      'node', 'duckdb', 'config', 'production database', 'production folder', 'staging database', 'staging folder', 'backup folder', 'disk space',
    ]);
    expect(j.json.items.find((i: { check: string }) => i.check === 'duckdb').detail).toContain(`DuckDB v${require('@duckdb/node-api/package.json').version.replace(/-.*$/, '')}`);
    for (const i of j.json.items) expect(i).toMatchObject({ ok: true, severity: 'ok', fix: '' });
  });

  test('a missing database: exit 6 (storage, not "a bug") with a fix line', () => {
    const dir = variant((d) => fs.rmSync(path.join(d, 'data', 'staging.duckdb')));
    const r = runCli(['doctor'], { cwd: dir });
    expect(r.code).toBe(6);
    noStack(r);
    expect(r.stdout).toMatch(/staging database +FAIL +.*staging\.duckdb does not exist/);
    expect(r.stdout).toContain('to fix:');
    expect(r.stdout).toContain('  staging database: create it, fix targets.staging.path, or run dbguard restore staging');
    expect(r.stdout).toContain('some checks failed');
    const j = runCli(['doctor', '--json'], { cwd: dir });
    expect(j.code).toBe(6);
    expect(j.json.ok).toBe(false);
    expect(j.json.exitCode).toBe(6);
    expect(j.json.items.filter((i: { ok: boolean }) => !i.ok).map((i: { check: string }) => i.check)).toEqual(['staging database']);
  });

  test('a backup folder that cannot be created (a file is in the way): exit 6 with a fix line', () => {
    const dir = variant((d) => {
      fs.rmSync(path.join(d, 'backups'), { recursive: true });
      fs.writeFileSync(path.join(d, 'backups'), 'not a folder');
      writeConfig(d, { backupDir: 'backups/nightly' });
    });
    const r = runCli(['doctor'], { cwd: dir });
    expect(r.code).toBe(6);
    noStack(r);
    expect(r.stdout).toMatch(/backup folder +FAIL/);
    expect(r.stdout).toContain(`${path.join(dir, 'backups')} is a file, not a folder`);
    expect(r.stdout).toMatch(/\n {2}backup folder: .*set backupDir elsewhere/);
  });

  const asRoot = process.getuid?.() === 0;
  (asRoot ? test.skip : test)('an unwritable backup folder: exit 6 with a fix line (not testable as root)', () => {
    const dir = variant(() => undefined);
    const backups = path.join(dir, 'backups');
    fs.chmodSync(backups, 0o500);
    try {
      const r = runCli(['doctor'], { cwd: dir });
      expect(r.code).toBe(6);
      expect(r.stdout).toContain(`${backups} is not writable`);
      expect(r.stdout).toContain(`  backup folder: make ${backups} writable by the user running dbguard`);
    } finally {
      fs.chmodSync(backups, 0o700);
    }
  });

  test('a backup folder that does not exist yet is fine when its parent is writable', () => {
    const dir = variant((d) => fs.rmSync(path.join(d, 'backups'), { recursive: true }));
    const r = runCli(['doctor', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.json.items.find((i: { check: string }) => i.check === 'backup folder').detail).toContain(`(to be created in ${dir})`);
    expect(fs.existsSync(path.join(dir, 'backups'))).toBe(false);
  });

  test('an invalid config: exit 3 (config, not "a bug"), the problem and its fix, no stack trace', () => {
    const dir = variant((d) => fs.writeFileSync(path.join(d, 'dbguard.config.json'), '{ "keep": "thirty" }'));
    const r = runCli(['doctor'], { cwd: dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stdout).toContain('keep must be a whole number ≥ 1 (got "thirty") in dbguard.config.json');
    expect(r.stdout).toMatch(/\n {2}config: edit .*dbguard\.config\.json/);
  });
});
