import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { DbguardError, inUseError, IntegrityError, InterruptedError, StorageError, storageErrorFrom, UsageError } from '../core/errors';
import { parseTime } from '../core/parse-time';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock, type Logger, silentLogger, type TableCount, type Finding } from '../core/types';
import type { Engine } from '../engines/engine';
import { engineOf, engineOfBackup } from './engine-of';
import { pausepoint } from '../storage/failpoint';
import { acquireLock } from '../storage/lock';
import { databaseFiles, keepAside, refuseSymlink } from '../storage/move-aside';
import { adoptReplacement, commitReplacement, discardReplacement, ownerOf, prepareReplacement, tempNameFor, type Prepared } from '../storage/place';
import { prepareFromBackup } from './backup-source';
import { plainUsable, snapshotOf } from './store-access';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { checkDatabase } from './check';
import type { ProgressFn } from './progress';
import { verifyBackup, type VerifyResult } from './verify';

export interface RestoreOptions {
  /** A backup id or "latest" (default). */
  from?: string;
  /** Newest valid backup created at or before this time. */
  at?: string;
  /** Restore to this file instead of the target's path (the target is left alone). */
  to?: string;
  dryRun?: boolean;
  /** Asked once the plan is known; false cancels (exit 2). */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  waitMs?: number;
  cwd?: string;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  log?: Logger;
  /** Restore from the remote (restore --remote): its backups and how to write one out (ops/remote-restore.ts). */
  remote?: BackupSource;
}

/** Where restore finds backups other than the local backup folder (the remote). */
export interface BackupSource {
  /** Its backups of `target`, newest first. */
  entries(target: string): Promise<BackupEntry[]>;
  /** Writes `entry`'s bytes into `dest` (every block and the whole sha256 checked); leaves no `dest` on failure. */
  materialise(entry: BackupEntry, dest: string, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<void>;
  /** Damage findings of `entry`'s blocks without downloading its file (a dry run). */
  check(entry: BackupEntry, signal?: AbortSignal): Promise<Finding[]>;
}

export interface RestorePlan {
  target: string;
  from: string;
  backupFile: string;
  createdAt: string;
  path: string;
  /** Where the bytes come from: the plain file, or the store (materialised beside the target). */
  source: 'plain' | 'store' | 'remote';
  /** Files that will move to pre-restore/ (the current database and its WALs). */
  replaces: string[];
}

export interface RestoreResult extends RestorePlan {
  ok: boolean;
  dryRun: boolean;
  /** Folder holding the replaced files, or null when nothing was replaced. */
  safetyCopy: string | null;
  /** Milliseconds per step: verify (a plain file), prepare (copy or write from the store), read (a store copy's full read), place, check. */
  phases: Record<string, number>;
  tables: TableCount[];
  findings: Finding[];
}

/** Picks the candidate backups, newest first, per --from / --at. Throws when none qualifies. */
export function chooseBackups(entries: BackupEntry[], target: string, from: string | undefined, at: string | undefined, now: Date): BackupEntry[] {
  // A backup dated in the future is never "latest" (nor picked by --at): only by --from ID.
  const valid = entries.filter((e) => e.status === 'valid' && !e.future);
  if (from && from !== 'latest') {
    const e = entries.find((x) => x.id === from);
    if (!e) throw new UsageError(`no backup ${from} for ${target}`, `list them with dbguard list ${target}`, 'unknown-backup');
    if (e.status !== 'valid') throw new IntegrityError(`backup ${from} is ${e.status} and cannot be restored`, `choose a valid one from dbguard list ${target}`, 'backup-not-valid');
    return [e];
  }
  if (at) {
    const when = parseTime(at, now);
    if (!when) throw new UsageError(`--at "${at}" is not a time`, 'use e.g. --at "2024-01-15 02:00", --at 2024-01-15 or --at "3h ago"', 'bad-time');
    const picked = valid.filter((e) => e.createdAt.getTime() <= when.getTime());
    if (!picked.length) throw new IntegrityError(`${target} has no valid backup created at or before ${when.toISOString()}`, `list them with dbguard list ${target}`, 'no-backup');
    return picked;
  }
  const future = entries.filter((e) => e.status === 'valid' && e.future);
  if (!valid.length && future.length) {
    throw new IntegrityError(`${target} has no valid backup to restore except ${future.length} dated in the future (${future.map((e) => `${e.id} at ${e.createdAt.toISOString()}`).join(', ')}), which is never chosen as the latest`, `check the system clock; if that backup is the one you want, name it: dbguard restore ${target} --from ${future[0]!.id}`, 'no-backup');
  }
  if (!valid.length) throw new IntegrityError(`${target} has no valid backup to restore`, `list them with dbguard list ${target}; take one with dbguard backup ${target} once the database is healthy`, 'no-backup');
  return valid;
}

/**
 * True when a verification failed only because its DuckDB worker was killed
 * by SIGINT/SIGTERM/SIGHUP (a service manager signalling the whole group):
 * an interruption, which must never count against the backup.
 */
export function verificationInterrupted(v: VerifyResult): boolean {
  return !v.ok && v.findings.some((f) => /stopped with signal SIG(INT|TERM|HUP)\b/.test(f.message));
}

/** Throws BusyError when another process holds `file` open read-write (as `engine` probes it). Damage is not this function's concern. */
export async function assertNotInUse(file: string, what: string, engine: Engine): Promise<void> {
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) return;
  let busy;
  try {
    busy = await engine.probeBusy(file);
  } catch {
    return; // a damaged file is not in use; the restore replaces it
  }
  if (busy) throw inUseError(file, busy, `stop the application first, then run ${what} again`);
}

/**
 * Replaces `dest` with a copy of `backupFile`, all or nothing: the copy is
 * prepared (fsynced, with the current file's owner and mode) beside `dest`;
 * the current file and every side file of it (`engine.isSideFile`: a WAL, a
 * journal) are copied into a new folder under
 * `asideParent` (never deleted); only then are the side files removed and the copy
 * renamed over `dest`. Any failure leaves `dest` as it was (or says which
 * file is where) and no empty folder. Returns the folder (null when there
 * was nothing to keep).
 */
export async function replaceDatabase(backupFile: string | Prepared, dest: string, asideParent: string, target: string, now: Date, engine: Engine, signal?: AbortSignal): Promise<{ aside: string | null; moved: string[] }> {
  const prepared = typeof backupFile === 'string' ? await prepareReplacement(backupFile, dest, ownerOf(dest)) : backupFile;
  let existing: string[];
  let aside: string | null;
  try {
    if (signal?.aborted) throw new InterruptedError(`restore of ${dest} interrupted before it was replaced; nothing was changed`);
    existing = databaseFiles(dest, engine.isSideFile);
    aside = keepAside(existing, asideParent, target, now);
  } catch (err) {
    discardReplacement(prepared);
    throw err;
  }
  commitReplacement(prepared, existing, aside);
  return { aside, moved: aside ? existing.map((f) => path.join(aside!, path.basename(f))) : [] };
}

/**
 * The file `restore --to` names, resolved against `cwd`. Throws UsageError
 * (exit 2) for an empty value, an existing folder, a path in the backup
 * folder, or a symbolic link.
 */
export function restoreDestination(to: string, cwd: string, backupDir: string, ext = ''): string {
  const example = `/tmp/production-copy${ext}`;
  if (!to.trim()) throw new UsageError('--to needs a file path (it was empty)', `e.g. --to ${example}`, 'bad-option');
  const dest = path.resolve(cwd, to);
  const real = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
  const rel = path.relative(real(backupDir), path.join(real(path.dirname(dest)), path.basename(dest)));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
    throw new UsageError(`--to ${to} is inside the backup folder ${backupDir}; restore never writes there`, `name a file outside the backup folder, e.g. --to ${example}`, 'bad-option');
  }
  let st: fs.Stats | undefined;
  try { st = fs.statSync(dest); } catch { /* a new file */ }
  if (st?.isDirectory()) throw new UsageError(`--to ${to} is an existing folder; --to must name a database file`, `e.g. --to ${path.join(to, `restored${ext}`)}`, 'bad-option');
  refuseSymlink(dest, '--to');
  return dest;
}

/** Like prepareFromBackup, from another source (the remote): materialised at a temporary name beside `dest`, nothing at `dest` changed. */
async function prepareFromSource(source: BackupSource, entry: BackupEntry, dest: string, owner: ReturnType<typeof ownerOf>, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<Prepared> {
  const tmp = tempNameFor(dest);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.rmSync(tmp, { force: true });
  await source.materialise(entry, tmp, opts);
  return adoptReplacement(tmp, dest, owner);
}

/**
 * `restore`: chooses a valid backup (--from, --at, or latest), verifies it
 * (sha256, open, full read; a failing one stops the restore and names the
 * next older valid backup), refuses when the destination is in use (exit 5),
 * keeps copies of the current file and its WALs in pre-restore/ before
 * anything at the destination changes, places the copy by atomic rename and
 * checks it (see replaceDatabase). Never deletes anything. Holds the target
 * lock throughout. Throws UsageError for a bad --to or a symbolic link,
 * InterruptedError (130) on abort, StorageError (6) naming where files are.
 */
export async function restore(config: Config, target: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const repo = new BackupRepository(config.backupDir);
  const dest = opts.to !== undefined ? restoreDestination(opts.to, opts.cwd ?? process.cwd(), config.backupDir, path.extname(config.targets[target]!.path)) : config.targets[target]!.path;
  // another target's file is replaced only under that target's own lock
  const owner = Object.entries(config.targets).find(([name, t]) => name !== target && path.resolve(t.path) === dest)?.[0];
  if (owner) throw new UsageError(`--to ${opts.to} is the database of target ${owner}`, `restore that target with dbguard restore ${owner}, or name another file`, 'bad-option');
  if (opts.to === undefined) refuseSymlink(dest, `targets.${target}.path`);
  const candidates = chooseBackups(opts.remote ? await opts.remote.entries(target) : repo.list(target), target, opts.from, opts.at, clock.now());
  repo.ensureDir();
  const interrupted = () => new InterruptedError(`restore of ${target} interrupted; nothing was changed at ${dest}`);
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'restore'), opts.waitMs ?? 0, opts.signal);
  try {
    const chosen = candidates[0]!;
    const phases: Record<string, number> = {};
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => { const t0 = Date.now(); try { return await fn(); } finally { phases[name] = (phases[name] ?? 0) + Date.now() - t0; } };
    await pausepoint('restore-verify', opts.signal);
    const failed = (v: VerifyResult) => {
      const reason = v.findings.map((f) => f.message).join('; ');
      log.warn({ target, id: chosen.id, reason }, 'backup failed verification');
      const older = candidates.find((e) => e.createdAt < chosen.createdAt) ?? repo.list(target).find((e) => e.status === 'valid' && e.createdAt < chosen.createdAt);
      return new IntegrityError(
        `backup ${chosen.id} failed verification, nothing was changed: ${reason}`,
        older ? `restore the next older valid backup: dbguard restore ${target} --from ${older.id}` : `no older valid backup exists; dbguard repair ${target} --strategy salvage may recover data from the damaged file`,
        'backup-damaged',
      );
    };
    // A plain file is verified where it lies (sha256, full read). A store backup is verified
    // by writing it beside the target, every block and the whole sha256 checked (a dry run
    // checks its blocks in the store): the bytes checked are the bytes placed.
    let fromPlain = !opts.remote && plainUsable(chosen);
    const verify = async (parts: 'plain' | 'store') => {
      const v = await verifyBackup(chosen, { signal: opts.signal, onProgress: opts.onProgress, parts, waitMs: opts.waitMs });
      // a Ctrl-C kills the verifying worker: that is an interruption, never a damaged backup
      if (opts.signal?.aborted || verificationInterrupted(v)) throw interrupted();
      return v;
    };
    if (opts.remote && opts.dryRun) {
      const findings = await opts.remote.check(chosen, opts.signal);
      if (findings.length) throw failed({ target, id: chosen.id, file: chosen.file, ok: false, findings, durationMs: 0 });
    } else if (fromPlain || opts.dryRun) {
      const v = await timed('verify', () => verify(fromPlain ? 'plain' : 'store'));
      if (!v.ok && fromPlain && snapshotOf(chosen)) {
        // the same backup is also in the store: a damaged plain file is not a damaged backup
        log.warn({ target, id: chosen.id, reason: v.findings.map((f) => f.message).join('; ') }, 'the plain file failed verification; restoring from the store copy');
        fromPlain = false;
        if (opts.dryRun) { const s = await verify('store'); if (!s.ok) throw failed({ ...s, findings: [...v.findings, ...s.findings] }); }
      } else if (!v.ok) throw failed(v);
    }
    // the restored file is what the backup is; side files at dest are named by the same engine
    const engine = engineOfBackup(chosen) ?? engineOf(config, target, dest).engine;
    const plan: RestorePlan = { target, from: chosen.id, backupFile: chosen.file, source: opts.remote ? 'remote' : fromPlain ? 'plain' : 'store', createdAt: chosen.createdAt.toISOString(), path: dest, replaces: databaseFiles(dest, engine.isSideFile) };
    const base = { ...plan, dryRun: Boolean(opts.dryRun), tables: [] as TableCount[], findings: [] as Finding[], phases };
    await assertNotInUse(dest, `dbguard restore ${target}`, engine);
    if (opts.dryRun) return { ...base, ok: true, safetyCopy: null };
    if (opts.confirm && !(await opts.confirm(plan))) throw new UsageError('restore cancelled; nothing was changed', 'run again and confirm, or pass --yes', 'cancelled');

    if (opts.signal?.aborted) throw interrupted();
    const onBytes = (d: number, t: number) => opts.onProgress?.({ target, phase: 'materialise', done: d, total: t });
    const prepared = await timed('prepare', () => (opts.remote
      ? prepareFromSource(opts.remote, chosen, dest, ownerOf(dest), { signal: opts.signal, onProgress: onBytes })
      : prepareFromBackup(repo.dir, chosen, dest, ownerOf(dest), { fromStore: !fromPlain, signal: opts.signal, waitMs: opts.waitMs, onProgress: onBytes })))
      .catch((err) => {
        // a damaged or missing block fails this backup like a failed verification: name the next older one
        if (err instanceof IntegrityError && !opts.signal?.aborted) throw failed({ target, id: chosen.id, file: chosen.file, ok: false, durationMs: 0, findings: [{ severity: 'error', code: err.code, message: err.message, hint: err.hint }] });
        throw err;
      });
    // A copy from the store needs no second read: every block matched its hash and the whole
    // file its manifest's sha256, so these are the very bytes validated when the backup was made.
    const { aside } = await timed('place', () => replaceDatabase(prepared, dest, path.join(repo.dir, 'pre-restore'), target, clock.now(), engine, opts.signal));
    const after = await timed('check', () => checkDatabase(target, dest, { quick: true, engine }));
    log.info({ target, from: chosen.id, path: dest, safetyCopy: aside, ok: after.ok }, 'restore finished');
    return { ...base, ok: after.ok, safetyCopy: aside, tables: after.tables.map(({ schema, name, rows }) => ({ schema, name, rows })), findings: after.findings };
  } catch (err) {
    // a storage failure keeps its own message: it says where every file is
    if (opts.signal?.aborted && !(err instanceof InterruptedError) && !(err instanceof StorageError)) throw interrupted().because(err);
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, dest, 'restoring') ?? err;
  } finally {
    lock.release();
  }
}
