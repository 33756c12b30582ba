/**
 * SQLite backups (issue 10): a live copy while a child process commits in WAL
 * mode keeps the application's invariants in every copy; a rollback-journal
 * writer's lock is busy (exit 5); a full disk is a storage error, never damage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusyError, StorageError } from '../src/core/errors';
import { snapshotSqlite, validateSqlite } from '../src/engines/sqlite/backup';
import { notRunError } from '../src/ops/worker-errors';
import { sha256, tempDir } from './helpers/db';
import { mountTmpfs } from './helpers/faults';
import { createSqliteDb, killChild, startChild, withSqlite } from './helpers/sqlite';

describe('SQLite backup', () => {
  let t: ReturnType<typeof tempDir>;
  let db: string;
  beforeEach(() => { t = tempDir(); db = path.join(t.dir, 'postflow.db'); });
  afterEach(() => t.cleanup());

  test('a healthy file: one plain 0600 file in rollback-journal mode, valid, with the snapshot\'s counts; the source unchanged', async () => {
    createSqliteDb(db);
    const before = sha256(db);
    const dest = path.join(t.dir, 'copy.db');
    const snap = await snapshotSqlite(db, dest, 'production');
    expect(snap.counts).toEqual([{ name: 'artists', rows: 50 }, { name: 'albums', rows: 200 }, { name: 'tracks', rows: 2000 }]);
    expect(snap.journalMode).toBe('wal');
    expect(fs.statSync(dest).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(dest).subarray(18, 20)).toEqual(Buffer.from([1, 1]));
    expect(fs.existsSync(`${dest}-wal`)).toBe(false);
    const v = await validateSqlite(dest, snap.counts);
    expect(v).toMatchObject({ ok: true, problems: [] });
    expect(sha256(db)).toBe(before);
  });

  test('live, while a child process commits transfers in WAL mode: every copy keeps the sum of balances and a gapless ledger', async () => {
    fs.closeSync(fs.openSync(db, 'w'));
    const writer = await startChild('ledger', db);
    try {
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) {
        const dest = path.join(t.dir, `copy${i}.db`);
        const snap = await snapshotSqlite(db, dest, 'production');
        const v = await validateSqlite(dest, snap.counts);
        expect(v.problems).toEqual([]);
        const inv = withSqlite(dest, (c) => ({
          sum: (c.prepare('SELECT sum(balance) AS s FROM accounts').get() as { s: number }).s,
          ledger: c.prepare('SELECT count(*) AS n, max(seq) AS m FROM ledger').get() as { n: number; m: number },
        }));
        expect(inv.sum).toBe(100 * 1000);
        expect(inv.ledger.m).toBe(inv.ledger.n);
        expect(snap.counts.find((c) => c.name === 'ledger')!.rows).toBe(inv.ledger.n);
        seen.push(inv.ledger.n);
      }
      // the writer kept committing between copies: these were live copies, not of an idle file
      expect(new Set(seen).size).toBeGreaterThan(1);
    } finally {
      await killChild(writer, 'SIGTERM');
    }
  });

  test('rollback-journal mode with a writer holding its lock: BusyError (exit 5) naming the file and --wait; no copy left', async () => {
    createSqliteDb(db, { journalMode: 'delete' });
    const child = await startChild('lock', db);
    const dest = path.join(t.dir, 'copy.db');
    try {
      const err = await snapshotSqlite(db, dest, 'production', { waitMs: 0 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BusyError);
      expect((err as BusyError).exitCode).toBe(5);
      expect((err as BusyError).message).toContain(db);
      expect((err as BusyError).hint).toMatch(/--wait/);
      expect(fs.existsSync(dest)).toBe(false);
    } finally {
      await killChild(child);
    }
  });

  test('a full backup disk: a storage error "disk full" (exit 6), never damage; no copy left, the source unchanged', async () => {
    createSqliteDb(db, { tracks: 20000 });
    const before = sha256(db);
    const disk = mountTmpfs(path.join(t.dir, 'small'), 'size=1m');
    try {
      const dest = path.join(disk.dir, 'copy.db');
      const err = await snapshotSqlite(db, dest, 'production').then(() => undefined, (e: unknown) => e);
      const mapped = notRunError(err, `copying ${db}`);
      expect(mapped).toBeInstanceOf(StorageError);
      expect(mapped!.code).toBe('disk-full');
      expect(mapped!.exitCode).toBe(6);
      expect(`${mapped!.message} ${mapped!.hint}`).not.toMatch(/repair|damaged database/i);
      expect(fs.readdirSync(disk.dir)).toEqual([]);
      expect(sha256(db)).toBe(before);
    } finally {
      disk.cleanup();
    }
  });

  test('validation finds a copy whose counts differ from the snapshot\'s, and a damaged copy', async () => {
    createSqliteDb(db);
    const dest = path.join(t.dir, 'copy.db');
    const snap = await snapshotSqlite(db, dest, 'production');
    const wrong = snap.counts.map((c) => (c.name === 'tracks' ? { ...c, rows: c.rows + 1 } : c));
    expect((await validateSqlite(dest, wrong)).problems).toEqual(['table tracks has 2000 rows in the copy, 2001 at copy time']);
    fs.truncateSync(dest, 8192);
    const v = await validateSqlite(dest, snap.counts);
    expect(v.ok).toBe(false);
    expect(v.problems.length).toBeGreaterThan(0);
  });
});
