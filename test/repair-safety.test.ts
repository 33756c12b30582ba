/**
 * Repair's and guard's file-safety paths, with failures injected at one
 * exact step (DBGUARD_TEST_FAIL_AT, a test-only hook): a failure after the
 * quarantine copy is recorded in RECOVERY.json and the message says where the
 * file is; a killed repair is noticed by the next repair and by guard; owner
 * and mode survive; symbolic links are refused; Ctrl-C is exit 130.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { checkDatabase } from '../src/ops/check';
import { hasStackTrace, runCli, startCli } from './helpers/cli';
import { createMusicDb, execSql, sha256, tempDir, writeConfig } from './helpers/db';
import { copyFixture, damage, exited, scanFile, subfolders } from './helpers/damage4';

const t = tempDir('dbguard-repair-safety-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const prodOf = (dir: string) => path.join(dir, 'data', 'production.duckdb');
const quarantineOf = (dir: string) => subfolders(path.join(dir, 'backups', 'quarantine'));
const recordOf = (q: string) => JSON.parse(fs.readFileSync(path.join(q, 'RECOVERY.json'), 'utf8'));
const jsonError = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!).error;
const marks = (marker: string) => [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`];
let caseNo = 0;

/** A fresh copy of the fixture (healthy production, one valid backup); `withBackup: false` drops the backups. */
function newCase(withBackup = true): string {
  const dir = copyFixture(fixture, path.join(t.dir, `case${++caseNo}`));
  if (!withBackup) fs.rmSync(path.join(dir, 'backups'), { recursive: true, force: true });
  return dir;
}

beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  await createMusicDb(prodOf(fixture), 1);
  expect((await backupTarget(loadConfig({ cwd: fixture, env: {} }), 'production')).status).toBe('valid');
}, 60000);

describe('repair: failures after the quarantine copy', () => {
  test('disk full while placing the salvage: exit 6, RECOVERY.json written, the message names the quarantine; the damaged file is still at the target', async () => {
    const dir = newCase(false);
    const file = prodOf(dir);
    await damage(file, 'data-byte');
    const damagedSha = sha256(file);
    const r = runCli(['repair', 'production', '--strategy', 'salvage', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'place=ENOSPC' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    const err = jsonError(r.stderr);
    const [q] = quarantineOf(dir);
    expect(err.message).toMatch(/disk full/);
    expect(err.message).toContain(q);
    expect(err.message).toContain(path.join(q!, 'RECOVERY.json'));
    expect(err.message).toContain(`${file} is still the damaged file`);
    expect(recordOf(q!)).toMatchObject({ state: 'failed', ok: false, quarantine: q });
    expect(sha256(file)).toBe(damagedSha);
    expect(sha256(path.join(q!, 'production.duckdb'))).toBe(damagedSha);
    // the salvage was moved back into quarantine, not lost
    expect(fs.existsSync(path.join(q!, 'production.salvaged.duckdb'))).toBe(true);
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes('dbguard-tmp'))).toEqual([]);
  });

  test('the target folder cannot be listed: exit 6 naming it, nothing quarantined, the file unchanged', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'header-zeroed');
    const damagedSha = sha256(file);
    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'readdir=EIO' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    expect(jsonError(r.stderr).message).toContain(`cannot list the folder ${path.dirname(file)}`);
    expect(sha256(file)).toBe(damagedSha);
    expect(quarantineOf(dir)).toEqual([]);
  });

  test('RECOVERY.json cannot be written (disk full): exit 6 before anything at the target changed', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'header-zeroed');
    const damagedSha = sha256(file);
    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'recovery-record=ENOSPC' } });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 6);
    expect(jsonError(r.stderr).message).toContain(`nothing was changed: ${file} is as it was`);
    expect(sha256(file)).toBe(damagedSha);
  });

  test('nothing recoverable: the file leaves the target, and the hint gives the command to put it back', () => {
    const dir = newCase(false);
    const file = prodOf(dir);
    fs.writeFileSync(file, 'corrupted data\n');
    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir });
    exited(r, 4);
    const [q] = quarantineOf(dir);
    expect(jsonError(r.stderr).hint).toContain(`cp -p '${path.join(q!, 'production.duckdb')}'`);
    expect(fs.existsSync(file)).toBe(false);
    expect(recordOf(q!).state).toBe('failed');
  });

  test('kill -9 right after the quarantine copy: a database is still at the target; the next repair says the earlier one did not finish', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'header-zeroed');
    const damagedSha = sha256(file);
    const killed = runCli(['repair', 'production', '--yes'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'quarantined=KILL' } });
    expect(killed.code).toBeNull();
    const [q] = quarantineOf(dir);
    expect(sha256(file)).toBe(damagedSha);
    expect(sha256(path.join(q!, 'production.duckdb'))).toBe(damagedSha);
    expect(recordOf(q!).state).toBe('in-progress');

    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir });
    exited(r, 0);
    expect(r.json.details.notes.join('\n')).toContain(`an earlier repair did not finish (in-progress): its files are in ${q}`);
    expect((await checkDatabase('production', file)).ok).toBe(true);
    expect(recordOf(r.json.quarantine).state).toBe('done');
  });
});

describe('repair resumes an unfinished repair', () => {
  test('the file is missing and an unfinished repair (no RECOVERY.json) holds it: repair salvages that copy, not the older backup', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await execSql(file, `INSERT INTO tracks (album_id, title) SELECT 1, 'after the backup ' || i FROM range(70) t(i)`);
    const expected = await scanFile(file);
    const old = path.join(dir, 'backups', 'quarantine', 'production_20200101_000000');
    fs.mkdirSync(old, { recursive: true });
    fs.renameSync(file, path.join(old, 'production.duckdb'));
    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir });
    exited(r, 0);
    expect(r.json.strategy).toBe('salvage');
    expect(r.json.details.notes.join('\n')).toContain(`resumed from the copy the earlier repair left in ${old}`);
    expect((await scanFile(file)).tables).toEqual(expected.tables);
    expect(fs.existsSync(path.join(old, 'production.duckdb'))).toBe(true);
  });
});

describe('guard: a file in quarantine is never a first deployment', () => {
  test('missing database, no backup, quarantine holding the file: exit 4 naming the folder, the command never starts (even with --start-anyway)', () => {
    const dir = newCase(false);
    const file = prodOf(dir);
    fs.writeFileSync(file, 'corrupted data\n');
    exited(runCli(['repair', 'production', '--yes'], { cwd: dir }), 4);
    expect(fs.existsSync(file)).toBe(false);
    const [q] = quarantineOf(dir);
    for (const extra of [[], ['--start-anyway']]) {
      const marker = path.join(dir, 'ran');
      const r = runCli(['guard', 'production', ...extra, '--', ...marks(marker)], { cwd: dir });
      expect(hasStackTrace(r.stderr)).toBe(false);
      exited(r, 4);
      expect(r.stderr).toContain(q);
      expect(r.stderr).toMatch(/not a first deployment/);
      expect(fs.existsSync(marker)).toBe(false);
      expect(fs.existsSync(file)).toBe(false);
    }
  });
});

describe('repair keeps owner and mode', () => {
  test.each([
    ['restored from the backup', true, 'header-zeroed', []],
    ['a salvage', false, 'data-byte', ['--strategy', 'salvage']],
    ['recreated', true, 'text', ['--strategy', 'recreate']],
  ] as const)('%s: the new file has the damaged file\'s uid, gid and mode', async (_what, withBackup, kind, args) => {
    const dir = newCase(withBackup);
    const file = prodOf(dir);
    await damage(file, kind);
    fs.chownSync(file, 4321, 4322);
    fs.chmodSync(file, 0o640);
    const r = runCli(['repair', 'production', '--yes', '--json', ...args], { cwd: dir });
    exited(r, 0);
    expect(r.json.strategy).not.toBe('none');
    const st = fs.statSync(file);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4322, 0o640]);
  });
});

describe('repair and guard: symbolic links and Ctrl-C', () => {
  test('a target path that is a symbolic link: repair and guard refuse with exit 2 naming the real file; nothing moves', async () => {
    const dir = newCase();
    const real = path.join(dir, 'real', 'production.duckdb');
    fs.mkdirSync(path.dirname(real));
    fs.renameSync(prodOf(dir), real);
    fs.symlinkSync(real, prodOf(dir));
    await damage(real, 'header-zeroed');
    const realSha = sha256(real);
    const r = runCli(['repair', 'production', '--yes', '--json'], { cwd: dir });
    exited(r, 2);
    expect(jsonError(r.stderr).hint).toContain(real);
    const marker = path.join(dir, 'ran');
    const g = runCli(['guard', 'production', '--', ...marks(marker)], { cwd: dir });
    expect(hasStackTrace(g.stderr)).toBe(false);
    exited(g, 2);
    expect(g.stderr).toContain('symbolic link');
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.lstatSync(prodOf(dir)).isSymbolicLink()).toBe(true);
    expect(sha256(real)).toBe(realSha);
    expect(quarantineOf(dir)).toEqual([]);
  });

  test('SIGINT during the repair: exit 130 (not an internal error), the target unchanged, RECOVERY.json says interrupted', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'data-byte');
    const damagedSha = sha256(file);
    const run = startCli(['repair', 'production', '--yes'], { cwd: dir, env: { DBGUARD_TEST_FAIL_AT: 'repair-salvage=PAUSE' } });
    await run.stderrIncludes('paused at repair-salvage');
    run.child.kill('SIGINT');
    const r = await run.done;
    exited(r, 130);
    expect(r.stderr).not.toMatch(/internal error|aborted/);
    expect(r.stderr).toContain(`${file} is still the damaged file`);
    expect(sha256(file)).toBe(damagedSha);
    expect(recordOf(quarantineOf(dir)[0]!).state).toBe('interrupted');
  });
});
