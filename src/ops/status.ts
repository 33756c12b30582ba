import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { Schedule } from '../core/schedule';
import { lastProvenRestorable } from '../daemon/drills';
import { JobHistory, summarize } from '../daemon/history';
import { BackupRepository } from '../storage/repository';
import { checkHealth } from './health';
import { DbguardError } from '../core/errors';
import { futureBackupsFinding } from './list';
import { offsiteOf } from './remote-state';
import { engineNameOf } from './engine-of';
import type { Finding } from '../core/types';

export interface TargetStatus {
  target: string;
  /** The target's engine (config `engine`, else told from the file, its backups or its extension); null when it cannot be told. */
  engine: string | null;
  ok: boolean;
  healthy: boolean | null;
  fresh: boolean;
  lastBackup: { id: string; createdAt: string; ageSeconds: number; bytes: number; consistency: 'locked' | 'live' } | null;
  backups: number;
  lastCheck: { ok: boolean | null; at: string; findings: string[]; source: 'daemon' | 'now' } | null;
  lastFailure: { kind: string; at: string; code: string | null; message: string | null } | null;
  nextBackup: string | null;
  nextCheck: string | null;
  /** Last proven restorable: the newest full re-verification (verify or a restore drill) of a valid backup. */
  lastVerified: string | null;
  nextVerify: string | null;
  /** Backups older than this many seconds (2 schedule periods) are stale. */
  staleAfterSeconds: number;
  /** E.g. `backup-from-future`: backups dated after the clock, never counted as the last backup. */
  warnings: Finding[];
  /** With a remote configured: the last push, the newest off-site backup and its age, and whether it is older than remote.maxAge. */
  offsite?: ReturnType<typeof offsiteOf>;
}

export interface DaemonProbe {
  url: string;
  answering: boolean;
  status?: string;
}

/** Asks a running daemon for /health (1 s timeout); never throws. */
export async function probeDaemon(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<DaemonProbe> {
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.http.port}/health`;
  const token = env.DBGUARD_HTTP_TOKEN || config.http.token;
  try {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(1000) });
    const body = (await res.json().catch(() => ({}))) as { status?: string };
    return { url, answering: true, status: body.status };
  } catch {
    return { url, answering: false };
  }
}

/**
 * Per target: the newest valid backup and its age, the number of backups, the
 * last check (from the daemon's history, else a quick check now), the last
 * failure, the next scheduled runs, and whether the daemon answers. A target
 * is ok when its database is not known to be damaged and its newest valid
 * backup is younger than two backup periods. Read-only.
 */
export async function status(config: Config, selector: string | undefined, env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<{ ok: boolean; targets: TargetStatus[]; daemon: DaemonProbe }> {
  const names = selectTargets(config, selector ?? 'all', env.ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const runs = new JobHistory(config.backupDir).latestRuns();
  const targets: TargetStatus[] = [];
  for (const target of names) {
    const t = config.targets[target]!;
    const backupSched = new Schedule(t.schedule?.backup ?? config.schedule.backup, config.schedule.timezone);
    const checkSched = new Schedule(t.schedule?.check ?? config.schedule.check, config.schedule.timezone);
    const verifySched = new Schedule(t.schedule?.verify ?? config.schedule.verify, config.schedule.timezone);
    const entries = repo.list(target, now);
    // A backup dated in the future is never "fresh": it would hide that backups stopped.
    const newest = entries.find((e) => e.status === 'valid' && !e.future);
    const future = futureBackupsFinding(target, entries, now);
    const staleAfterSeconds = Math.round((2 * backupSched.periodMs(now)) / 1000);
    const ageSeconds = newest ? Math.round((now.getTime() - newest.createdAt.getTime()) / 1000) : null;
    const fresh = ageSeconds !== null && ageSeconds < staleAfterSeconds;
    const s = summarize(runs, target);
    let lastCheck: TargetStatus['lastCheck'] = s.lastCheck && s.lastCheck.healthy !== undefined
      ? { ok: s.lastCheck.healthy, at: s.lastCheck.endedAt ?? s.lastCheck.at, findings: s.lastCheck.findings ?? [], source: 'daemon' }
      : null;
    if (!lastCheck) {
      // status never fails for a check that could not run (full disk, no memory): it says so
      const c = await checkHealth(config, target, { quick: true }).catch((err: unknown) => ({ busy: undefined, ok: null, findings: [{ code: err instanceof DbguardError ? err.code : 'could-not-check' }] }));
      lastCheck = { ok: c.busy ? null : c.ok, at: new Date().toISOString(), findings: c.busy ? ['busy'] : c.findings.map((f) => f.code), source: 'now' };
    }
    const healthy = lastCheck.ok;
    const offsite = offsiteOf(config, target, now);
    targets.push({
      target,
      engine: engineNameOf(config, target),
      ok: healthy !== false && fresh && !offsite?.stale,
      healthy,
      fresh,
      lastBackup: newest ? { id: newest.id, createdAt: newest.createdAt.toISOString(), ageSeconds: ageSeconds!, bytes: newest.bytes, consistency: newest.manifest?.consistency ?? 'locked' } : null,
      backups: entries.length,
      lastCheck,
      lastFailure: s.lastFailure ? { kind: s.lastFailure.kind, at: s.lastFailure.endedAt ?? s.lastFailure.at, code: s.lastFailure.error?.code ?? null, message: s.lastFailure.error?.message ?? null } : null,
      nextBackup: backupSched.next(now)?.toISOString() ?? null,
      nextCheck: checkSched.next(now)?.toISOString() ?? null,
      lastVerified: lastProvenRestorable(entries)?.toISOString() ?? null,
      nextVerify: verifySched.next(now)?.toISOString() ?? null,
      staleAfterSeconds,
      warnings: future ? [future] : [],
      ...(offsite ? { offsite } : {}),
    });
    backupSched.dispose();
    checkSched.dispose();
    verifySched.dispose();
  }
  return { ok: targets.every((t) => t.ok), targets, daemon: await probeDaemon(config, env) };
}
