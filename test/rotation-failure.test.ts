/**
 * Rotation and prune that cannot delete an old backup (a real immutable file,
 * `chattr +i`) report the file and exit 6: the new backup is kept and
 * published, the other old backups are still removed, the daemon alerts and
 * counts it in /metrics. Never exit 0 with the failure swallowed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { BackupRepository } from '../src/storage/repository';
import { cloneBackup, makeProject, type Project } from './helpers/backup';
import { runCli } from './helpers/cli';
import { baseUrl, Daemons, get, Sandbox, startRecorder } from './helpers/daemon';
import { makeImmutable } from './helpers/faults';

const undo: (() => void)[] = [];
afterEach(() => { while (undo.length) undo.pop()!(); });

/** Three older valid backups of production (Jan 2026) beside `real`; the oldest is made immutable. Returns [stuck, removable...]. */
function oldBackups(real: string, dir: string): { stuck: string; others: string[] } {
  const ids = [1, 2, 3].map((d) => cloneBackup(real, 'production', new Date(2026, 0, d, 2, 0, 0), { dir }));
  const stuck = path.join(dir, `${ids[0]}.duckdb`);
  const im = makeImmutable(stuck);
  undo.push(im.undo);
  return { stuck, others: ids.slice(1).map((id) => path.join(dir, `${id}.duckdb`)) };
}

describe('CLI', () => {
  let p: Project;
  beforeEach(async () => { p = await makeProject(1, { keep: 1 }); });
  afterEach(() => { while (undo.length) undo.pop()!(); p.cleanup(); });

  test('backup: exit 6, --json names the file in rotationError, the new backup is published, the others are rotated', async () => {
    const first = await backupTarget(p.config(), 'production');
    const { stuck, others } = oldBackups(first.file, p.backups);
    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(6);
    const b = r.json.backups[0];
    expect(b.status).toBe('valid');
    expect(fs.existsSync(b.file)).toBe(true);
    expect(b.rotationError).toContain(stuck);
    expect(b.rotationFailed).toEqual([expect.objectContaining({ file: stuck, error: 'EPERM' })]);
    expect(r.json.ok).toBe(false);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!).error;
    expect(err).toMatchObject({ code: 'rotation-failed', exitCode: 6 });
    expect(err.message).toContain(stuck);
    expect(fs.existsSync(stuck)).toBe(true);
    for (const o of others) expect(fs.existsSync(o)).toBe(false);
    const valid = new BackupRepository(p.backups).list('production').filter((e) => e.status === 'valid').map((e) => e.id);
    expect(valid).toContain(b.id);
  });

  test('backup without --json prints the rotation failure with the file and a hint, exit 6', async () => {
    const first = await backupTarget(p.config(), 'production');
    const { stuck } = oldBackups(first.file, p.backups);
    const r = runCli(['backup', 'production'], { cwd: p.dir });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/rotation could not delete 1 old backup/);
    expect(r.stderr).toContain(stuck);
    expect(r.stderr).toMatch(/hint: .*chattr -i/);
  });

  test('prune: exit 6 naming the file (not 1), the removable ones are removed, --json lists it in failed', async () => {
    const first = await backupTarget(p.config(), 'production');
    const { stuck, others } = oldBackups(first.file, p.backups);
    const r = runCli(['prune', 'production', '--keep', '1', '--json'], { cwd: p.dir });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(6);
    expect(r.json.ok).toBe(false);
    expect(r.json.targets[0].failed).toEqual([expect.objectContaining({ file: stuck, error: 'EPERM' })]);
    expect(r.json.targets[0].removed.map((x: { id: string }) => x.id).sort()).toEqual(others.map((o) => path.basename(o, '.duckdb')).sort());
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!).error).toMatchObject({ code: 'rotation-failed', exitCode: 6 });
    for (const o of others) expect(fs.existsSync(o)).toBe(false);
    expect(fs.existsSync(first.file)).toBe(true);

    const human = runCli(['prune', 'production', '--keep', '1'], { cwd: p.dir });
    expect(human.code).toBe(6);
    expect(human.stdout).toMatch(/NOT REMOVED/);
    expect(human.stderr).toContain(stuck);
  });
});

describe('daemon', () => {
  const box = new Sandbox('dbguard-rotation-');
  const daemons = new Daemons();
  afterEach(async () => { await daemons.stopAll(); while (undo.length) undo.pop()!(); });
  afterAll(() => box.cleanup());

  test('a backup whose rotation fails: the run succeeds, an alert names the file, dbguard_rotation_failures_total counts it', async () => {
    const hook = await startRecorder();
    try {
      const site = await box.site({ keep: 1, alerts: { webhook: { url: `${hook.url}/h` } } });
      const real = new BackupRepository(site.backupDir).list('production')[0]!.file;
      const { stuck } = oldBackups(real, site.backupDir);
      const d = await daemons.start(site.config());
      const rec = await d.trigger('production', 'backup', 'test');
      expect(rec!.state).toBe('succeeded');
      await d.alerter.flush(10000);
      const alert = hook.requests.map((q) => q.json).find((j) => j?.event === 'failure');
      expect(alert).toMatchObject({ target: 'production', kind: 'backup' });
      expect(alert.message).toContain(stuck);
      const m = (await get(`${baseUrl(d)}/metrics`)).body;
      expect(m).toMatch(/dbguard_rotation_failures_total\{target="production"\} 1\b/);
    } finally {
      await hook.close();
    }
  });
});
