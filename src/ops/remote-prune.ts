/**
 * `prune --remote`: the remote's own retention (remote.keep, remote.retention,
 * falling back to keep / retention), then a collect of what no remote backup
 * needs, run BESIDE pushes rather than under the exclusive lock: backups
 * are removed by retention whatever runs, but objects are deleted only while
 * no other run holds a remote lock (checked before each deletion; a running
 * push defers them to the next prune), never one written after the oldest
 * live lock or its own start, and each push re-checks its blocks just
 * before publishing (ops/push.ts). Times are the provider's (LastModified).
 */
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { errorMessage } from '../core/errors';
import { planRetention, type RetentionPolicy } from '../core/retention';
import { retryWhileBusy } from '../core/retry';
import { listRemoteLocks } from '../remote/remote-lock';
import type { CollectResult } from '../storage/store';
import type { PruneResult, RemovalFailure } from './prune';
import { remoteEntries, type RemoteSession } from './remote-store';
import { snapshotOf } from './store-access';

/** Slack for providers that round LastModified to the second (most truncate it, which `>=` already covers). */
const CLOCK_SLACK_MS = 1000;

/** The retention policy of the remote: remote.keep / remote.retention, else keep / retention, under the command-line counts. */
export function remotePolicy(config: Config, over: { keep?: number; daily?: number; weekly?: number; monthly?: number }): RetentionPolicy {
  const r = config.remote?.retention ?? config.retention;
  return { keep: over.keep ?? config.remote?.keep ?? config.keep, daily: over.daily ?? r?.daily, weekly: over.weekly ?? r?.weekly, monthly: over.monthly ?? r?.monthly };
}

/**
 * Applies the remote policy per selected target (removing a backup =
 * manifest, then block list), then collects unreferenced objects (none
 * younger than the oldest live push). Dry run: plans only. A backup that
 * could not be removed is in `failed`, never swallowed. Throws StorageError
 * when the remote cannot be listed or changed, BusyError while an
 * exclusive holder is alive.
 */
export async function pruneRemote(session: RemoteSession, config: Config, selector: string | undefined, opts: { keep?: number; daily?: number; weekly?: number; monthly?: number; dryRun?: boolean; waitMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<{ results: PruneResult[]; collect: CollectResult | null }> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const policy = remotePolicy(config, opts);
  const now = new Date();
  const { store } = session;
  const lock = opts.dryRun ? undefined : await retryWhileBusy(() => store.lockShared('prune --remote'), opts.waitMs ?? 0, opts.signal);
  try {
    const results: PruneResult[] = [];
    for (const target of names) {
      const entries = await remoteEntries(store, config.backupDir, target, now);
      const plan = planRetention(entries, policy, now);
      const removed: string[] = [];
      const failed: RemovalFailure[] = [];
      for (const id of opts.dryRun ? [] : plan.remove) {
        const snap = snapshotOf(entries.find((e) => e.id === id)!)!;
        try {
          await store.removeSnapshot(snap);
          removed.push(id);
        } catch (err) {
          failed.push({ id, file: `${session.where}/snapshots/${target}/${snap.fileName}.json`, error: errorMessage(err) });
        }
      }
      results.push({
        target, dryRun: Boolean(opts.dryRun), policy,
        kept: plan.keep.map((id) => ({ id, status: entries.find((e) => e.id === id)!.status, reason: plan.reasons[id]! })),
        removed: (opts.dryRun ? plan.remove : removed).map((id) => ({ id, reason: plan.reasons[id]! })),
        failed,
      });
    }
    // the cutoff, in the provider's clock: our own lock's time, or an older live push's
    let cutoff: Date | undefined;
    const locks = await store.backend.list('locks/', opts.signal);
    const own = lock && locks.find((o) => lock.where.endsWith(`/${o.key}`));
    const serverNow = own?.modifiedAt ?? now;
    for (const l of await listRemoteLocks(store.backend, serverNow, undefined, opts.signal)) {
      if (!l.live) continue;
      const since = l.key === own?.key ? l.modifiedAt : l.since;
      if (!cutoff || since < cutoff) cutoff = since;
    }
    cutoff = new Date((cutoff ?? serverNow).getTime() - CLOCK_SLACK_MS);
    // While another run holds a remote lock, nothing is deleted: a push may rely on any
    // old, unreferenced pack it found in the index. Asked before every deletion, so a
    // push that starts during the collect stops it too; its own re-check before
    // publishing covers a deletion that was already under way when it read the index.
    const started = Date.now();
    const beforeDelete = async () => {
      const at = new Date(serverNow.getTime() + (Date.now() - started));
      const other = (await listRemoteLocks(store.backend, at, undefined, opts.signal)).find((l) => l.live && l.key !== own?.key);
      if (!other) return undefined;
      return `another dbguard run holds the remote (${other.info ? `${other.info.command}, PID ${other.info.pid} on ${other.info.host}` : other.key}), and it may reuse these blocks`;
    };
    const collect = await store.collect({ lock: false, keepNewerThan: cutoff, dryRun: opts.dryRun, signal: opts.signal, beforeDelete });
    return { results, collect };
  } finally {
    await lock?.release().catch(() => undefined);
  }
}
