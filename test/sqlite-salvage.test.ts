/**
 * SQLite salvage and recreate (issue 10): every row SQLite can still reach is
 * copied, the unreadable rowid ranges are reported, the result passes
 * integrity_check with its indexes, views and triggers; recreate builds the
 * empty schema from `sqlite_schema.sql`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCatalogOf } from './helpers/sqlite-catalog';
import { describeLoss, recreateSqlite, salvageSqliteFile } from '../src/engines/sqlite/repair';
import { sha256, tempDir } from './helpers/db';
import { btreePages, createSqliteDb, scribble, withSqlite } from './helpers/sqlite';

describe('SQLite salvage', () => {
  let t: ReturnType<typeof tempDir>;
  let db: string;
  beforeEach(() => { t = tempDir(); db = path.join(t.dir, 'musique.db'); });
  afterEach(() => t.cleanup());

  test('a damaged table leaf page: every other row is kept, the lost rowids are named, the copy is healthy', async () => {
    createSqliteDb(db, { tracks: 5000 });
    const leaves = btreePages(db, 'tracks').filter((p) => p.pagetype === 'leaf');
    const bad = leaves[Math.floor(leaves.length / 2)]!;
    const allIds = withSqlite(db, (c) => (c.prepare('SELECT id FROM tracks ORDER BY id').all() as { id: number }[]).map((r) => r.id));
    // which ids live on that page, read before the damage through dbstat's page numbers
    const onPage = withSqlite(db, (c) => {
      const cells = c.prepare('SELECT ncell FROM dbstat WHERE name = ? AND pageno = ?').get('tracks', bad.pageno) as { ncell: number };
      return cells.ncell;
    });
    expect(allIds.length).toBe(5000);
    scribble(db, (bad.pageno - 1) * 4096 + 8, 200);
    const before = sha256(db);
    const dest = path.join(t.dir, 'salvaged.db');
    const r = await salvageSqliteFile(db, dest);
    expect(sha256(db)).toBe(before);
    const tracks = r.tables.find((x) => x.name === 'tracks')!;
    expect(r.lostTables).toEqual([]);
    expect(tracks.lostRowids.length).toBe(1);
    const [lo, hi] = tracks.lostRowids[0]!;
    const kept = new Set(withSqlite(dest, (c) => (c.prepare('SELECT id FROM tracks').all() as { id: number }[]).map((x) => x.id)));
    const missing = allIds.filter((id) => !kept.has(id));
    // exactly the rows of the damaged page are lost, and the report names them
    expect(missing.length).toBe(onPage);
    expect([missing[0], missing[missing.length - 1]]).toEqual([lo, hi]);
    expect(tracks.copied + (hi - lo + 1)).toBe(5000);
    expect(describeLoss(r)).toContain(`tracks: rowids ${lo}–${hi} unreadable`);
    withSqlite(dest, (c) => {
      expect(c.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((c.prepare('SELECT count(*) AS n FROM tracks').get() as { n: number }).n).toBe(tracks.copied);
      expect((c.prepare('SELECT count(*) AS n FROM tracks WHERE id BETWEEN ? AND ?').get(lo, hi) as { n: number }).n).toBe(0);
      expect((c.prepare('SELECT count(*) AS n FROM albums').get() as { n: number }).n).toBe(200);
      expect(c.prepare("SELECT name FROM sqlite_schema WHERE type IN ('index', 'view', 'trigger') ORDER BY name").all()).toEqual([{ name: 'album_sizes' }, { name: 'no_empty_title' }, { name: 'tracks_title' }]);
    });
  });

  test('a healthy file salvages to the same rows and fingerprints', async () => {
    createSqliteDb(db);
    const dest = path.join(t.dir, 'salvaged.db');
    const r = await salvageSqliteFile(db, dest);
    expect(describeLoss(r)).toBe('nothing lost');
    expect(await readCatalogOf(dest)).toEqual(await readCatalogOf(db));
  });

  test('recreate: an empty database with the schema from sqlite_schema.sql', async () => {
    createSqliteDb(db);
    const ddl = withSqlite(db, (c) => (c.prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid").all() as { sql: string }[]).map((r) => `${r.sql};`));
    const dest = path.join(t.dir, 'empty.db');
    await recreateSqlite(dest, ddl);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o600);
    withSqlite(dest, (c) => {
      expect((c.prepare('SELECT count(*) AS n FROM tracks').get() as { n: number }).n).toBe(0);
      expect((c.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n).toBe(6);
    });
  });

  test('recreate with a statement SQLite rejects: the error is thrown and no file is left', async () => {
    const dest = path.join(t.dir, 'empty.db');
    await expect(recreateSqlite(dest, ['CREATE TABLE a (x);', 'CREATE TABLE oops ('])).rejects.toThrow(/syntax error|incomplete input/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});
