/**
 * `dbguard status` through the built CLI (issue 5): exit 0 when every target
 * is healthy with a fresh backup, exit 4 for a stale or missing backup or a
 * damaged database (from the daemon's history or a quick check now), the
 * --json shape, and whether a daemon answers on the configured port.
 */
import * as fs from 'node:fs';
import { JobHistory } from '../src/daemon/history';
import { readManifest, writeManifest } from '../src/storage/manifest';
import { runCli, runCliAsync } from './helpers/cli';
import { Daemons, freePort, Sandbox, validBackups } from './helpers/daemon';

const box = new Sandbox('dbguard-status-');
const daemons = new Daemons();
afterEach(() => daemons.stopAll());
afterAll(() => box.cleanup());

/** The default daily schedule: two periods are two days. */
const DAILY = { schedule: { backup: '0 2 * * *', check: '0 * * * *', timezone: 'local' } };

const ageBackup = (backupDir: string, target: string, hours: number) => {
  const e = validBackups(backupDir, target)[0]!;
  writeManifest(e.file, { ...readManifest(e.file)!, createdAt: new Date(Date.now() - hours * 3600e3).toISOString() });
};

test('healthy and fresh: exit 0, the --json shape per target, and no daemon answering', async () => {
  const port = await freePort();
  const site = await box.site({ ...DAILY, http: { host: '127.0.0.1', port } });
  ageBackup(site.backupDir, 'staging', 30);
  const r = runCli(['status', '--json'], { cwd: site.dir });
  expect(r.code).toBe(0);
  expect(r.json.ok).toBe(true);
  expect(r.json.daemon).toEqual({ url: `http://127.0.0.1:${port}/health`, answering: false });
  const [p, s] = r.json.targets;
  const newest = validBackups(site.backupDir, 'production')[0]!;
  expect(p).toMatchObject({
    target: 'production', ok: true, healthy: true, fresh: true, backups: 1,
    lastBackup: { id: newest.id, bytes: newest.bytes, createdAt: newest.createdAt.toISOString() },
    lastCheck: { ok: true, source: 'now', findings: [] },
    lastFailure: null,
    staleAfterSeconds: 2 * 86400,
  });
  expect(p.lastBackup.ageSeconds).toBeGreaterThanOrEqual(0);
  const next = new Date(p.nextBackup);
  expect(next.getTime()).toBeGreaterThan(Date.now());
  expect([next.getHours(), next.getMinutes()]).toEqual([2, 0]);
  expect(new Date(p.nextCheck).getMinutes()).toBe(0);
  // 30 hours old is still younger than two daily periods
  expect(s).toMatchObject({ target: 'staging', ok: true, fresh: true });
  expect(Math.abs(s.lastBackup.ageSeconds - 30 * 3600)).toBeLessThan(120);

  const human = runCli(['status'], { cwd: site.dir });
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(newest.id);
  expect(human.stdout).toMatch(/daemon: not answering/);
  const one = runCli(['status', 'staging', '--json'], { cwd: site.dir });
  expect(one.json.targets.map((t: { target: string }) => t.target)).toEqual(['staging']);
  expect(runCli(['status', 'nosuch'], { cwd: site.dir }).code).toBe(2);
});

test('exit 4 when the newest valid backup is older than two periods', async () => {
  const site = await box.site(DAILY);
  ageBackup(site.backupDir, 'production', 50);
  const r = runCli(['status', '--json'], { cwd: site.dir });
  expect(r.code).toBe(4);
  expect(r.json.ok).toBe(false);
  expect(r.json.targets[0]).toMatchObject({ target: 'production', ok: false, fresh: false, healthy: true });
  expect(r.json.targets[1]).toMatchObject({ target: 'staging', ok: true });
  const human = runCli(['status'], { cwd: site.dir });
  expect(human.code).toBe(4);
  expect(human.stdout).toMatch(/production: the newest valid backup is older than 2 days? \(2 schedule periods\)/);
});

test('short periods are shown in a readable unit', async () => {
  const site = await box.site({ schedule: { backup: '*/10 * * * *', check: '0 * * * *', timezone: 'local' } });
  ageBackup(site.backupDir, 'production', 1);
  const human = runCli(['status', 'production'], { cwd: site.dir });
  expect(human.code).toBe(4);
  expect(human.stdout).toMatch(/older than 20 min \(2 schedule periods\)/);
});

test('exit 4 when no backup exists', async () => {
  const site = await box.site(DAILY, { backups: false });
  const r = runCli(['status', '--json'], { cwd: site.dir });
  expect(r.code).toBe(4);
  expect(r.json.targets.map((t: { lastBackup: unknown; backups: number; fresh: boolean }) => [t.lastBackup, t.backups, t.fresh])).toEqual([[null, 0, false], [null, 0, false]]);
  expect(runCli(['status'], { cwd: site.dir }).stdout).toMatch(/production: no valid backup/);
});

test('exit 4 when the last check was damaged: from the daemon history, or found now', async () => {
  const site = await box.site(DAILY);
  new JobHistory(site.backupDir).append({
    id: 'x1', target: 'staging', kind: 'check', state: 'failed', attempt: 1, at: new Date().toISOString(),
    endedAt: new Date().toISOString(), healthy: false, findings: ['block-checksum'], error: { code: 'damaged', exitCode: 4, message: 'staging is damaged' },
  });
  const r = runCli(['status', '--json'], { cwd: site.dir });
  expect(r.code).toBe(4);
  expect(r.json.targets[1]).toMatchObject({ target: 'staging', ok: false, healthy: false, lastCheck: { ok: false, source: 'daemon', findings: ['block-checksum'] }, lastFailure: { kind: 'check', code: 'damaged' } });
  expect(r.json.targets[0]).toMatchObject({ target: 'production', ok: true });

  const site2 = await box.site(DAILY);
  fs.writeFileSync(site2.db('production'), 'corrupted data\n');
  const r2 = runCli(['status', '--json'], { cwd: site2.dir });
  expect(r2.code).toBe(4);
  expect(r2.json.targets[0]).toMatchObject({ target: 'production', ok: false, healthy: false, lastCheck: { ok: false, source: 'now' } });
});

test('shows a daemon answering on the configured port while one runs', async () => {
  const port = await freePort();
  const site = await box.site({ ...DAILY, http: { host: '127.0.0.1', port } });
  const d = await daemons.start(site.config());
  expect(d.address()!.port).toBe(port);
  // async: the daemon runs in this process and must answer while the CLI waits
  const r = await runCliAsync(['status', '--json'], { cwd: site.dir });
  expect(r.code).toBe(0);
  expect(r.json.daemon).toEqual({ url: `http://127.0.0.1:${port}/health`, answering: true, status: 'healthy' });
  const human = await runCliAsync(['status'], { cwd: site.dir });
  expect(human.stdout).toContain(`daemon: answering at http://127.0.0.1:${port}/health (healthy)`);
  await daemons.stopAll();
  const after = await runCliAsync(['status', '--json'], { cwd: site.dir });
  expect(after.json.daemon.answering).toBe(false);
});
