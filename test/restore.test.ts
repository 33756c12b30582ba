/**
 * `dbguard restore` end to end: choosing the backup (latest, id, --at),
 * --to, the safety copy in pre-restore/, stale and foreign WALs, a database
 * in use, a damaged backup, confirmation and --dry-run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { restore } from '../src/ops/restore';
import { hasStackTrace, runCli } from './helpers/cli';
import { createMusicDb, execSql, sha256, tempDir, writeConfig } from './helpers/db';
import { copyFixture, exited, flipByte, putForeignWal, scanFile, subfolders } from './helpers/damage4';
import { crashWriter } from './helpers/damage';
import { holdDatabase, release } from './helpers/hold';

const t = tempDir('dbguard-restore-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const prodOf = (dir: string) => path.join(dir, 'data', 'production.duckdb');
const preRestoreOf = (dir: string) => subfolders(path.join(dir, 'backups', 'pre-restore'));
/** Local times, as the backup names use local time. */
const OLDER_AT = new Date(2024, 0, 15, 2, 0, 0);
const NEWER_AT = new Date(2024, 0, 16, 2, 0, 0);
let older: { id: string; file: string; scan: Awaited<ReturnType<typeof scanFile>> };
let newer: { id: string; file: string; scan: Awaited<ReturnType<typeof scanFile>> };
let live: Awaited<ReturnType<typeof scanFile>>;
let caseNo = 0;

const newCase = () => copyFixture(fixture, path.join(t.dir, `case${++caseNo}`));
const jsonError = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!).error;

/**
 * The fixture: two valid backups with different content (older: 5,000
 * tracks; newer: 5,100), then the live database changed once more (5,150).
 */
beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  const file = prodOf(fixture);
  await createMusicDb(file, 1);
  const config = loadConfig({ cwd: fixture, env: {} });
  const a = await backupTarget(config, 'production', { clock: { now: () => OLDER_AT } });
  await execSql(file, `INSERT INTO tracks (album_id, title) SELECT 1, 'new ' || i FROM range(100) t(i)`);
  const b = await backupTarget(config, 'production', { clock: { now: () => NEWER_AT } });
  await execSql(file, `INSERT INTO tracks (album_id, title) SELECT 2, 'newest ' || i FROM range(50) t(i)`);
  expect([a.status, b.status]).toEqual(['valid', 'valid']);
  expect(a.id).toBe('production_data_20240115_020000');
  expect(b.id).toBe('production_data_20240116_020000');
  older = { id: a.id, file: a.file, scan: await scanFile(a.file) };
  newer = { id: b.id, file: b.file, scan: await scanFile(b.file) };
  live = await scanFile(file);
  expect(older.scan.tables['main.tracks']!.rows).toBe(5000);
  expect(newer.scan.tables['main.tracks']!.rows).toBe(5100);
  expect(live.tables['main.tracks']!.rows).toBe(5150);
}, 60000);

describe('restore: which backup', () => {
  test('latest (the default): the newest backup\'s content, the replaced file in pre-restore/ (sha256)', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    const before = sha256(file);
    const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.json).toMatchObject({ ok: true, target: 'production', from: newer.id, path: file });
    expect((await scanFile(file)).tables).toEqual(newer.scan.tables);
    expect(sha256(file)).toBe(sha256(newer.file));
    // safety copy: backups/pre-restore/production_<stamp>/production.duckdb holds the replaced bytes
    const pre = preRestoreOf(dir);
    expect(pre).toHaveLength(1);
    expect(r.json.safetyCopy).toBe(pre[0]);
    expect(path.basename(pre[0]!)).toMatch(/^production_\d{8}_\d{6}$/);
    expect(fs.readdirSync(pre[0]!)).toEqual(['production.duckdb']);
    expect(sha256(path.join(pre[0]!, 'production.duckdb'))).toBe(before);
    // the quick check afterwards reports the rows per table
    expect(r.json.tables.find((x: { name: string }) => x.name === 'tracks').rows).toBe(5100);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['production.duckdb']);
  });

  test('--from ID: that backup', async () => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--from', older.id, '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    expect(r.json.from).toBe(older.id);
    expect((await scanFile(prodOf(dir))).tables).toEqual(older.scan.tables);
  });

  test('--from latest is the newest', async () => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--from', 'latest', '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    expect(r.json.from).toBe(newer.id);
  });

  test('--at TIME: the newest backup created at or before that time', async () => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--at', '2024-01-15 12:00', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.json.from).toBe(older.id);
    expect((await scanFile(prodOf(dir))).tables).toEqual(older.scan.tables);
  });

  test('--at picks by time, not by position (API, no change with --dry-run)', async () => {
    const dir = newCase();
    const config = loadConfig({ cwd: dir, env: {} });
    const at = async (when: string) => (await restore(config, 'production', { at: when, dryRun: true })).from;
    expect(await at('2024-01-16 02:00')).toBe(newer.id); // "at or before": exactly the second backup's time
    expect(await at('2024-01-16 01:59')).toBe(older.id);
    expect(await at('2024-01-15')).toBe(older.id); // a date alone means the end of that day
    await expect(at('2024-01-14 23:59')).rejects.toMatchObject({ exitCode: 4 });
    await expect(at('yesterday-ish')).rejects.toMatchObject({ exitCode: 2 });
  });

  test('--to PATH: restores into another file and leaves the target alone', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    const before = sha256(file);
    const r = runCli(['restore', 'production', '--from', older.id, '--to', 'copy/restored.duckdb', '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    const dest = path.join(dir, 'copy', 'restored.duckdb');
    expect(r.json.path).toBe(dest);
    expect(r.json.safetyCopy).toBeNull();
    expect((await scanFile(dest)).tables).toEqual(older.scan.tables);
    expect(sha256(file)).toBe(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test('a missing database file is restored; there is nothing to keep aside', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    fs.rmSync(file);
    const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    expect(r.json.safetyCopy).toBeNull();
    expect((await scanFile(file)).tables).toEqual(newer.scan.tables);
  });

  test('no valid backup at all: exit 4, and the hint says how to get one', () => {
    const dir = newCase();
    fs.rmSync(path.join(dir, 'backups'), { recursive: true });
    const before = sha256(prodOf(dir));
    const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 4);
    expect(jsonError(r.stderr).hint).toContain('dbguard backup production');
    expect(sha256(prodOf(dir))).toBe(before);
  });

  test('an unknown id is a usage error (exit 2) naming the fix', () => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--from', 'production_data_19990101_000000', '--yes'], { cwd: dir });
    exited(r, 2);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toContain('dbguard list production');
  });
});

describe('restore: WALs', () => {
  test('a foreign WAL beside the target: restored content equals the backup, the WAL moved to pre-restore/', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await putForeignWal(file, path.join(dir, 'other'));
    const walSha = sha256(`${file}.wal`);
    const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(fs.existsSync(`${file}.wal`)).toBe(false);
    expect((await scanFile(file)).tables).toEqual(newer.scan.tables);
    const pre = preRestoreOf(dir)[0]!;
    expect(sha256(path.join(pre, 'production.duckdb.wal'))).toBe(walSha);
    expect(fs.existsSync(`${file}.wal`)).toBe(false); // opening it did not bring one back
  });

  test('a stale WAL of the target itself (killed writer) is not replayed into the restored file', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    // the same schema: DuckDB would replay these rows silently into the restored file
    await crashWriter(file, `INSERT INTO tracks (album_id, title) SELECT 3, 'stale ' || i FROM range(500) t(i)`);
    const r = runCli(['restore', 'production', '--from', older.id, '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    expect(fs.existsSync(`${file}.wal`)).toBe(false);
    expect((await scanFile(file)).tables).toEqual(older.scan.tables);
    expect(fs.readdirSync(preRestoreOf(dir)[0]!).sort()).toEqual(['production.duckdb', 'production.duckdb.wal']);
  });
});

describe('restore: refusals', () => {
  test('a database held read-write by another process: exit 5 with its PID, the file unchanged', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    const holder = await holdDatabase(file);
    try {
      const before = sha256(file);
      const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
      expect(hasStackTrace(r.stderr)).toBe(false);
      exited(r, 5);
      const err = jsonError(r.stderr);
      expect(err.message).toContain(String(holder.pid));
      expect(err.hint).toMatch(/stop the application/);
      expect(sha256(file)).toBe(before);
      expect(preRestoreOf(dir)).toEqual([]);
    } finally {
      await release(holder);
    }
  });

  test('a damaged backup is refused (exit 4) and the next older valid backup is suggested', () => {
    const dir = newCase();
    const file = prodOf(dir);
    const before = sha256(file);
    flipByte(path.join(dir, 'backups', `${newer.id}.duckdb`), 20000);
    const r = runCli(['restore', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 4);
    const err = jsonError(r.stderr);
    expect(err.message).toContain(newer.id);
    expect(err.hint).toContain(`--from ${older.id}`);
    expect(sha256(file)).toBe(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test('without --yes and without a terminal: exit 2, nothing changed', () => {
    const dir = newCase();
    const file = prodOf(dir);
    const before = sha256(file);
    const r = runCli(['restore', 'production'], { cwd: dir, input: 'y\n' });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 2);
    expect(r.stderr).toContain('--yes');
    expect(sha256(file)).toBe(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test('--dry-run says what would happen and changes nothing', () => {
    const dir = newCase();
    const file = prodOf(dir);
    const before = sha256(file);
    const r = runCli(['restore', 'production', '--dry-run', '--json'], { cwd: dir });
    exited(r, 0);
    expect(r.json).toMatchObject({ dryRun: true, from: newer.id, safetyCopy: null, replaces: [file] });
    expect(sha256(file)).toBe(before);
    expect(preRestoreOf(dir)).toEqual([]);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['production.duckdb']);
    const human = runCli(['restore', 'production', '--dry-run'], { cwd: dir });
    exited(human, 0);
    expect(human.stdout).toContain(`would restore ${file} from ${newer.id}`);
  });
});
