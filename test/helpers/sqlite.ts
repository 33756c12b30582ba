import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Creates a SQLite music library at `file`: artists, albums (foreign key),
 * tracks with an index on title, a view and a trigger. `tracks` rows are
 * long enough to span many pages. Returns the row counts.
 */
export function createSqliteDb(file: string, opts: { journalMode?: 'wal' | 'delete'; tracks?: number; pageSize?: number } = {}): Record<string, number> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    if (opts.pageSize) db.pragma(`page_size = ${opts.pageSize}`);
    db.pragma(`journal_mode = ${opts.journalMode ?? 'wal'}`);
    const tracks = opts.tracks ?? 2000;
    db.exec(`
      CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE albums (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artists(id), title TEXT);
      CREATE TABLE tracks (id INTEGER PRIMARY KEY, album_id INTEGER REFERENCES albums(id), title TEXT, lyrics TEXT);
      CREATE INDEX tracks_title ON tracks(title);
      CREATE VIEW album_sizes AS SELECT album_id, count(*) AS n FROM tracks GROUP BY album_id;
      CREATE TRIGGER no_empty_title BEFORE INSERT ON tracks WHEN NEW.title = '' BEGIN SELECT RAISE(ABORT, 'empty title'); END;
    `);
    db.transaction(() => {
      const a = db.prepare('INSERT INTO artists (id, name) VALUES (?, ?)');
      for (let i = 1; i <= 50; i++) a.run(i, `artist ${i}`);
      const b = db.prepare('INSERT INTO albums (id, artist_id, title) VALUES (?, ?, ?)');
      for (let i = 1; i <= 200; i++) b.run(i, 1 + (i % 50), `album ${i}`);
      const t = db.prepare('INSERT INTO tracks (id, album_id, title, lyrics) VALUES (?, ?, ?, ?)');
      for (let i = 1; i <= tracks; i++) t.run(i, 1 + (i % 200), `track ${String(i).padStart(6, '0')}`, `la `.repeat(40) + i);
    })();
    if ((opts.journalMode ?? 'wal') === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
    return { artists: 50, albums: 200, tracks };
  } finally {
    db.close();
  }
}

/** Runs `fn` on `file` opened read-only in this process and closes it. */
export function withSqlite<T>(file: string, fn: (db: Database.Database) => T, readonly = true): T {
  const db = new Database(file, { readonly, fileMustExist: true });
  try { return fn(db); } finally { db.close(); }
}

/** The page numbers (1-based) of a table's or index's b-tree root, from sqlite_schema. */
export function rootPage(file: string, name: string): { root: number; pageSize: number } {
  return withSqlite(file, (db) => ({
    root: (db.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').get(name) as { rootpage: number }).rootpage,
    pageSize: Number(db.pragma('page_size', { simple: true })),
  }));
}

/** Pages of the b-tree `name` (via the dbstat virtual table when compiled in), else undefined. */
export function btreePages(file: string, name: string): { pageno: number; pagetype: string }[] {
  return withSqlite(file, (db) => db.prepare('SELECT pageno, pagetype FROM dbstat WHERE name = ? ORDER BY pageno').all(name) as { pageno: number; pagetype: string }[]);
}

/** Overwrites `length` bytes at `offset` with 0xA5/0x5A garbage (a flipped region). */
export function scribble(file: string, offset: number, length: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const buf = Buffer.alloc(length);
    fs.readSync(fd, buf, 0, length, offset);
    for (let i = 0; i < length; i++) buf[i] = buf[i]! ^ 0xff;
    fs.writeSync(fd, buf, 0, length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

const CHILDREN = path.join(__dirname, 'sqlite-children.js');

/** Starts a child helper (see sqlite-children.js) and resolves when it prints `ready`. */
export function startChild(mode: 'hot-journal' | 'ledger' | 'lock', file: string): Promise<ChildProcess & { lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILDREN, mode, file], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { lines: string[] };
    child.lines = [];
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    child.stdout!.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n').filter(Boolean)) {
        child.lines.push(l);
        if (l === 'ready') resolve(child);
      }
    });
    child.on('exit', (code) => { if (!child.lines.includes('ready')) reject(new Error(`child ${mode} exited ${code}: ${err}`)); });
  });
}

/** Kills a child and waits for its exit. */
export function killChild(child: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(sig);
  });
}
