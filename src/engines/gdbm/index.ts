import * as fs from 'node:fs';
import * as path from 'node:path';
import { CouldNotCheckError } from '../../core/errors';
import { retryWhileBusy } from '../../core/retry';
import type { Catalog, Finding } from '../../core/types';
import { EngineFailed, type Engine, type EngineFailure, type FailureKind, type FullRead, type Inspection } from '../engine';
import { GDBM_TABLE, gdbmFailureFinding, gdbmHeaderFindings } from './check';
import type { GdbmFailure, GdbmFailureKind } from './failure';
import { isGdbmHeader, readGdbmKind } from './magic';
import { countKeys, readAllRecords } from './read';
import { createEmptyGdbm, recoverCopy } from './recover';
import { snapshotGdbm } from './snapshot';
import { programOf, writeLockHolder } from '../proc-locks';
import { gdbmtoolVersion, GDBMTOOL_INSTALL, GDBMTOOL_PACKAGE } from './tool';

const EXTENSIONS = ['.gdbm', '.db'] as const;

/** Backups keep the source's extension when it is a GDBM one (`flower.db` → `.db`), else `.gdbm`. Pure. */
export function gdbmBackupExtension(source: string): string {
  const ext = path.extname(source).toLowerCase();
  return (EXTENSIONS as readonly string[]).includes(ext) ? ext : '.gdbm';
}

const KIND: Record<GdbmFailureKind, FailureKind> = {
  'needs-recovery': 'needs-recovery', busy: 'lock', empty: 'foreign', missing: 'storage', storage: 'storage', 'byte-swapped': 'foreign', corrupt: 'corrupt',
};
const failed = (f: GdbmFailure): EngineFailed => new EngineFailed({ kind: KIND[f.kind], message: f.message, ...(f.kind === 'missing' ? { errno: 'ENOENT' } : {}) });
const gdbmKindOf = (f: EngineFailure): GdbmFailureKind => (f.kind === 'needs-recovery' ? 'needs-recovery' : f.kind === 'lock' ? 'busy' : 'corrupt');

/** gdbmtool missing is "could not run" for the engine interface: EngineFailed not-started, whose message says how to install it. */
async function tool<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CouldNotCheckError && e.code === 'gdbmtool-missing') throw Object.assign(new EngineFailed({ kind: 'not-started', message: e.message, hint: e.hint }), { cause: e });
    throw e;
  }
}

let library: string | undefined;
const libraryName = () => (library ??= gdbmtoolVersion()?.replace(/^gdbmtool \(gdbm\) /, 'gdbmtool ') ?? 'gdbmtool');

const catalogOf = (keys: number): Catalog => ({ tables: [{ ...GDBM_TABLE, rows: keys, primaryKey: [] }], sequences: [], views: [], indexes: [] });

async function inspect(file: string, signal?: AbortSignal): Promise<Inspection> {
  const c = await tool(() => countKeys(file, signal));
  if (c.failure) throw failed(c.failure);
  return { library: libraryName(), catalog: catalogOf(c.keys!), nullPrimaryKeys: [] };
}

/** inspect() and a read of every record; a read that stops early is the pseudo-table's `error`. */
async function scan(file: string, signal?: AbortSignal): Promise<Inspection & FullRead> {
  const t0 = Date.now();
  const ins = await inspect(file, signal);
  const keys = ins.catalog.tables[0]!.rows;
  const read = await tool(() => readAllRecords(file, signal));
  const error: EngineFailure | undefined = read.failure
    ? { kind: KIND[read.failure.kind], message: `only ${read.records} of ${keys} keys can be read: ${read.failure.message}` }
    : read.records !== keys ? { kind: 'corrupt', message: `gdbm counts ${keys} keys but a full read returned ${read.records}` } : undefined;
  return { ...ins, tables: [{ ...GDBM_TABLE, rows: error ? read.records : keys, ...(error ? { error } : {}) }], durationMs: Date.now() - t0 };
}

/**
 * GDBM files (gdbm 1.23, e.g. Flower's `shelve` state), through Debian's
 * `gdbmtool` run as a child process. One file, no side files: crash
 * tolerance's snapshot files exist only when an application enables
 * gdbm_failure_atomic and are not part of the database. No tables: the
 * catalog is one pseudo-table `main.keys` whose rows are the keys. No page
 * checksums, so no scrub: check opens read-only and reads every record.
 */
export const gdbmEngine: Engine = {
  name: 'gdbm',
  label: 'GDBM',
  extensions: EXTENSIONS,

  detect: isGdbmHeader,
  backupExtension: gdbmBackupExtension,
  isSideFile: () => false,
  inseparable: () => false,

  readHeader(file, target) {
    const kind = readGdbmKind(file);
    const { findings, stop } = gdbmHeaderFindings(file, kind, target);
    const fileSize = fs.statSync(file).size;
    if (!stop && kind.kind === 'gdbm' && kind.nextBlock !== undefined && kind.nextBlock > fileSize) {
      // gdbm itself tolerates next_block past the end (old versions left it so); a failing open then says why
      findings.push({ severity: 'warning', code: 'truncated', message: `${file} may be truncated: ${fileSize} bytes, but its header says gdbm has used ${kind.nextBlock}`, hint: `dbguard check ${target}; if it fails to read, dbguard repair ${target}` });
    }
    return { findings, stop, fileSize, state: kind };
  },

  sideFileFindings: () => [],

  failureFinding: (file, target, f): Finding => gdbmFailureFinding(file, { kind: gdbmKindOf(f), message: f.message }, target),

  inspect: (file, opts = {}) => inspect(file, opts.signal),
  scan: (file, opts = {}) => scan(file, opts.signal),

  // a gdbm writer holds an exclusive flock(2) lock for as long as the file is open
  holder(file) {
    const pid = writeLockHolder(file);
    return pid === undefined ? undefined : { pid, exe: programOf(pid) };
  },

  async probeBusy(file) {
    const c = await tool(() => countKeys(file));
    if (c.failure?.kind === 'busy') {
      const held = gdbmEngine.holder(file);
      return { ...held, message: `${file} is open for writing by ${held ? `PID ${held.pid}${held.exe ? ` (${held.exe})` : ''}` : 'another process'} (${c.failure.message})` };
    }
    if (c.failure && c.failure.kind !== 'needs-recovery' && c.failure.kind !== 'corrupt' && c.failure.kind !== 'empty') throw failed(c.failure);
    return undefined;
  },

  // GDBM has no live copy: a writer holds gdbm's exclusive lock for as long as it
  // has the file open, so the copy waits for it (--wait) and is otherwise busy (5)
  async copy(source, dest, opts) {
    const s = await tool(() => retryWhileBusy(() => snapshotGdbm(source, dest, opts.target, opts.signal), opts.waitMs, opts.signal));
    return {
      library: libraryName(), catalog: catalogOf(s.keys), nullPrimaryKeys: [], ddl: [],
      sideFilesCopied: false, bytes: s.bytes, copyMs: s.copyMs, consistency: 'locked', attempts: 1, retries: [], lockHeldMs: s.copyMs,
    };
  },

  async validate(copy, made, opts = {}) {
    opts.onFinal?.(); // a GDBM copy has nothing to fold in: its bytes are final
    const r = await scan(copy, opts.signal);
    const err = r.tables[0]!.error;
    if (err) throw new EngineFailed(err);
    const expected = made?.catalog.tables[0]?.rows;
    if (expected !== undefined && r.tables[0]!.rows !== expected) throw new EngineFailed({ kind: 'corrupt', message: `${copy} holds ${r.tables[0]!.rows} keys; the source had ${expected} when it was copied` });
    return r;
  },

  stamp: (_copy, validated) => ({ name: 'gdbm', library: validated.library, storageVersion: null }),

  async salvage(damaged, dest, opts = {}) {
    const before = await tool(() => countKeys(damaged, opts.signal));
    const r = await tool(() => recoverCopy(damaged, dest, opts.signal));
    if (!r.recovery) throw failed(r.failure!);
    const rec = r.recovery;
    if (rec.keys === 0 && !rec.complete) {
      // nothing came back: a restore or a loud recreate must decide, not an "empty salvage"
      fs.rmSync(dest, { force: true });
      throw new EngineFailed({ kind: 'corrupt', message: `gdbmtool recover brought back no key of ${damaged} (${rec.summary})` });
    }
    const lostRows = Math.max(rec.failedKeys, before.keys !== undefined ? before.keys - rec.keys : 0);
    return {
      tables: [{
        ...GDBM_TABLE, sourceRows: before.keys ?? null, copiedRows: rec.keys,
        lost: rec.complete ? [] : [{ fromRowid: 0, toRowid: 0, rows: lostRows, columns: [], rowsLost: true, reason: `gdbmtool recover: ${rec.summary}` }],
      }],
      failedObjects: [],
      lossless: rec.complete,
    };
  },

  ddl: async () => [],

  // GDBM has no schema: recreate makes an empty database (the SQL of other engines does not apply)
  async recreate(dest, _sql, opts = {}) {
    if (fs.existsSync(dest) && readGdbmKind(dest).kind === 'gdbm') return;
    await tool(() => createEmptyGdbm(dest, { signal: opts.signal }));
  },

  // Flower (and shelve users) start from an empty file: repair's last resort, reported loudly
  recreatesEmpty: true,

  async doctor() {
    const version = gdbmtoolVersion();
    return version
      ? [{ name: 'gdbm', ok: true, detail: `${version} (for GDBM targets)` }]
      : [{ name: 'gdbm', ok: false, detail: 'gdbmtool is not installed: GDBM targets cannot be checked, backed up or repaired', hint: `${GDBMTOOL_INSTALL} (Debian package ${GDBMTOOL_PACKAGE})` }];
  },
};
