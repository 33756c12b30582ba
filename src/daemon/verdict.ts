import type { JobRecord } from './history';

export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** What the daemon knows about one target when it judges it. */
export interface TargetFacts {
  target: string;
  /** The last check's result, when there was one. */
  check: { ok: boolean; findings: string[] } | null;
  hasValidBackup: boolean;
  /** The newest valid backup is younger than two backup periods. */
  fresh: boolean;
  /** The last finished backup, check or drill run, if it failed. */
  failedRun?: JobRecord;
  retrying?: JobRecord;
  drillOverdue: boolean;
  /** A backup is dated after the clock (it is never taken as the newest). */
  futureBackup?: string;
}

/**
 * The /health and dashboard verdict of one target, with the reason and the
 * command that fixes it. Unhealthy: damaged at the last check, or no fresh
 * valid backup. Degraded: the last run failed or is being retried, or the
 * restore drill is overdue, or a backup is dated in the future. Pure.
 */
export function verdict(f: TargetFacts): { state: HealthState; reason: string } {
  const t = f.target;
  if (f.check?.ok === false) return { state: 'unhealthy', reason: `database damaged at the last check (${f.check.findings.join(', ') || 'see findings'}): run dbguard repair ${t}` };
  if (!f.hasValidBackup) return { state: 'unhealthy', reason: `no valid backup: run dbguard backup ${t}` };
  if (!f.fresh) return { state: 'unhealthy', reason: `the newest valid backup is older than two backup periods: run dbguard backup ${t}` };
  if (f.failedRun) return { state: 'degraded', reason: `the last ${f.failedRun.kind === 'verify' ? 'restore drill' : f.failedRun.kind} failed: ${f.failedRun.error?.message ?? 'unknown error'}` };
  if (f.retrying) return { state: 'degraded', reason: `${f.retrying.kind} is being retried (attempt ${f.retrying.attempt})` };
  if (f.futureBackup) return { state: 'degraded', reason: f.futureBackup };
  if (f.drillOverdue) return { state: 'degraded', reason: `no restore drill for two schedule.verify periods: run dbguard verify ${t}` };
  return { state: 'healthy', reason: 'database healthy, fresh valid backup' };
}
