import type { BackupEntry } from '../storage/repository';

/**
 * The target's "last proven restorable" time: the newest `verifiedAt` (a full
 * re-verification by `verify` or a restore drill) among its valid backups,
 * or null when none was ever re-verified. Pure.
 */
export function lastProvenRestorable(entries: BackupEntry[]): Date | null {
  let best: Date | null = null;
  for (const e of entries) {
    const at = e.status === 'valid' ? e.manifest?.verifiedAt : undefined;
    if (!at) continue;
    const d = new Date(at);
    if (!Number.isNaN(d.getTime()) && (!best || d > best)) best = d;
  }
  return best;
}

/**
 * True when no restore drill proved a backup restorable for two drill
 * periods: measured from the last proven time, or, when nothing was ever
 * proven, from `since` (when the daemon started scheduling drills). False
 * without any valid backup (backup freshness reports that). Pure.
 */
export function drillOverdue(entries: BackupEntry[], periodMs: number, now: Date, since: Date): boolean {
  const valid = entries.filter((e) => e.status === 'valid');
  if (!valid.length) return false;
  const from = lastProvenRestorable(valid) ?? since;
  return now.getTime() - from.getTime() > 2 * periodMs;
}
