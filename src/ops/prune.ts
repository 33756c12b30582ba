import * as fs from 'node:fs';
import type { Config } from '../config/load';
import { errorMessage, StorageError } from '../core/errors';
import { planRetention, type RetentionPolicy } from '../core/retention';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock } from '../core/types';
import { selectTargets } from '../config/targets';
import { acquireLock } from '../storage/lock';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import type { Store, StoreLock } from '../storage/store';
import { localStoreExists, openLocalStore, snapshotOf } from './store-access';
import { retentionProtection } from './health';

export interface PruneResult {
  target: string;
  dryRun: boolean;
  policy: RetentionPolicy;
  kept: { id: string; status: string; reason: string }[];
  removed: { id: string; reason: string }[];
  /** Backups the plan dropped but that could not be deleted (they are still there). */
  failed: RemovalFailure[];
}

/** A backup rotation or prune meant to delete and could not. */
export interface RemovalFailure {
  id: string;
  file: string;
  /** Node's error code (EPERM, EACCES, EIO…) or the message. */
  error: string;
}

/**
 * The StorageError (exit 6) for removals that failed: names every file and
 * says how to find out why. `what` is "rotation" or "prune".
 */
export function removalError(target: string, failed: RemovalFailure[], what: 'rotation' | 'prune'): StorageError {
  const files = failed.map((f) => `${f.file} (${f.error})`).join(', ');
  return new StorageError(
    `${target}: ${what} could not delete ${failed.length} old backup(s): ${files}; they are kept and take disk space`,
    `check those files' permissions and attributes (ls -l, lsattr; an immutable file needs chattr -i), then run dbguard prune ${target}`,
    'rotation-failed',
  );
}

/**
 * Plans retention for one target's backups and, unless `dryRun`, removes
 * the backups the plan drops: a plain file (data file, then manifest) and a
 * store snapshot (`store.removeSnapshot`, caller holds the store's shared
 * lock; the store is opened only when a dropped backup is in it). Only
 * files that match the backup naming pattern are considered; invalid and
 * incomplete backups are never removed, nor the newest valid backup that
 * still holds a table or sequence the database has lost (see
 * `retentionProtection`). A backup that cannot be deleted is returned in
 * `failed` (never swallowed) and the others are still removed; `removed`
 * lists only what is gone. Throws StorageError only when the folder cannot
 * be listed or the store not opened. Caller holds the target lock.
 */
export async function applyRetention(repo: BackupRepository, target: string, policy: RetentionPolicy, now: Date, dryRun = false, store?: () => Promise<Store>): Promise<{ removed: string[]; failed: RemovalFailure[]; plan: ReturnType<typeof planRetention>; entries: BackupEntry[] }> {
  const entries = repo.list(target);
  const plan = planRetention(entries, policy, now, retentionProtection(entries, repo.dir, target));
  if (dryRun) return { removed: plan.remove, failed: [], plan, entries };
  const removed: string[] = [];
  const failed: RemovalFailure[] = [];
  for (const id of plan.remove) {
    const entry = entries.find((e) => e.id === id)!;
    let where = entry.file;
    try {
      if (entry.location !== 'store') repo.remove(entry);
      const snap = snapshotOf(entry);
      if (snap) {
        where = `${snap.fileName} in the store`;
        if (!store) throw new StorageError(`${entry.id} is in the store, which this run did not open`, 'run dbguard prune');
        await (await store()).removeSnapshot(snap);
      }
      removed.push(id);
    } catch (err) {
      failed.push({ id, file: (err as NodeJS.ErrnoException).path ?? where, error: (err as NodeJS.ErrnoException).code ?? errorMessage(err) });
    }
  }
  return { removed, failed, plan, entries };
}

/**
 * `prune`: applies the retention policy (`--keep` and the GFS counts, over
 * config `keep` and `retention`) to each selected target under its run lock.
 * "Nothing to prune" is an empty `removed` list, not an error; backups that
 * could not be deleted are in `failed` (the CLI exits 6 for them, see
 * `removalError`).
 */
export async function prune(config: Config, selector: string | undefined, opts: { keep?: number; daily?: number; weekly?: number; monthly?: number; dryRun?: boolean; waitMs?: number; clock?: Clock; env?: NodeJS.ProcessEnv }): Promise<PruneResult[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const now = (opts.clock ?? systemClock).now();
  const policy: RetentionPolicy = {
    keep: opts.keep ?? config.keep,
    daily: opts.daily ?? config.retention?.daily,
    weekly: opts.weekly ?? config.retention?.weekly,
    monthly: opts.monthly ?? config.retention?.monthly,
  };
  const out: PruneResult[] = [];
  for (const target of names) {
    // No backup folder means nothing to prune (and no place for a lock file).
    const lock = opts.dryRun || !fs.existsSync(repo.dir) ? undefined : await retryWhileBusy(() => acquireLock(repo.dir, target, 'prune'), opts.waitMs ?? 0);
    try {
      const { plan, entries, removed, failed } = await withOptionalStore(repo.dir, opts.dryRun ? undefined : 'prune', opts.waitMs,
        (store) => applyRetention(repo, target, policy, now, opts.dryRun, store));
      out.push({
        target,
        dryRun: Boolean(opts.dryRun),
        policy,
        kept: plan.keep.map((id) => ({ id, status: entries.find((e) => e.id === id)!.status, reason: plan.reasons[id]! })),
        removed: removed.map((id) => ({ id, reason: plan.reasons[id]! })),
        failed,
      });
    } finally {
      lock?.release();
    }
  }
  return out;
}

/**
 * Runs `fn` with a lazy opener of the local store: the first call opens it
 * and takes its shared lock (waiting up to `waitMs`), released when `fn`
 * ends. Without `command` (a dry run) the store is opened without a lock.
 * Nothing is opened when `fn` never asks, or when there is no store.
 */
export async function withOptionalStore<T>(backupDir: string, command: string | undefined, waitMs: number | undefined, fn: (store: (() => Promise<Store>) | undefined) => Promise<T>): Promise<T> {
  if (!localStoreExists(backupDir)) return fn(undefined);
  let opened: Promise<{ store: Store; lock?: StoreLock }> | undefined;
  const open = () => (opened ??= (async () => {
    const store = await openLocalStore(backupDir);
    const lock = command ? await retryWhileBusy(() => store.lockShared(command), waitMs ?? 0) : undefined;
    return { store, lock };
  })());
  try {
    return await fn(async () => (await open()).store);
  } finally {
    if (opened) await (await opened.catch(() => undefined))?.lock?.release();
  }
}
