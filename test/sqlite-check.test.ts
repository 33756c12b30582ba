/**
 * The SQLite engine's check on real damaged files (issue 10): each damage is
 * made by the test on a real file, the check runs in real worker processes,
 * and the source (and its side files) keep their bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusyError } from '../src/core/errors';
import { checkSqlite } from '../src/engines/sqlite/check';
import { backupExtension, isSqliteHeader, readSqliteHeader, sideFiles } from '../src/engines/sqlite/format';
import { createMusicDb, sha256, tempDir } from './helpers/db';
import { btreePages, createSqliteDb, killChild, scribble, startChild, withSqlite } from './helpers/sqlite';

const codes = (r: { findings: { code: string }[] }) => r.findings.map((f) => f.code);
const errors = (r: { findings: { code: string; severity: string }[] }) => r.findings.filter((f) => f.severity === 'error').map((f) => f.code);

describe('SQLite check', () => {
  let t: ReturnType<typeof tempDir>;
  let db: string;
  beforeEach(() => { t = tempDir(); db = path.join(t.dir, 'musique.db'); });
  afterEach(() => t.cleanup());

  test('a healthy WAL database: no findings, every table counted and fingerprinted, the source unchanged', async () => {
    createSqliteDb(db);
    const before = sha256(db);
    const r = await checkSqlite(db, { target: 'production' });
    expect(r.findings).toEqual([]);
    expect(r.tables.map((x) => [x.name, x.rows])).toEqual([['artists', 50], ['albums', 200], ['tracks', 2000]]);
    expect(r.tables.every((x) => /^[0-9a-f]+$/.test(x.fingerprint!))).toBe(true);
    expect(r.journalMode).toBe('wal');
    expect(r.catalog!.indexes.map((i) => i.name)).toEqual(['tracks_title']);
    expect(r.catalog!.views.map((v) => v.name)).toEqual(['album_sizes']);
    expect(r.catalog!.triggers.map((v) => v.name)).toEqual(['no_empty_title']);
    expect(r.catalog!.tables.find((x) => x.name === 'tracks')!.primaryKey).toEqual(['id']);
    expect(r.catalog!.ddl.some((s) => s.startsWith('CREATE TABLE tracks'))).toBe(true);
    expect(sha256(db)).toBe(before);
  });

  test('detection, side files and backup extension', () => {
    createSqliteDb(db);
    expect(isSqliteHeader(fs.readFileSync(db).subarray(0, 16))).toBe(true);
    expect(readSqliteHeader(db)).toMatchObject({ kind: 'sqlite', pageSize: 4096, headerPages: fs.statSync(db).size / 4096 });
    expect(sideFiles(db)).toEqual([`${db}-wal`, `${db}-shm`, `${db}-journal`]);
    expect([backupExtension('/x/musique.db'), backupExtension('/x/a.sqlite'), backupExtension('/x/a.sqlite3'), backupExtension('/x/flower')]).toEqual(['.db', '.sqlite', '.sqlite', '.sqlite']);
  });

  test('a truncated file: "truncated" from the header, without SQLite', async () => {
    createSqliteDb(db);
    fs.truncateSync(db, Math.floor(fs.statSync(db).size / 2) + 100);
    const r = await checkSqlite(db, { target: 'production' });
    expect(errors(r)).toContain('truncated');
    expect(r.findings.find((f) => f.code === 'truncated')!.message).toContain(db);
    expect(r.findings.find((f) => f.code === 'truncated')!.hint).toBe('dbguard repair production');
  });

  test('a damaged table (b-tree leaf) page: an error naming the file', async () => {
    createSqliteDb(db);
    const leaf = btreePages(db, 'tracks').filter((p) => p.pagetype === 'leaf')[10]!;
    scribble(db, (leaf.pageno - 1) * 4096 + 8, 64);
    const r = await checkSqlite(db, { target: 'production' });
    expect(errors(r).length).toBeGreaterThan(0);
    expect(errors(r).some((c) => c === 'integrity-check' || c === 'table-unreadable')).toBe(true);
    expect(r.findings[0]!.message).toContain(db);
  });

  test('a damaged index page: integrity_check finds it although every table reads', async () => {
    createSqliteDb(db);
    const leaf = btreePages(db, 'tracks_title').filter((p) => p.pagetype === 'leaf')[3]!;
    scribble(db, (leaf.pageno - 1) * 4096 + 8, 64);
    const r = await checkSqlite(db, { target: 'production' });
    expect(errors(r)).toEqual(['integrity-check']);
    expect(r.tables.find((x) => x.name === 'tracks')!.rows).toBe(2000);
  });

  test('an overwritten header: "bad-magic"', async () => {
    createSqliteDb(db);
    const fd = fs.openSync(db, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0), 0, 100, 0);
    fs.closeSync(fd);
    const r = await checkSqlite(db, { target: 'production' });
    expect(codes(r)).toEqual(['bad-magic']);
  });

  test('an empty file: "empty-file"', async () => {
    fs.writeFileSync(db, '');
    const r = await checkSqlite(db, { target: 'production' });
    expect(codes(r)).toEqual(['empty-file']);
  });

  test('a DuckDB file named .db: "not-sqlite", naming DuckDB and the engine setting', async () => {
    await createMusicDb(db, 0.1);
    const r = await checkSqlite(db, { target: 'production' });
    expect(codes(r)).toEqual(['not-sqlite']);
    expect(r.findings[0]!.message).toMatch(/DuckDB database, not SQLite/);
    expect(r.findings[0]!.hint).toMatch(/targets\.production\.engine/);
  });

  test('a stale -wal from another database (other page size): "wal-mismatch", and the files keep their bytes', async () => {
    createSqliteDb(db);
    const other = path.join(t.dir, 'other.db');
    createSqliteDb(other, { pageSize: 1024, tracks: 10 });
    withSqlite(other, (o) => { o.pragma('wal_autocheckpoint = 0'); o.exec("UPDATE artists SET name = 'x'"); fs.copyFileSync(`${other}-wal`, `${db}-wal`); }, false);
    const before = [sha256(db), sha256(`${db}-wal`)];
    const r = await checkSqlite(db, { target: 'production' });
    expect(codes(r)).toContain('wal-mismatch');
    expect(r.findings.find((f) => f.code === 'wal-mismatch')!.hint).toMatch(/dbguard repair production/);
    expect([sha256(db), sha256(`${db}-wal`)]).toEqual(before);
  });

  test('a hot journal left by a killed writer: a warning, the pair checked through a copy, journal and database untouched', async () => {
    createSqliteDb(db, { journalMode: 'delete', tracks: 4000 });
    const child = await startChild('hot-journal', db);
    await killChild(child);
    const journal = `${db}-journal`;
    expect(fs.existsSync(journal)).toBe(true);
    const before = [sha256(db), sha256(journal)];
    const r = await checkSqlite(db, { target: 'production' });
    expect(codes(r)).toEqual(['hot-journal']);
    expect(r.findings[0]!.severity).toBe('warning');
    expect(r.findings[0]!.hint).toMatch(/never delete/);
    expect(r.hotJournal).toBe(true);
    // the copy was rolled back: the killed transaction's deletes are undone
    expect(r.tables.find((x) => x.name === 'tracks')!.rows).toBe(4000);
    expect([sha256(db), sha256(journal)]).toEqual(before);
  });

  test('a rollback-journal writer holding its lock: BusyError (exit 5) with a --wait hint', async () => {
    createSqliteDb(db, { journalMode: 'delete' });
    const child = await startChild('lock', db);
    try {
      const err = await checkSqlite(db, { target: 'production', waitMs: 0 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BusyError);
      expect((err as BusyError).exitCode).toBe(5);
      expect((err as BusyError).message).toContain(db);
      expect((err as BusyError).hint).toMatch(/--wait/);
    } finally {
      await killChild(child);
    }
  });
});
