/**
 * Restore's file-safety paths, with failures injected at one exact step
 * (DBGUARD_TEST_FAIL_AT, a test-only hook): keeping the current files aside is
 * all or nothing, a failed put-back is reported with the file's location,
 * readdir errors are never "no files", `--to` must name a file outside the
 * backup folder, symbolic links are refused, and Ctrl-C is exit 130.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { verificationInterrupted } from '../src/ops/restore';
import { databaseFiles } from '../src/storage/move-aside';
import { duckdbEngine } from '../src/engines/duckdb';
import { hasStackTrace, runCli, startCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';
import { crashWriter } from './helpers/damage';
import { copyFixture, exited, subfolders } from './helpers/damage4';

const t = tempDir('dbguard-restore-safety-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const prodOf = (dir: string) => path.join(dir, 'data', 'production.duckdb');
const preRestoreOf = (dir: string) => subfolders(path.join(dir, 'backups', 'pre-restore'));
const jsonError = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!).error;
let caseNo = 0;
const newCase = () => copyFixture(fixture, path.join(t.dir, `case${++caseNo}`));
/** sha256 of every file in data/ (the live databases and their WALs). */
const dataState = (dir: string) => Object.fromEntries(fs.readdirSync(path.join(dir, 'data')).sort().map((n) => [n, sha256(path.join(dir, 'data', n))]));

/** The fixture: production and staging with one valid backup of production, then a WAL left by a killed writer. */
beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  await createMusicDb(prodOf(fixture), 1);
  await createMusicDb(path.join(fixture, 'data', 'staging.duckdb'), 1);
  const b = await backupTarget(loadConfig({ cwd: fixture, env: {} }), 'production');
  expect(b.status).toBe('valid');
  await crashWriter(prodOf(fixture), `INSERT INTO tracks (album_id, title) SELECT 3, 'in the wal ' || i FROM range(50) t(i)`);
}, 90000);

describe('restore: keeping the current files aside is all or nothing', () => {
  test('backup folder on another disk, disk full while copying the WAL aside: exit 6, database and WAL untouched, no empty pre-restore folder', () => {
    const dir = newCase();
    const before = dataState(dir);
    expect(Object.keys(before)).toContain('production.duckdb.wal');
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'link=EXDEV,copy-aside:production.duckdb.wal=ENOSPC' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    const err = jsonError(r.stderr);
    expect(err.message).toMatch(/disk full/);
    expect(err.message).toContain('nothing was changed');
    expect(err.message).toContain(prodOf(dir));
    expect(dataState(dir)).toEqual(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test('kill -9 while copying the WAL aside: the database and its WAL are still at the target, unchanged', async () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--yes'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'link=EXDEV,copy-aside:production.duckdb.wal=KILL' } });
    expect(r.code).toBeNull();
    // the prepared copy may stay behind (recognisable, replaced by the next run); the live files are intact
    const live = Object.fromEntries(Object.entries(dataState(dir)).filter(([n]) => !n.includes('dbguard-tmp')));
    expect(live).toEqual(before);
    // and the next restore succeeds
    exited(runCli(['restore', 'production', '--yes'], { cwd: dir }), 0);
  });

  test('kill -9 between removing the WAL and the rename: the old database is still at the target, its WAL safe in pre-restore/', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--yes'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'place=KILL' } });
    expect(r.code).toBeNull();
    expect(sha256(prodOf(dir))).toBe(before['production.duckdb']);
    const [aside] = preRestoreOf(dir);
    expect(sha256(path.join(aside!, 'production.duckdb.wal'))).toBe(before['production.duckdb.wal']);
    expect(sha256(path.join(aside!, 'production.duckdb'))).toBe(before['production.duckdb']);
  });

  test('the final rename fails and the WAL cannot be put back: exit 6, the message says where the WAL is, and it is there', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'place=EIO,put-back=EIO' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    const err = jsonError(r.stderr);
    const [aside] = preRestoreOf(dir);
    const walCopy = path.join(aside!, 'production.duckdb.wal');
    expect(err.message).toContain(walCopy);
    expect(err.message).toMatch(/could not be put back/);
    expect(sha256(walCopy)).toBe(before['production.duckdb.wal']);
    expect(sha256(prodOf(dir))).toBe(before['production.duckdb']);
    expect(fs.existsSync(`${prodOf(dir)}.wal`)).toBe(false);
  });

  test('the final rename fails: the WAL is put back, everything at the target as before, the message says so', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'place=EIO' } });
    exited(r, 6);
    expect(jsonError(r.stderr).message).toMatch(/as before/);
    expect(dataState(dir)).toEqual(before);
  });

  test('the folder cannot be synced after the rename: exit 6, and the message says the new file is in place and where the old one is', () => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'place-fsync=EIO' } });
    exited(r, 6);
    const [aside] = preRestoreOf(dir);
    const message = jsonError(r.stderr).message;
    expect(message).toContain(`the new file is in place at ${prodOf(dir)}`);
    expect(message).toContain(aside);
    expect(fs.readFileSync(prodOf(dir)).subarray(8, 12).toString()).toBe('DUCK');
    expect(fs.existsSync(path.join(aside!, 'production.duckdb'))).toBe(true);
  });
});

describe('restore: listing the target folder', () => {
  test('a folder that cannot be read is an error naming it (exit 6), never "no files to keep"', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'readdir=EIO' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    expect(jsonError(r.stderr).message).toContain(`cannot list the folder ${path.join(dir, 'data')}`);
    expect(dataState(dir)).toEqual(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test('databaseFiles: only a missing folder means no files (a real ENOTDIR throws)', () => {
    const file = path.join(t.dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    expect(databaseFiles(path.join(t.dir, "no-such-folder", "x.duckdb"), duckdbEngine.isSideFile)).toEqual([]);
    expect(() => databaseFiles(path.join(file, "x.duckdb"), duckdbEngine.isSideFile)).toThrow(`cannot list the folder ${file}`);
  });
});

describe('restore --to', () => {
  test('an existing folder is a usage error (exit 2) and both live databases stay', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--to', 'data', '--yes', '--json'], { cwd: dir });
    exited(r, 2);
    expect(jsonError(r.stderr).message).toMatch(/existing folder/);
    expect(dataState(dir)).toEqual(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });

  test.each([['backups'], ['backups/copy.duckdb'], ['backups/pre-restore/x.duckdb']])('--to %s (in the backup folder) is refused with exit 2 and no "free space" hint', (to) => {
    const dir = newCase();
    const r = runCli(['restore', 'production', '--to', to, '--yes', '--json'], { cwd: dir });
    exited(r, 2);
    const err = jsonError(r.stderr);
    expect(`${err.message} ${err.hint}`).not.toMatch(/free space/);
    expect(err.message).toMatch(/backup folder|existing folder/);
    expect(fs.existsSync(path.join(dir, 'backups', 'copy.duckdb'))).toBe(false);
  });

  test('--to another target\'s database is refused (exit 2): that target is restored under its own lock', () => {
    const dir = newCase();
    const before = dataState(dir);
    const r = runCli(['restore', 'production', '--to', 'data/staging.duckdb', '--yes', '--json'], { cwd: dir });
    exited(r, 2);
    expect(jsonError(r.stderr).message).toContain('target staging');
    expect(dataState(dir)).toEqual(before);
  });

  test('an empty --to is a usage error, never a restore over the target', () => {
    const dir = newCase();
    const before = dataState(dir);
    exited(runCli(['restore', 'production', '--to', ' ', '--yes'], { cwd: dir }), 2);
    expect(dataState(dir)).toEqual(before);
  });

  test('an existing file: refused without --yes (no terminal), replaced with --yes after being kept aside', () => {
    const dir = newCase();
    const other = path.join(dir, 'other.duckdb');
    fs.writeFileSync(other, 'an existing file');
    exited(runCli(['restore', 'production', '--to', 'other.duckdb'], { cwd: dir }), 2);
    expect(fs.readFileSync(other, 'utf8')).toBe('an existing file');
    const r = runCli(['restore', 'production', '--to', 'other.duckdb', '--yes', '--json'], { cwd: dir });
    exited(r, 0);
    expect(fs.readFileSync(path.join(r.json.safetyCopy, 'other.duckdb'), 'utf8')).toBe('an existing file');
    expect(fs.readFileSync(other).subarray(8, 12).toString()).toBe('DUCK');
  });
});

describe('restore: symbolic links and Ctrl-C', () => {
  test('a target path that is a symbolic link is refused (exit 2) naming the real file; link and file unchanged', () => {
    const dir = newCase();
    const real = path.join(dir, 'real', 'production.duckdb');
    fs.mkdirSync(path.dirname(real));
    fs.renameSync(prodOf(dir), real);
    fs.rmSync(`${prodOf(dir)}.wal`);
    fs.symlinkSync(real, prodOf(dir));
    const realSha = sha256(real);
    const r = runCli(['restore', 'production', '--yes', '--json'], { cwd: dir });
    exited(r, 2);
    const err = jsonError(r.stderr);
    expect(err.message).toContain('symbolic link');
    expect(err.hint).toContain(real);
    expect(fs.lstatSync(prodOf(dir)).isSymbolicLink()).toBe(true);
    expect(sha256(real)).toBe(realSha);
  });

  test('the restored file keeps the replaced file\'s owner and mode (run as root)', () => {
    const dir = newCase();
    fs.chownSync(prodOf(dir), 4321, 4322);
    fs.chmodSync(prodOf(dir), 0o640);
    exited(runCli(['restore', 'production', '--yes'], { cwd: dir }), 0);
    const st = fs.statSync(prodOf(dir));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4322, 0o640]);
  });

  test('a verification whose worker was killed by SIGTERM is an interruption, one that found damage is not', () => {
    const result = (message: string) => ({ target: 'production', id: 'x', file: 'x', ok: false, durationMs: 1, findings: [{ severity: 'error' as const, code: 'unreadable', message, hint: '' }] });
    // the text runWorker gives a worker that died of a signal
    expect(verificationInterrupted(result('x: DuckDB cannot open or read x: DuckDB stopped with signal SIGTERM while reading the file'))).toBe(true);
    expect(verificationInterrupted(result('x: DuckDB cannot open or read x: DuckDB stopped with signal SIGSEGV while reading the file'))).toBe(false);
    expect(verificationInterrupted(result('x: sha256 1234 differs from the manifest'))).toBe(false);
  });

  test('SIGINT during verification: exit 130, the backup is not blamed, nothing changed', async () => {
    const dir = newCase();
    const before = dataState(dir);
    const run = startCli(['restore', 'production', '--yes'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'restore-verify=PAUSE' } });
    await run.stderrIncludes('paused at restore-verify');
    run.child.kill('SIGINT');
    const r = await run.done;
    exited(r, 130);
    expect(r.stderr).toMatch(/interrupted/);
    expect(r.stderr).not.toMatch(/failed verification|older/);
    expect(dataState(dir)).toEqual(before);
    expect(preRestoreOf(dir)).toEqual([]);
  });
});
