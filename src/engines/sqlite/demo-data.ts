/**
 * SQL (SQLite dialect) for the sample `music` target of `dbguard init --demo`:
 * the music-library backend's `data/musique.db` in WAL mode, with artists,
 * albums and tracks linked by foreign keys, and an index. Run by the SQLite
 * engine's worker, never in the CLI process.
 */
export function demoSqliteSql(tracks = 2000): string {
  return `
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
CREATE TABLE albums (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artists(id), title TEXT NOT NULL, released TEXT);
CREATE TABLE tracks (id INTEGER PRIMARY KEY, album_id INTEGER NOT NULL REFERENCES albums(id), title TEXT NOT NULL, duration_ms INTEGER, plays INTEGER DEFAULT 0);
CREATE INDEX tracks_title_idx ON tracks(title);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
  INSERT INTO artists SELECT i, 'Artist ' || i, substr('SEDEUSJPBR', 1 + 2 * (i % 5), 2) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
  INSERT INTO albums SELECT i, 1 + i % 50, 'Album ' || i, date('1990-01-01', '+' || (i * 7) || ' days') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${tracks})
  INSERT INTO tracks SELECT i, 1 + i % 200, 'Track ' || i, 120000 + (i * 7919) % 240000, (i * 104729) % 100000 FROM n;
COMMIT;
`;
}
