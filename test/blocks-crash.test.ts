/**
 * Crash safety in blocks format (issue 11): kill -9 of a backup while it
 * writes packs, just before and just after the store publishes, of a prune
 * while it collects, and of a restore while it writes blocks beside the
 * target. After each kill every published backup still restores to exactly
 * its rows, the target is intact, and the next run completes and cleans up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { filesIn, makeProject, manualClock, type Project } from './helpers/backup';
import { runCli } from './helpers/cli';
import { execSql, sha256, tempDir } from './helpers/db';
import { blocksOf, expectRows, packsOf, restoreTo, storeDir, storeManifest } from './helpers/blocks';

const KILLED = { code: null, signal: 'SIGKILL' };

(process.platform === 'linux' ? describe : describe.skip)('kill -9 in blocks format', () => {
  let p: Project;
  let out: { dir: string; cleanup(): void };
  let n = 0;
  const published = () => runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups.map((b: any) => b.id) as string[];
  const change = () => execSql(p.db, `UPDATE tracks SET plays = plays + 7 WHERE id % 31 = ${n % 31}; INSERT INTO artists VALUES (${5000 + n}, 'Crash ${n++}', 'DE');`);

  /** Every listed backup restores (restore --from ID --to PATH) to the rows its manifest records. */
  async function everyBackupRestores(): Promise<void> {
    const dir = path.join(out.dir, `r${n++}`);
    for (const id of published()) {
      const { r, dest } = restoreTo(p, id, dir);
      expect({ id, code: r.code, stderr: r.stderr }).toEqual({ id, code: 0, stderr: '' });
      await expectRows(dest, storeManifest(p, id));
    }
  }

  /** Runs `dbguard <args>` with a failpoint set to KILL and returns how it ended. */
  function killedAt(point: string, args: string[]) {
    const r = runCli(args, { cwd: p.dir, env: { DBGUARD_TEST_FAIL_AT: `${point}=KILL` } });
    return { code: r.code, signal: r.code === null ? 'SIGKILL' : `exit ${r.code}: ${r.stderr}` };
  }

  beforeAll(async () => {
    p = await makeProject(1, { storage: { format: 'blocks', plain: 1 }, keep: 10 });
    out = tempDir('dbguard-store-crash-');
    for (let d = 0; d < 2; d++) {
      await change();
      await backupTarget(p.config(), 'production', { clock: manualClock(new Date(2024, 5, 1 + d, 2)) });
    }
  });
  afterAll(() => { p.cleanup(); out.cleanup(); });

  test('a full disk while a pack is written: exit 6, nothing published, nothing half-written left', async () => {
    const before = published();
    await change();
    const r = runCli(['backup', 'production'], { cwd: p.dir, env: { DBGUARD_TEST_FAIL_AT: 'store-put=ENOSPC' } });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/no space|disk.*full|ENOSPC/i);
    expect(published()).toEqual(before);
    expect(filesIn(p.backups).filter((f) => f.includes('.tmp'))).toEqual([]);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [e.name]));
    expect(walk(storeDir(p)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a backup killed while it writes a pack, or just before the store publishes, leaves no new backup', async () => {
    const before = published();
    for (const point of ['store-put', 'store-publish']) {
      await change();
      expect(killedAt(point, ['backup', 'production'])).toEqual(KILLED);
      expect(published()).toEqual(before);
    }
    await everyBackupRestores();
  });

  test('a backup killed just after the store published is a complete store backup; the next one demotes the plain file', async () => {
    const before = published();
    await change();
    expect(killedAt('store-published', ['backup', 'production'])).toEqual(KILLED);
    const after = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
    expect(after.length).toBe(before.length + 1);
    expect(after[0]).toEqual(expect.objectContaining({ location: 'store', status: 'valid' }));
    await everyBackupRestores();
    await change();
    const next = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect([next.code, next.stderr]).toEqual([0, '']);
    // the killed run's copy is cleaned; only the newest backup is a plain file
    expect(filesIn(p.backups).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(filesIn(p.backups).filter((f) => f.endsWith('.duckdb'))).toEqual([`${next.json.backups[0].id}.duckdb`]);
  });

  test('a prune killed while it collects loses nothing; the next prune removes the killed backups\' packs', async () => {
    // garbage for collect: the packs of a backup killed before it published
    await change();
    const packs = packsOf(p).length;
    expect(killedAt('store-publish', ['backup', 'production'])).toEqual(KILLED);
    expect(packsOf(p).length).toBeGreaterThan(packs);
    expect(killedAt('store-delete', ['prune', 'production'])).toEqual(KILLED);
    await everyBackupRestores();
    const r = runCli(['prune', 'production', '--json'], { cwd: p.dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const referenced = new Set(published().flatMap((id) => blocksOf(p, id)));
    for (const pk of packsOf(p)) expect({ pack: pk.id, live: pk.blocks.some(([h]) => referenced.has(h)) }).toEqual({ pack: pk.id, live: true });
    await everyBackupRestores();
  });

  test('a restore killed while it writes blocks beside the target leaves the target as it was; the next restore works', async () => {
    const ids = published();
    const storeOnly = ids[ids.length - 1]!;
    const before = sha256(p.db);
    expect(killedAt('materialising', ['restore', 'production', '--from', storeOnly, '--yes'])).toEqual(KILLED);
    expect(sha256(p.db)).toBe(before);
    const r = runCli(['restore', 'production', '--from', storeOnly, '--yes'], { cwd: p.dir });
    expect(r.code).toBe(0);
    await expectRows(p.db, storeManifest(p, storeOnly));
    expect(fs.readdirSync(path.dirname(p.db)).filter((f) => f.includes('dbguard-tmp'))).toEqual([]);
    expect(fs.existsSync(storeDir(p))).toBe(true);
  });
});
