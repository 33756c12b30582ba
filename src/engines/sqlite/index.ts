/**
 * The SQLite engine (better-sqlite3 in child processes). Registered with one
 * line in engines/registry.ts. Facts it rests on: README "Engines", and
 * scripts/bench-sqlite-copy.js for the choice of the copy method.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Finding } from '../../core/types';
import { anyLockHolder, programOf, writeLockHolder } from '../proc-locks';
import { EngineFailed, type Engine, type EngineFailure, type FullRead, type Inspection, type RunOptions, type SalvageReport } from '../engine';
import { snapshotSqlite, validateSqlite } from './backup';
import { copyPair } from './check';
import { runSqliteWorker } from './client';
import { backupExtension, isSqliteHeader, journalState, readSqliteHeader, readWalHeader, type SqliteHeader } from './format';
import { foreignKeyFinding, hotJournalFinding, integrityFinding, sqliteHeaderFindings, unopenableFinding, walMismatchFinding } from './findings';
import type { SqliteCheckResult, SqliteInspectResult, SqliteSalvageResult } from './protocol';
import { demoSqliteSql } from './demo-data';

const SIDE = ['-wal', '-shm', '-journal'];

const toInspection = (r: SqliteInspectResult | SqliteCheckResult): Inspection => ({ library: `SQLite ${r.library}`, catalog: r.catalog, nullPrimaryKeys: 'nullPrimaryKeys' in r ? r.nullPrimaryKeys : [] });

/**
 * Runs a read-only request on `file`; when SQLite refuses because a hot
 * journal needs rolling back (SQLITE_READONLY_ROLLBACK), runs it on a private
 * copy of the pair instead, rolled back there. The source and its journal are
 * never written, moved or deleted.
 */
async function onFileOrRolledBackCopy<T>(file: string, run: (f: string) => Promise<T>): Promise<T> {
  try {
    return await run(file);
  } catch (err) {
    // SQLite's SQLITE_BUSY does not say who: a rollback-journal writer's PENDING/EXCLUSIVE lock is a write lock /proc/locks lists
    if (err instanceof EngineFailed && err.failure.kind === 'lock' && err.failure.pid === undefined) {
      const pid = writeLockHolder(file);
      if (pid !== undefined) Object.assign(err.failure, { pid, exe: programOf(pid) });
    }
    if (!(err instanceof EngineFailed && err.failure.kind === 'wal' && journalState(file) === 'hot')) throw err;
    const pair = copyPair(file);
    try {
      await runSqliteWorker({ action: 'rollback', file: pair.copy });
      return await run(pair.copy);
    } finally {
      pair.cleanup();
    }
  }
}

/** Scan = catalog, counts, NULL keys and a full read; integrity_check runs as the "scrub", beside it. */
async function scanFile(file: string, opts: RunOptions): Promise<Inspection & FullRead & { check: SqliteCheckResult }> {
  const r = await onFileOrRolledBackCopy(file, (f) => runSqliteWorker<SqliteCheckResult>({ action: 'check', file: f, quick: false, waitMs: 0, pragmas: false }, opts));
  const inspected = await onFileOrRolledBackCopy(file, (f) => runSqliteWorker<SqliteInspectResult>({ action: 'inspect', file: f }, opts)).catch(() => undefined);
  return { ...toInspection(r), nullPrimaryKeys: inspected?.nullPrimaryKeys ?? [], tables: r.tables, durationMs: r.durationMs, check: r };
}

/** `PRAGMA integrity_check` (or `quick_check`) and `foreign_key_check` as findings, read-only in a worker; no full read. */
async function pragmaFindings(file: string, target: string, quick: boolean, opts: RunOptions): Promise<Finding[]> {
  const r = await onFileOrRolledBackCopy(file, (f) => runSqliteWorker<SqliteCheckResult>({ action: 'check', file: f, quick, waitMs: 0, read: false }, opts));
  const out: Finding[] = [];
  if (r.integrity.join() !== 'ok') out.push(integrityFinding(file, target, r.integrity, quick));
  if (r.foreignKeys.length) out.push(foreignKeyFinding(file, target, r.foreignKeys));
  return out;
}

export const sqliteEngine: Engine = {
  name: 'sqlite',
  label: 'SQLite',
  extensions: ['.db', '.sqlite', '.sqlite3'],

  detect: (head) => isSqliteHeader(head),

  demoSql: () => demoSqliteSql(),

  backupExtension,

  isSideFile: (base, name) => SIDE.some((s) => name === `${base}${s}`),

  // a hot journal is needed to roll the database back, and a -wal replays into whatever file sits beside it
  inseparable: (base, name) => name === `${base}-journal` || name === `${base}-wal`,

  readHeader(file, target) {
    const h = readSqliteHeader(file);
    const { findings, stop } = sqliteHeaderFindings(file, h, target);
    return { findings, stop, fileSize: h.fileSize, state: h };
  },

  sideFileFindings(file, target) {
    const out: Finding[] = [];
    try {
      const h = readSqliteHeader(file);
      const wal = readWalHeader(file);
      if (wal.kind === 'bad') out.push(walMismatchFinding(file, target, `${wal.bytes} bytes without a WAL header`));
      else if (wal.kind === 'wal' && h.pageSize && wal.pageSize !== h.pageSize) out.push(walMismatchFinding(file, target, `its page size is ${wal.pageSize}, the database's ${h.pageSize}`));
      if (journalState(file) === 'hot') out.push(hotJournalFinding(file, target));
    } catch { /* unreadable side files: the open reports it */ }
    return out;
  },

  failureFinding(file, target, f: EngineFailure): Finding {
    if (f.kind === 'crash') return { severity: 'error', code: 'engine-crash', message: `${file}: ${f.message}`, hint: `dbguard repair ${target}` };
    return unopenableFinding(file, target, f.message);
  },

  inspect: (file, opts = {}) => onFileOrRolledBackCopy(file, (f) => runSqliteWorker<SqliteInspectResult>({ action: 'inspect', file: f }, opts)).then(toInspection),

  async scan(file, opts = {}) {
    const { check, ...rest } = await scanFile(file, opts);
    void check;
    return rest;
  },

  // SQLite pages have no checksums; PRAGMA integrity_check (b-trees, indexes against tables) and
  // foreign_key_check are its structural equivalent. The scan reads every row beside it.
  scrub: (file, target, _header, opts = {}) => pragmaFindings(file, target, false, opts),

  // check --quick and guard: quick_check skips only the index-against-table comparison, so a
  // damaged b-tree page is still found without a full read
  quickScrub: (file, target, _header, opts = {}) => pragmaFindings(file, target, true, opts),

  // SQLite readers share the file with its writer (WAL mode) or wait for its lock: a file held by an
  // application never needs dbguard's fenced live check, so no holder is reported to ops
  holder: () => undefined,

  /**
   * Told from /proc/locks alone: every open WAL-mode connection keeps a read lock on `-shm`, a
   * rollback-journal writer a write lock on the database. Opening it read-write to find out would
   * checkpoint and delete its `-wal` at close: the source must not change.
   */
  async probeBusy(file) {
    const pid = anyLockHolder(`${file}-shm`) ?? anyLockHolder(file);
    if (pid === undefined) return undefined;
    const exe = programOf(pid);
    return { pid, exe, message: `${file} is open in PID ${pid}${exe ? ` (${exe})` : ''}` };
  },

  async copy(source, dest, opts) {
    // a hot journal: the committed state is the rolled-back one, taken from a private copy of the pair
    const snap = await onFileOrRolledBackCopy(source, (f) => snapshotSqlite(f, dest, opts.target, { waitMs: opts.waitMs, signal: opts.signal, onProgress: opts.onProgress }));
    return {
      ...toInspection({ ...snap, nullPrimaryKeys: [] } as SqliteInspectResult),
      ddl: snap.catalog.ddl, sideFilesCopied: false, bytes: snap.bytes, copyMs: snap.copyMs,
      // always under SQLite's own shared read lock (WAL mode: a read mark beside the running writer),
      // never a fenced copy of a file someone else holds: 'locked' in the engine's sense
      consistency: 'locked', attempts: 1, retries: [],
    };
  },

  async validate(copy, made, opts = {}) {
    opts.onFinal?.();
    const expected = made ? made.catalog.tables.map((t) => ({ name: t.name, rows: t.rows })) : [];
    const v = await validateSqlite(copy, expected, opts);
    // a copy SQLite calls damaged is not a backup: the caller records it invalid
    if (!v.ok && v.tables.length === 0) throw new EngineFailed({ kind: 'corrupt', message: v.problems.join('; ') });
    const integrity = v.problems.filter((p) => p.startsWith('integrity_check') || p.startsWith('journal mode'));
    if (integrity.length) throw new EngineFailed({ kind: 'corrupt', message: `${copy}: ${integrity.join('; ')}` });
    const inspected = await this.inspect(copy, opts);
    return { ...inspected, tables: v.tables.map((t) => ({ schema: 'main', ...t })), durationMs: v.durationMs };
  },

  stamp: (_copy, validated) => ({ name: 'sqlite', library: validated.library, storageVersion: null }),

  async salvage(damaged, dest, opts = {}) {
    fs.rmSync(dest, { force: true });
    let helper: string | undefined;
    let source = damaged;
    if (journalState(damaged) === 'hot') {
      // roll back a copy of the pair in the quarantine folder; the quarantined pair stays as it was
      helper = path.join(path.dirname(damaged), `${path.basename(damaged)}.rolled-back`);
      fs.copyFileSync(`${damaged}-journal`, `${helper}-journal`);
      fs.copyFileSync(damaged, helper);
      await runSqliteWorker({ action: 'rollback', file: helper }).catch(() => undefined);
      source = helper;
    }
    try {
      const r = await runSqliteWorker<SqliteSalvageResult>({ action: 'salvage', file: source, dest }, opts);
      return toReport(r);
    } catch (err) {
      fs.rmSync(dest, { force: true });
      throw err;
    } finally {
      if (helper) for (const f of [helper, `${helper}-journal`]) fs.rmSync(f, { force: true });
    }
  },

  async ddl(file) {
    const r = await onFileOrRolledBackCopy(file, (f) => runSqliteWorker<SqliteInspectResult>({ action: 'inspect', file: f }));
    return r.catalog.ddl;
  },

  async recreate(dest, sql, opts = {}) {
    const created = !fs.existsSync(dest);
    if (created) fs.closeSync(fs.openSync(dest, 'wx', 0o600));
    try {
      await runSqliteWorker({ action: 'execute', file: dest, sql }, opts);
    } catch (err) {
      if (created) for (const f of [dest, `${dest}-journal`, `${dest}-wal`, `${dest}-shm`]) fs.rmSync(f, { force: true });
      throw err;
    }
  },

  async doctor() {
    try {
      const { library } = await runSqliteWorker<{ library: string }>({ action: 'version' });
      return [{ name: 'sqlite', ok: true, detail: `better-sqlite3 loads, SQLite ${library}` }];
    } catch (err) {
      return [{ name: 'sqlite', ok: false, detail: `better-sqlite3 does not load: ${err instanceof Error ? err.message : String(err)}`, hint: 'run `npm ci` again on this machine; without a prebuilt binary it builds from source and needs python3, make and g++ (apt-get install python3 make g++)' }];
    }
  },

  chunking(file) {
    try {
      const h: SqliteHeader = readSqliteHeader(file);
      if (h.pageSize) return { headerBytes: 0, chunkBytes: Math.max(h.pageSize, 64 * 1024) };
    } catch { /* fall back */ }
    return { headerBytes: 0, chunkBytes: 256 * 1024 };
  },
};

/** The engine-neutral salvage report: lost rowid ranges per table, lost tables, objects not recreated. Pure. */
function toReport(r: SqliteSalvageResult): SalvageReport {
  const tables = r.tables.map((t) => ({
    schema: 'main', name: t.name, sourceRows: null, copiedRows: t.copied,
    lost: [
      ...t.lostRowids.map(([a, b]) => {
        const open = a <= -Number.MAX_SAFE_INTEGER + 1 || b >= Number.MAX_SAFE_INTEGER;
        // an open-ended range (damage up to the first or last row) has no known size
        return { fromRowid: a, toRowid: b, rows: open ? 0 : b - a + 1, columns: [], rowsLost: true, reason: `unreadable b-tree page(s): rowids ${a}–${b}${open ? ' (to the end of the table)' : ''} could not be read` };
      }),
      ...(t.error ? [{ fromRowid: 0, toRowid: 0, rows: 0, columns: [], rowsLost: true, reason: t.error }] : []),
    ],
  }));
  for (const l of r.lostTables) tables.push({ schema: 'main', name: l.name, sourceRows: null, copiedRows: 0, lost: [{ fromRowid: 0, toRowid: 0, rows: 0, columns: [], rowsLost: true, reason: `table lost: ${l.reason}` }] });
  const failedObjects = [...r.lostTables.map((l) => `table ${l.name}: ${l.reason}`), ...r.skippedObjects.map((o) => `${o.name}: ${o.reason}`)];
  return { tables, failedObjects, lossless: failedObjects.length === 0 && tables.every((t) => t.lost.length === 0) };
}

