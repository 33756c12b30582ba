/**
 * `dbguard migrate-store` (issue 11): plain backups into the store and back,
 * each verified before anything is removed, and a failure injected in the
 * middle of a migration (DBGUARD_TEST_FAIL_AT) losing nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { filesIn, makeProject, manualClock, readManifestFile, type Project } from './helpers/backup';
import { runCli } from './helpers/cli';
import { execSql, tempDir, writeConfig } from './helpers/db';
import { expectRows, restoreTo, storeDir } from './helpers/blocks';

const day = (n: number) => new Date(2024, 2, 1 + n, 2, 0, 0);

/** A project with three plain backups (files format) of changing data, then switched to blocks format. */
async function plainHistory(): Promise<{ p: Project; ids: string[]; manifests: Record<string, ReturnType<typeof readManifestFile>> }> {
  const p = await makeProject(1);
  const ids: string[] = [];
  const manifests: Record<string, ReturnType<typeof readManifestFile>> = {};
  for (let n = 0; n < 3; n++) {
    if (n) await execSql(p.db, `UPDATE tracks SET plays = plays + 1 WHERE id % 50 = ${n}; INSERT INTO artists VALUES (${1000 + n}, 'Migrated ${n}', 'FR');`);
    const r = await backupTarget(p.config(), 'production', { clock: manualClock(day(n)) });
    ids.push(r.id);
    manifests[r.id] = readManifestFile(r.file);
  }
  writeConfig(p.dir, { storage: { format: 'blocks', plain: 1 } });
  return { p, ids, manifests };
}

const plainFiles = (p: Project) => filesIn(p.backups).filter((f) => f.endsWith('.duckdb'));

describe('migrate-store', () => {
  let out: { dir: string; cleanup(): void };
  beforeAll(() => { out = tempDir('dbguard-migrate-out-'); });
  afterAll(() => out.cleanup());

  test('--to blocks, then --to files: each backup verified, every version restores to its rows both times', async () => {
    const { p, ids, manifests } = await plainHistory();
    try {
      const dry = runCli(['migrate-store', 'production', '--dry-run', '--json'], { cwd: p.dir });
      expect(dry.code).toBe(0);
      expect(dry.json.targets[0].converted.map((c: any) => c.id).sort()).toEqual([...ids].sort());
      expect(fs.existsSync(storeDir(p))).toBe(false);

      const r = runCli(['migrate-store', 'production', '--json'], { cwd: p.dir });
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(plainFiles(p)).toEqual([`${ids[2]}.duckdb`]);
      const listed = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
      expect(listed.map((b: any) => [b.id, b.location])).toEqual([[ids[2], 'plain+store'], [ids[1], 'store'], [ids[0], 'store']]);
      expect(runCli(['verify', 'production', '--all', '--read-data'], { cwd: p.dir }).code).toBe(0);
      for (const id of ids) {
        const { r: res, dest } = restoreTo(p, id, out.dir);
        expect(res.code).toBe(0);
        await expectRows(dest, manifests[id]!);
      }

      const back = runCli(['migrate-store', 'production', '--to', 'files', '--json'], { cwd: p.dir });
      expect([back.code, back.stderr]).toEqual([0, '']);
      expect(plainFiles(p)).toEqual(ids.map((id) => `${id}.duckdb`).sort());
      expect(fs.readdirSync(path.join(storeDir(p), 'snapshots', 'production')).filter((f) => f.endsWith('.json'))).toEqual([]);
      const again = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
      expect(again.map((b: any) => b.location)).toEqual(['plain', 'plain', 'plain']);
      for (const id of ids) {
        expect(readManifestFile(path.join(p.backups, `${id}.duckdb`)).sha256).toBe(manifests[id]!.sha256);
        const { r: res, dest } = restoreTo(p, `${id}`, path.join(out.dir, 'back'));
        expect(res.code).toBe(0);
        await expectRows(dest, manifests[id]!);
      }
      expect(runCli(['migrate-store', 'production', '--to', 'sideways'], { cwd: p.dir }).code).toBe(2);
    } finally {
      p.cleanup();
    }
  });

  test('a failure in the middle of --to blocks (EIO at the second publish) loses nothing; running it again finishes', async () => {
    const { p, ids, manifests } = await plainHistory();
    try {
      const r = runCli(['migrate-store', 'production'], { cwd: p.dir, env: { DBGUARD_TEST_FAIL_AT: `migrate-publish:${ids[1]}.duckdb=EIO` } });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/I\/O error/);
      expect(r.stderr).toContain(`stopped at backup ${ids[1]}`);
      // nothing was removed: every plain file is there with its manifest
      expect(plainFiles(p)).toEqual(ids.map((id) => `${id}.duckdb`).sort());
      for (const id of ids) {
        const { r: res, dest } = restoreTo(p, id, path.join(out.dir, 'fail'));
        expect(res.code).toBe(0);
        await expectRows(dest, manifests[id]!);
      }
      const again = runCli(['migrate-store', 'production'], { cwd: p.dir });
      expect(again.code).toBe(0);
      expect(plainFiles(p)).toEqual([`${ids[2]}.duckdb`]);
      for (const id of ids) {
        const { r: res, dest } = restoreTo(p, id, path.join(out.dir, 'fail2'));
        expect(res.code).toBe(0);
        await expectRows(dest, manifests[id]!);
      }
    } finally {
      p.cleanup();
    }
  });

  test('a full disk while writing a plain file back (--to files) keeps that backup in the store', async () => {
    const { p, ids, manifests } = await plainHistory();
    try {
      expect(runCli(['migrate-store', 'production'], { cwd: p.dir }).code).toBe(0);
      const r = runCli(['migrate-store', 'production', '--to', 'files'], { cwd: p.dir, env: { DBGUARD_TEST_FAIL_AT: `migrate-plain:${ids[0]}.duckdb=ENOSPC` } });
      expect(r.code).toBe(6);
      expect(r.stderr).toContain(`stopped at backup ${ids[0]}`);
      expect(filesIn(p.backups).filter((f) => f.includes('.tmp'))).toEqual([]);
      const listed = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
      expect(listed.map((b: any) => b.id).sort()).toEqual([...ids].sort());
      for (const id of ids) {
        const { r: res, dest } = restoreTo(p, id, path.join(out.dir, 'full'));
        expect(res.code).toBe(0);
        await expectRows(dest, manifests[id]!);
      }
    } finally {
      p.cleanup();
    }
  });

  test('back in files format, rotation still removes old store backups (and keeps the newest valid)', async () => {
    const { p, ids } = await plainHistory();
    try {
      expect(runCli(['migrate-store', 'production'], { cwd: p.dir }).code).toBe(0);
      writeConfig(p.dir, { keep: 2 });
      const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.json.backups[0].location).toBe('plain');
      expect(r.json.backups[0].removed.sort()).toEqual([ids[0], ids[1]].sort());
      const listed = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups;
      expect(listed.map((b: any) => [b.id, b.location])).toEqual([[r.json.backups[0].id, 'plain'], [ids[2], 'plain+store']]);
      expect(fs.readdirSync(path.join(storeDir(p), 'snapshots', 'production')).filter((f) => f.endsWith('.json'))).toEqual([`${ids[2]}.duckdb.json`]);
    } finally {
      p.cleanup();
    }
  });
});
