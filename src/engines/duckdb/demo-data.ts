/**
 * SQL for the sample music library that `dbguard init --demo` creates: artists,
 * albums and tracks with primary and foreign keys, a sequence, an index and a view.
 * `scale` multiplies the number of tracks (1 gives about 5,000).
 */
export function demoSql(environment: string, scale = 1): string {
  const tracks = 5000 * scale;
  return `
CREATE SEQUENCE track_id_seq START 1;
CREATE TABLE artists (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, country VARCHAR);
CREATE TABLE albums (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artists(id), title VARCHAR NOT NULL, released DATE);
CREATE TABLE tracks (
  id BIGINT PRIMARY KEY DEFAULT nextval('track_id_seq'),
  album_id INTEGER NOT NULL REFERENCES albums(id),
  title VARCHAR NOT NULL,
  duration_ms INTEGER,
  plays BIGINT DEFAULT 0,
  added_at TIMESTAMP
);
CREATE INDEX tracks_title_idx ON tracks(title);
INSERT INTO artists SELECT i, 'Artist ' || i, (['SE', 'DE', 'US', 'JP', 'BR'])[1 + i % 5] FROM range(1, 201) t(i);
INSERT INTO albums SELECT i, 1 + i % 200, 'Album ' || i || ' (${environment})', DATE '1990-01-01' + INTERVAL (i * 7) DAY FROM range(1, 1001) t(i);
INSERT INTO tracks (album_id, title, duration_ms, plays, added_at)
  SELECT 1 + i % 1000, 'Track ' || i, 120000 + (i * 7919) % 240000, (i * 104729) % 100000, TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE FROM range(0, ${tracks}) t(i);
CREATE VIEW album_lengths AS SELECT a.id, a.title, count(t.id) AS tracks, sum(t.duration_ms) AS duration_ms FROM albums a LEFT JOIN tracks t ON t.album_id = a.id GROUP BY a.id, a.title;
`;
}
