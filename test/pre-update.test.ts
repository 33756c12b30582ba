/**
 * `dbguard pre-update`, the deploy hook: a damaged target is repaired and
 * backed up, a healthy one backed up; exit 0 only when every target ends
 * healthy with a fresh backup, 4 otherwise (so `set -e` stops the deploy).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { checkDatabase } from '../src/ops/check';
import { BackupRepository } from '../src/storage/repository';
import { hasStackTrace, runCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';
import { copyFixture, damage, exited, scanFile, subfolders } from './helpers/damage4';

const t = tempDir('dbguard-preupdate-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const fileOf = (dir: string, target: string) => path.join(dir, 'data', `${target}.duckdb`);
const backupsOf = (dir: string, target: string) => new BackupRepository(path.join(dir, 'backups')).list(target);
let prodBackupId: string;
let prodScan: Awaited<ReturnType<typeof scanFile>>;

/** Healthy production (with one backup) and staging (without). */
beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  await createMusicDb(fileOf(fixture, 'production'), 1);
  await createMusicDb(fileOf(fixture, 'staging'), 1);
  const b = await backupTarget(loadConfig({ cwd: fixture, env: {} }), 'production');
  prodBackupId = b.id;
  prodScan = await scanFile(b.file);
}, 60000);

test('one damaged and one healthy target: exit 0, both healthy, both freshly backed up, the damaged file in quarantine', async () => {
  const dir = copyFixture(fixture, path.join(t.dir, 'mixed'));
  const prod = fileOf(dir, 'production');
  await damage(prod, 'text');
  const damagedSha = sha256(prod);
  const stagingSha = sha256(fileOf(dir, 'staging'));

  const r = runCli(['pre-update', '--json'], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 0);
  expect(r.json.ok).toBe(true);
  const [p, s] = r.json.targets;
  expect(p).toMatchObject({ target: 'production', ok: true, healthyBefore: false, repair: { strategy: 'restore', ok: true } });
  expect(p.repair.details.restoredFrom).toBe(prodBackupId);
  expect(s).toMatchObject({ target: 'staging', ok: true, healthyBefore: true });
  expect(s.repair).toBeUndefined();

  for (const target of ['production', 'staging']) {
    expect((await checkDatabase(target, fileOf(dir, target))).ok).toBe(true);
  }
  expect((await scanFile(prod)).tables).toEqual(prodScan.tables);
  expect(sha256(fileOf(dir, 'staging'))).toBe(stagingSha); // a backup never touches its source

  // staging now has a backup, production a fresh one on top of the old
  const staging = backupsOf(dir, 'staging');
  expect(staging.map((b) => b.status)).toEqual(['valid']);
  expect(staging[0]!.id).toBe(s.backup.id);
  const production = backupsOf(dir, 'production');
  expect(production.map((b) => b.id)).toEqual([p.backup.id, prodBackupId]);
  expect(production[0]!.status).toBe('valid');

  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(q).toHaveLength(1);
  expect(path.basename(q[0]!)).toMatch(/^production_/);
  expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
});

test('a target that cannot be recovered: exit 4, and the other target is still backed up', async () => {
  const dir = copyFixture(fixture, path.join(t.dir, 'unrecoverable'));
  for (const b of backupsOf(dir, 'production')) new BackupRepository(path.join(dir, 'backups')).remove(b);
  await damage(fileOf(dir, 'production'), 'empty');

  const r = runCli(['pre-update'], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 4);
  expect(r.stdout).toMatch(/NOT safe to deploy/);
  expect(backupsOf(dir, 'production')).toEqual([]);
  expect(backupsOf(dir, 'staging').map((b) => b.status)).toEqual(['valid']);
  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(fs.statSync(path.join(q[0]!, 'production.duckdb')).size).toBe(0);
});
