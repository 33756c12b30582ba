/**
 * Child-process entry for every SQLite operation. The native module is loaded
 * here only, never by the CLI at start-up, and a crash on an untrusted file
 * ends this process, never the caller. One request per process.
 */
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { classifySqliteError } from './classify';
import type { NullKeyCount } from '../engine';
import { countRows, ident, readAll, readCatalog } from './catalog';
import { salvageSqlite } from './salvage';
import type { SqliteCheckResult, SqliteInspectResult, SqliteMessage, SqliteRequest, SqliteSnapshotResult } from './protocol';

const send = (msg: SqliteMessage) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));
const progress = (phase: string, done: number, total: number) => void process.send!({ type: 'progress', phase, done, total } satisfies SqliteMessage);

/**
 * Opens `file` read-only and makes the first read. A read-only connection
 * cannot initialize the `-shm` of a WAL database another read-only
 * connection is initializing (SQLITE_READONLY_CANTINIT, ..._RECOVERY,
 * SQLITE_BUSY_RECOVERY): check runs its full read and integrity_check side by
 * side, so those are waited out (up to 5 s) instead of being reported.
 */
function openReadOnly(file: string, timeout: number): Database.Database {
  const until = Date.now() + 5000;
  for (;;) {
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout });
    try {
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      return db;
    } catch (err) {
      db.close();
      const code = String((err as { code?: string }).code ?? '');
      if (!/^SQLITE_(READONLY_CANTINIT|READONLY_RECOVERY|BUSY_RECOVERY)$/.test(code) || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

const library = () => String((new Database(':memory:').prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);

/** Runs `fn`; a SQLITE_CORRUPT error is returned (as a verdict about the file), any other is thrown. */
function attempt<T>(fn: () => T): T | { error: Error } {
  try {
    return fn();
  } catch (err) {
    if (classifySqliteError(err).kind === 'corrupt') return { error: err as Error };
    throw err;
  }
}

/** integrity_check (or quick_check), foreign_key_check and a full read, all in one read transaction. */
function check(file: string, quick: boolean, waitMs: number, readWrite = false, pragmas = true, read = true): SqliteCheckResult {
  const started = Date.now();
  const db = readWrite ? new Database(file, { fileMustExist: true, timeout: waitMs }) : openReadOnly(file, waitMs);
  try {
    const journalMode = String(db.pragma('journal_mode', { simple: true }));
    db.exec('BEGIN');
    const catalog = readCatalog(db);
    // a damaged page can make the pragma itself fail: that is its verdict, and the full read still runs
    const integrity = !pragmas ? ['ok'] : attempt(() => (db.prepare(`PRAGMA ${quick ? 'quick_check' : 'integrity_check'}(100)`).raw(true).all() as string[][]).map((r) => String(r[0])));
    const fk = !pragmas ? [] : attempt(() => db.prepare('PRAGMA foreign_key_check').all() as { table: string; parent: string }[]);
    const grouped = new Map<string, { table: string; parent: string; count: number }>();
    for (const r of Array.isArray(fk) ? fk : []) {
      const key = `${r.table}\0${r.parent}`;
      const g = grouped.get(key) ?? { table: r.table, parent: r.parent, count: 0 };
      g.count++;
      grouped.set(key, g);
    }
    const tables = read ? readAll(db, catalog.tables.map((t) => t.name), (d, t) => progress('scan', d, t)) : [];
    if (read) for (const t of catalog.tables) t.rows = tables.find((x) => x.name === t.name)?.rows ?? 0;
    // no COMMIT: after a corrupt-page error SQLite answers every statement with it; close() ends the read
    const verdict = Array.isArray(integrity) ? integrity : [`failed: ${integrity.error.message}`];
    if (!Array.isArray(fk)) verdict.push(`foreign_key_check failed: ${fk.error.message}`);
    return { library: library(), journalMode, catalog, integrity: verdict.length > 1 ? verdict.filter((v) => v !== 'ok') : verdict, foreignKeys: [...grouped.values()], tables, durationMs: Date.now() - started };
  } finally {
    db.close();
  }
}

/**
 * A consistent copy through the online backup API, done in one step inside a
 * read transaction the worker holds: the catalog, the row counts and every
 * copied page come from the same snapshot, so another connection's commits
 * neither restart nor tear the copy (measured: scripts/bench-sqlite-copy.js).
 * In rollback-journal mode the read waits up to `waitMs` for a writer's lock,
 * then fails with kind `lock`. The copy is switched to rollback-journal mode:
 * one plain file, no `-wal`, mode 0600.
 */
async function snapshot(file: string, dest: string, waitMs: number): Promise<SqliteSnapshotResult> {
  const db = openReadOnly(file, waitMs);
  try {
    const journalMode = String(db.pragma('journal_mode', { simple: true }));
    db.exec('BEGIN');
    const catalog = readCatalog(db);
    const counts = countRows(db, catalog.tables.map((t) => t.name));
    for (const t of catalog.tables) t.rows = counts.find((c) => c.name === t.name)?.rows ?? 0;
    fs.closeSync(fs.openSync(dest, 'wx', 0o600));
    const started = Date.now();
    await db.backup(dest, { progress: ({ remainingPages }) => { progress('copy', 0, remainingPages); return 1 << 30; } });
    const copyMs = Date.now() - started;
    db.exec('COMMIT');
    const out = new Database(dest);
    try { out.pragma('journal_mode = DELETE'); } finally { out.close(); }
    return { library: library(), journalMode, catalog, counts, bytes: fs.statSync(dest).size, copyMs };
  } finally {
    db.close();
  }
}

/** Builds an empty database at `dest` from `sqlite_schema.sql` statements. Throws on the first statement SQLite rejects. */
function recreate(dest: string, ddl: string[]): { ok: true; statements: number } {
  fs.closeSync(fs.openSync(dest, 'wx', 0o600));
  const db = new Database(dest);
  try {
    db.pragma('journal_mode = DELETE');
    db.transaction(() => { for (const s of ddl) db.exec(s); })();
  } finally {
    db.close();
  }
  return { ok: true, statements: ddl.length };
}

/** Catalog with row counts (one read transaction) and rows with a NULL primary key. */
function inspect(file: string): SqliteInspectResult {
  const db = openReadOnly(file, 0);
  try {
    const journalMode = String(db.pragma('journal_mode', { simple: true }));
    db.exec('BEGIN');
    const catalog = readCatalog(db);
    const counts = countRows(db, catalog.tables.map((t) => t.name));
    const nullPrimaryKeys: NullKeyCount[] = [];
    for (const t of catalog.tables) {
      t.rows = counts.find((c) => c.name === t.name)?.rows ?? 0;
      if (!t.primaryKey.length) continue;
      const where = t.primaryKey.map((c) => `${ident(c)} IS NULL`).join(' OR ');
      const n = Number((db.prepare(`SELECT count(*) AS n FROM ${ident(t.name)} WHERE ${where}`).get() as { n: number }).n);
      if (n > 0) nullPrimaryKeys.push({ schema: 'main', table: t.name, rows: n });
    }
    return { library: library(), journalMode, catalog, nullPrimaryKeys };
  } finally {
    db.close();
  }
}

async function handle(req: SqliteRequest): Promise<unknown> {
  switch (req.action) {
    case 'check': return check(req.file, req.quick, req.waitMs, req.readWrite, req.pragmas ?? true, req.read ?? true);
    case 'validate': return check(req.file, false, 0);
    case 'snapshot': return snapshot(req.file, req.dest, req.waitMs);
    case 'salvage': return salvageSqlite(req.file, req.dest, (d, t) => progress('salvage', d, t));
    case 'recreate': return recreate(req.dest, req.ddl);
    case 'execute': {
      const db = new Database(req.file);
      try { db.exec(req.sql); return { ok: true }; } finally { db.close(); }
    }
    case 'version': return { library: library() };
    case 'inspect': return inspect(req.file);
    case 'rollback': {
      // a private copy of a database and its hot journal: the first read-write read rolls it back
      const db = new Database(req.file, { fileMustExist: true });
      try { db.prepare('SELECT count(*) FROM sqlite_schema').get(); return { ok: true }; } finally { db.close(); }
    }
  }
}

// If the caller dies the IPC channel closes: stop at once so no lock outlives the run that took it.
process.on('disconnect', () => process.exit(1));
// The parent decides on Ctrl-C/SIGTERM (finish, or abort and kill this worker).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {});

process.once('message', (req: SqliteRequest) => {
  handle(req)
    .then((result) => send({ type: 'result', result }))
    .catch((err) => send({ type: 'failure', failure: classifySqliteError(err) }))
    .finally(() => process.exit(0));
});
