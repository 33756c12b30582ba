import * as fs from 'node:fs';
import type { Config } from '../config/load';
import { planRetention, type RetentionPolicy } from '../core/retention';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock } from '../core/types';
import { selectTargets } from '../config/targets';
import { acquireLock } from '../storage/lock';
import { BackupRepository } from '../storage/repository';
import { retentionProtection } from './health';

export interface PruneResult {
  target: string;
  dryRun: boolean;
  policy: RetentionPolicy;
  kept: { id: string; status: string; reason: string }[];
  removed: { id: string; reason: string }[];
}

/**
 * Plans retention for one target's backups and, unless `dryRun`, removes
 * the backups the plan drops (data file, then manifest). Only files that
 * match the backup naming pattern are considered; invalid and incomplete
 * backups are never removed, nor the newest valid backup that still holds
 * a table or sequence the database has lost (see `retentionProtection`).
 * Caller holds the target lock.
 */
export function applyRetention(repo: BackupRepository, target: string, policy: RetentionPolicy, now: Date, dryRun = false): { removed: string[]; plan: ReturnType<typeof planRetention>; entries: ReturnType<BackupRepository['list']> } {
  const entries = repo.list(target);
  const plan = planRetention(entries, policy, now, retentionProtection(entries, repo.dir, target));
  if (!dryRun) for (const id of plan.remove) repo.remove(entries.find((e) => e.id === id)!);
  return { removed: plan.remove, plan, entries };
}

/**
 * `prune`: applies the retention policy (`--keep` and the GFS counts, over
 * config `keep` and `retention`) to each selected target under its run lock.
 * "Nothing to prune" is an empty `removed` list, not an error.
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
      const { plan, entries } = applyRetention(repo, target, policy, now, opts.dryRun);
      out.push({
        target,
        dryRun: Boolean(opts.dryRun),
        policy,
        kept: plan.keep.map((id) => ({ id, status: entries.find((e) => e.id === id)!.status, reason: plan.reasons[id]! })),
        removed: plan.remove.map((id) => ({ id, reason: plan.reasons[id]! })),
      });
    } finally {
      lock?.release();
    }
  }
  return out;
}
