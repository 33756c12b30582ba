import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { DbguardError, inUseError, IntegrityError, storageErrorFrom, UsageError } from '../core/errors';
import { parseTime } from '../core/parse-time';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock, type Logger, silentLogger, type TableCount, type Finding } from '../core/types';
import { runWorker, WorkerFailed } from '../engines/duckdb/client';
import { fsyncDir } from '../storage/atomic';
import { acquireLock } from '../storage/lock';
import { databaseFiles, moveAside, newAsideFolder } from '../storage/move-aside';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { checkDatabase } from './check';
import type { ProgressFn } from './progress';
import { verifyBackup } from './verify';

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
}

export interface RestorePlan {
  target: string;
  from: string;
  backupFile: string;
  createdAt: string;
  path: string;
  /** Files that will move to pre-restore/ (the current database and its WALs). */
  replaces: string[];
}

export interface RestoreResult extends RestorePlan {
  ok: boolean;
  dryRun: boolean;
  /** Folder holding the replaced files, or null when nothing was replaced. */
  safetyCopy: string | null;
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

/** Throws BusyError when another process holds `file` open read-write. Damage is not this function's concern. */
export async function assertNotInUse(file: string, what: string): Promise<void> {
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) return;
  try {
    await runWorker({ action: 'probe', file });
  } catch (err) {
    if (err instanceof WorkerFailed && err.failure.kind === 'lock') {
      throw inUseError(file, err.failure, `stop the application first, then run ${what} again`);
    }
  }
}

/**
 * Replaces `dest` with a copy of `backupFile`: copy to a temporary file beside
 * `dest` and fsync, move the current file and every `<dest>.wal*` into a new
 * folder under `asideParent` (never deleted), then rename the copy into place.
 * If the final rename fails the moved files are put back. Returns the folder
 * (null when there was nothing to move).
 */
export async function replaceDatabase(backupFile: string, dest: string, asideParent: string, target: string, now: Date): Promise<{ aside: string | null; moved: string[] }> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.dbguard-tmp`);
  const old = fs.existsSync(dest) ? fs.statSync(dest) : undefined;
  try {
    await fs.promises.copyFile(backupFile, tmp, fs.constants.COPYFILE_FICLONE);
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
      fs.fchmodSync(fd, old ? old.mode & 0o777 : 0o600);
      // Running as root, keep the owner the application expects.
      if (old && process.getuid?.() === 0) fs.fchownSync(fd, old.uid, old.gid);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw storageErrorFrom(err, dest, 'writing the restored copy of') ?? err;
  }
  const existing = databaseFiles(dest);
  let aside: string | null = null;
  let moved: string[] = [];
  try {
    if (existing.length) {
      aside = newAsideFolder(asideParent, target, now);
      moved = moveAside(existing, aside);
    }
    fs.renameSync(tmp, dest);
    fsyncDir(path.dirname(dest));
  } catch (err) {
    for (const m of moved) { try { fs.renameSync(m, path.join(path.dirname(dest), path.basename(m))); } catch { /* stays aside, never lost */ } }
    fs.rmSync(tmp, { force: true });
    throw storageErrorFrom(err, dest, 'replacing') ?? err;
  }
  return { aside, moved };
}

/**
 * `restore`: chooses a valid backup (--from, --at, or latest), verifies it
 * (sha256, open, full read; a failing one stops the restore and names the
 * next older valid backup), refuses when the destination is in use (exit 5), moves the current
 * file and its WALs to pre-restore/, places the copy by atomic rename and
 * checks it. Never deletes anything. Holds the target lock throughout.
 */
export async function restore(config: Config, target: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const repo = new BackupRepository(config.backupDir);
  const dest = opts.to ? path.resolve(opts.cwd ?? process.cwd(), opts.to) : config.targets[target]!.path;
  const candidates = chooseBackups(repo.list(target), target, opts.from, opts.at, clock.now());
  repo.ensureDir();
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'restore'), opts.waitMs ?? 0, opts.signal);
  try {
    const chosen = candidates[0]!;
    const v = await verifyBackup(chosen, { signal: opts.signal, onProgress: opts.onProgress });
    if (!v.ok) {
      const reason = v.findings.map((f) => f.message).join('; ');
      log.warn({ target, id: chosen.id, reason }, 'backup failed verification');
      const older = candidates.find((e) => e.createdAt < chosen.createdAt) ?? repo.list(target).find((e) => e.status === 'valid' && e.createdAt < chosen.createdAt);
      throw new IntegrityError(
        `backup ${chosen.id} failed verification, nothing was changed: ${reason}`,
        older ? `restore the next older valid backup: dbguard restore ${target} --from ${older.id}` : `no older valid backup exists; dbguard repair ${target} --strategy salvage may recover data from the damaged file`,
        'backup-damaged',
      );
    }
    const plan: RestorePlan = { target, from: chosen.id, backupFile: chosen.file, createdAt: chosen.createdAt.toISOString(), path: dest, replaces: databaseFiles(dest) };
    const base = { ...plan, dryRun: Boolean(opts.dryRun), tables: [] as TableCount[], findings: [] as Finding[] };
    await assertNotInUse(dest, `dbguard restore ${target}`);
    if (opts.dryRun) return { ...base, ok: true, safetyCopy: null };
    if (opts.confirm && !(await opts.confirm(plan))) throw new UsageError('restore cancelled; nothing was changed', 'run again and confirm, or pass --yes', 'cancelled');

    const { aside } = await replaceDatabase(chosen.file, dest, path.join(repo.dir, 'pre-restore'), target, clock.now());
    const after = await checkDatabase(target, dest, { quick: true });
    log.info({ target, from: chosen.id, path: dest, safetyCopy: aside, ok: after.ok }, 'restore finished');
    return { ...base, ok: after.ok, safetyCopy: aside, tables: after.tables.map(({ schema, name, rows }) => ({ schema, name, rows })), findings: after.findings };
  } catch (err) {
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, dest, 'restoring') ?? err;
  } finally {
    lock.release();
  }
}
