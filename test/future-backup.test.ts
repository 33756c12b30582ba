/**
 * A backup dated in the future (made while the clock ran ahead) is flagged in
 * list, status and /health and never chosen as "latest" by restore, repair
 * or verify; backups are ordered by their manifest's createdAt, not by the
 * stamp in their names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { BackupRepository } from '../src/storage/repository';
import { cloneBackup, makeProject, type Project } from './helpers/backup';
import { runCli } from './helpers/cli';
import { baseUrl, Daemons, get, Sandbox } from './helpers/daemon';

const inAYear = () => new Date(Date.now() + 365 * 24 * 3600 * 1000);

describe('CLI', () => {
  let p: Project;
  let real: string;
  let future: string;
  beforeAll(async () => {
    p = await makeProject(0.1);
    real = (await backupTarget(p.config(), 'production')).id;
    future = cloneBackup(path.join(p.backups, `${real}.duckdb`), 'production', inAYear());
  });
  afterAll(() => p.cleanup());

  test('list flags it, lists it after the real newest backup, and warns', () => {
    const r = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.backups.map((b: { id: string; future: boolean }) => [b.id, b.future])).toEqual([[real, false], [future, true]]);
    expect(r.json.warnings).toEqual([expect.objectContaining({ code: 'backup-from-future', severity: 'warning' })]);
    expect(r.json.warnings[0].message).toContain(future);
    const human = runCli(['list', 'production'], { cwd: p.dir });
    expect(human.stdout).toMatch(/IN THE FUTURE/);
    expect(human.stdout).toMatch(/dated in the future/);
  });

  test('status: the last backup is the real one, with a warning naming the future one', () => {
    const r = runCli(['status', 'production', '--json'], { cwd: p.dir });
    const t = r.json.targets[0];
    expect(t.lastBackup.id).toBe(real);
    expect(t.warnings.map((w: { code: string }) => w.code)).toEqual(['backup-from-future']);
    expect(t.warnings[0].message).toContain(future);
    expect(runCli(['status', 'production'], { cwd: p.dir }).stdout).toContain(future);
  });

  test('restore (latest) picks the real newest backup, not the one from the future; --from still takes it when named', () => {
    const r = runCli(['restore', 'production', '--dry-run', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.from).toBe(real);
    const named = runCli(['restore', 'production', '--from', future, '--dry-run', '--json'], { cwd: p.dir });
    expect(named.json?.from).toBe(future);
  });

  test('verify --latest verifies the real newest backup', () => {
    const r = runCli(['verify', 'production', '--latest', '--json'], { cwd: p.dir });
    expect(r.json.results.map((x: { id: string }) => x.id)).toEqual([real]);
  });
});

test('order is by the manifest createdAt, not by the stamp in the name', async () => {
  const p = await makeProject(0.1);
  try {
    const b = await backupTarget(p.config(), 'production');
    const older = cloneBackup(b.file, 'production', new Date(2026, 0, 2, 2, 0, 0), { dir: p.backups });
    const newer = cloneBackup(b.file, 'production', new Date(2026, 0, 1, 2, 0, 0), { dir: p.backups });
    // the name of `older` says Jan 2, its manifest Jan 1 (and the other way round)
    const swap = (id: string, iso: string) => {
      const f = path.join(p.backups, `${id}.duckdb.json`);
      fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), createdAt: iso }));
    };
    swap(older, new Date(2025, 11, 1).toISOString());
    swap(newer, new Date(2025, 11, 2).toISOString());
    expect(new BackupRepository(p.backups).list('production').map((e) => e.id)).toEqual([b.id, newer, older]);
  } finally {
    p.cleanup();
  }
});

describe('daemon /health', () => {
  const box = new Sandbox('dbguard-future-');
  const daemons = new Daemons();
  afterEach(() => daemons.stopAll());
  afterAll(() => box.cleanup());

  test('names the future backup, reports the real one as last_backup, and is degraded', async () => {
    const site = await box.site();
    const real = new BackupRepository(site.backupDir).list('production')[0]!;
    const future = cloneBackup(real.file, 'production', inAYear());
    const d = await daemons.start(site.config());
    const h = (await get(`${baseUrl(d)}/health`)).json;
    const t = h.targets.production;
    expect(t.last_backup.id).toBe(real.id);
    expect(t.future_backups.map((x: { id: string }) => x.id)).toEqual([future]);
    expect(t.warnings[0].code).toBe('backup-from-future');
    expect(h.status).not.toBe('healthy');
  });
});
