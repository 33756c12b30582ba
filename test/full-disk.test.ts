/**
 * A full disk is a storage error (exit 6), never damage (DESIGN.md §5,
 * invariant 9): a real tmpfs that runs out of files or bytes while the copy,
 * the WAL copy or the checkpoint of the copy is written. The source is
 * untouched, nothing half-written is left, and the hint never says "repair".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError } from '../src/core/errors';
import { backupTarget } from '../src/ops/backup';
import { runWorker, WorkerFailed } from '../src/engines/duckdb/client';
import { dataBlockOffset, flipByte, makeProject, tempFilesIn, type Project } from './helpers/backup';
import { runCli } from './helpers/cli';
import { crashWriter } from './helpers/damage';
import { sha256 as sha256Of } from './helpers/db';
import { JobHistory } from '../src/daemon/history';
import { Daemons, Sandbox, startRecorder, waitFor } from './helpers/daemon';
import { mountTmpfs } from './helpers/faults';



describe('a full backup disk', () => {
  let p: Project;
  let disk: { dir: string; cleanup(): void } | undefined;
  beforeEach(async () => { p = await makeProject(); });
  afterEach(() => { disk?.cleanup(); disk = undefined; p.cleanup(); });

  // The folder root takes one inode and the target's lock file one more.
  const fullAfter = (files: number) => {
    disk = mountTmpfs(path.join(p.dir, 'small'), `size=64m,nr_inodes=${files + 2}`);
    fs.writeFileSync(p.configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(p.configFile, 'utf8')), backupDir: disk.dir }));
    return disk.dir;
  };

  test('while copying the database: exit 6 "disk full", no repair hint, source unchanged, nothing left', () => {
    const dir = fullAfter(0);
    const before = sha256Of(p.db);
    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(6);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!).error;
    expect(err.code).toBe('disk-full');
    expect(err.message).toMatch(/disk full/);
    expect(`${err.message} ${err.hint}`).not.toMatch(/repair|damaged database|cannot read/i);
    expect(sha256Of(p.db)).toBe(before);
    expect(tempFilesIn(dir)).toEqual([]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
  });

  test('while copying the WAL: a StorageError "disk full", never an IntegrityError', async () => {
    await crashWriter(p.db, "INSERT INTO artists SELECT 100000 + i, 'Late ' || i, 'NO' FROM range(50) t(i)");
    const dir = fullAfter(1);
    const err = await backupTarget(p.config(), 'production').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('disk-full');
    expect(tempFilesIn(dir)).toEqual([]);
  });

  test('while DuckDB checkpoints the copy (its own "No space left on device"): a StorageError, never an IntegrityError', async () => {
    await crashWriter(p.db, "INSERT INTO artists SELECT 100000 + i, repeat('Late ', 200) || i, 'NO' FROM range(2000) t(i)");
    disk = mountTmpfs(path.join(p.dir, 'small'), 'size=48m');
    fs.writeFileSync(p.configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(p.configFile, 'utf8')), backupDir: disk.dir }));
    const filler = path.join(disk.dir, 'filler');
    // As soon as the copy is complete, the disk fills up (another program writing): what is left to write is the checkpoint.
    const fill = () => {
      const fd = fs.openSync(filler, 'a');
      const chunk = Buffer.alloc(1 << 20);
      try { for (;;) fs.writeSync(fd, chunk); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e; } finally { fs.closeSync(fd); }
      try { for (;;) fs.appendFileSync(filler, Buffer.alloc(4096)); } catch { /* the last pages */ }
    };
    let filled = false;
    const err = await backupTarget(p.config(), 'production', {
      onProgress: (e) => { if (e.phase === 'copy' && e.done === e.total && !filled) { filled = true; fill(); } },
    }).then(() => undefined, (e: unknown) => e);
    expect(filled).toBe(true);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('disk-full');
    expect((err as Error).message).toMatch(/disk full/i);
    expect(tempFilesIn(disk.dir)).toEqual([]);
  });

  test('salvage into a full disk fails as "disk full", never as rows lost from the source', async () => {
    disk = mountTmpfs(path.join(p.dir, 'small'), 'size=1m');
    const err = await runWorker({ action: 'salvage', file: p.db, dest: path.join(disk.dir, 'salvaged.duckdb') }).then((r) => r, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerFailed);
    expect((err as WorkerFailed).failure.kind).toBe('disk-full');
  });

  test('repair whose salvage fills the quarantine disk: exit 6, the damaged file stays in quarantine, named in the message', async () => {
    flipByte(p.db, await dataBlockOffset(p.db, 'tracks'));
    const damagedSha = sha256Of(p.db);
    // room for the damaged file moved aside (2.6 MB), not for a salvage beside it
    disk = mountTmpfs(path.join(p.dir, 'small'), 'size=3m');
    fs.writeFileSync(p.configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(p.configFile, 'utf8')), backupDir: disk.dir }));
    const r = runCli(['repair', 'production', '--strategy', 'salvage', '--yes'], { cwd: p.dir });
    expect(r.stderr).toMatch(/disk full/);
    expect(r.code).toBe(6);
    const qdir = path.join(disk.dir, 'quarantine');
    const [folder] = fs.readdirSync(qdir);
    expect(r.stderr).toContain(path.join(qdir, folder!));
    expect(sha256Of(path.join(qdir, folder!, 'production.duckdb'))).toBe(damagedSha);
    expect(r.stderr).not.toMatch(/lost|internal error/i);
  });
});

describe('the daemon on a full backup disk', () => {
  const box = new Sandbox('dbguard-fulldisk-');
  const daemons = new Daemons();
  let disk: { dir: string; cleanup(): void } | undefined;
  afterEach(async () => { await daemons.stopAll(); disk?.cleanup(); disk = undefined; });
  afterAll(() => box.cleanup());

  test('retries the backup as a storage error, sends a failure alert, never a damage alert, never repairs', async () => {
    const hook = await startRecorder();
    try {
      const site = await box.site();
      // room for the history, its lock and the target locks, none for a copy of the database
      disk = mountTmpfs(path.join(site.dir, 'small'), 'size=128k,nr_inodes=64');
      expect(fs.statSync(site.db('production')).size).toBeGreaterThan(256 * 1024);
      site.rewrite({ backupDir: disk.dir, autoRepair: true, retry: { attempts: 2, baseDelayMs: 50, factor: 2, maxDelayMs: 100 }, alerts: { webhook: { url: `${hook.url}/h` } } });
      const before = sha256Of(site.db('production'));
      const d = await daemons.start(site.config());
      const history = new JobHistory(disk.dir);
      const failed = await waitFor('the production backup to fail', () => history.read().find((r) => r.target === 'production' && r.kind === 'backup' && r.state === 'failed'));
      expect(failed.error?.code).toBe('disk-full');
      expect(history.read().some((r) => r.id === failed.id && r.state === 'retrying')).toBe(true);
      await d.alerter.flush(10000);
      const events = hook.requests.filter((q) => q.json?.target === 'production').map((q) => q.json.event);
      expect(events).toContain('failure');
      expect(events).not.toContain('damage');
      expect(events).not.toContain('repair');
      expect(fs.existsSync(path.join(disk.dir, 'quarantine'))).toBe(false);
      expect(sha256Of(site.db('production'))).toBe(before);
    } finally {
      await hook.close();
    }
  });
});
