import { format } from 'date-fns/format';

export interface RetentionItem {
  id: string;
  createdAt: Date;
  status: 'valid' | 'invalid' | 'incomplete';
}

/** How many to keep: the newest `keep`, plus grandfather-father-son keepers. */
export interface RetentionPolicy {
  keep?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface RetentionPlan {
  keep: string[];
  remove: string[];
  /** Why each id is kept or removed, in words for `prune --dry-run`. */
  reasons: Record<string, string>;
}

const buckets: { key: 'daily' | 'weekly' | 'monthly'; label: string; of: (d: Date) => string }[] = [
  { key: 'daily', label: 'day', of: (d) => format(d, 'yyyy-MM-dd') },
  { key: 'weekly', label: 'week', of: (d) => format(d, "RRRR-'W'II") },
  { key: 'monthly', label: 'month', of: (d) => format(d, 'yyyy-MM') },
];

/**
 * Plans retention as a pure function of the backups, the policy and the time.
 * Only valid backups are counted or removed: invalid and incomplete ones are
 * never removed by rotation. The newest valid backup is always kept. Each
 * valid backup is kept if it is among the newest `keep`, or is the newest of
 * one of the last `daily` days / `weekly` ISO weeks / `monthly` months that
 * have backups (restic's rule: periods without backups do not count). A
 * backup dated after `now` (clock skew) is kept and not counted. Each
 * `protect` entry (a valid backup that still holds a table the database has
 * lost) is kept whatever the policy says, with its reason.
 */
export function planRetention(backups: RetentionItem[], policy: RetentionPolicy, now: Date, protect: { id: string; reason: string }[] = []): RetentionPlan {
  const reasons: Record<string, string> = {};
  const keep = new Set<string>();
  for (const b of backups) {
    if (b.status !== 'valid') {
      keep.add(b.id);
      reasons[b.id] = `${b.status}: not counted, never removed by rotation`;
    }
  }
  const valid = backups
    .filter((b) => b.status === 'valid')
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const counted = valid.filter((b) => {
    if (b.createdAt.getTime() <= now.getTime()) return true;
    keep.add(b.id);
    reasons[b.id] = 'dated in the future (clock skew?): kept, not counted';
    return false;
  });
  const why = new Map<string, string[]>();
  const mark = (id: string, reason: string) => {
    keep.add(id);
    why.set(id, [...(why.get(id) ?? []), reason]);
  };
  if (counted[0]) mark(counted[0].id, 'newest valid backup');
  const n = policy.keep ?? 0;
  counted.slice(0, n).forEach((b, i) => mark(b.id, `${i + 1} of the newest ${n}`));
  for (const bucket of buckets) {
    const limit = policy[bucket.key] ?? 0;
    const seen = new Set<string>();
    for (const b of counted) {
      if (seen.size >= limit) break;
      const period = bucket.of(b.createdAt);
      if (seen.has(period)) continue;
      seen.add(period);
      mark(b.id, `newest of ${bucket.label} ${period} (${bucket.key} ${seen.size}/${limit})`);
    }
  }
  for (const p of protect) if (counted.some((b) => b.id === p.id)) mark(p.id, p.reason);
  const remove: string[] = [];
  for (const b of counted) {
    if (keep.has(b.id)) reasons[b.id] = [...new Set(why.get(b.id))].join('; ');
    else {
      remove.push(b.id);
      reasons[b.id] = `beyond the newest ${n}${policy.daily || policy.weekly || policy.monthly ? ' and not a daily/weekly/monthly keeper' : ''}`;
    }
  }
  return { keep: backups.map((b) => b.id).filter((id) => keep.has(id)), remove, reasons };
}
