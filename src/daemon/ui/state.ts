import * as os from 'node:os';
import type { BackupEntry } from '../../storage/repository';
import type { JobHistory, JobKind, JobRecord } from '../history';

/** What the dashboard reads from the daemon (the Daemon class provides it). */
export interface DashboardSource {
  health(): { status: string; targets: Record<string, unknown> } & Record<string, unknown>;
  targets(): string[];
  backups(target: string): BackupEntry[];
  readonly history: JobHistory;
  readonly progress: ReadonlyMap<string, { target: string; kind: JobKind; phase: string; done?: number; total?: number }>;
  isQueued(target: string, kind: JobKind): boolean;
  trigger(target: string, kind: 'backup' | 'check' | 'verify', reason: string): Promise<unknown>;
}

const HISTORY_ROWS = 300;
const SERIES_POINTS = 200;

const rowsOf = (e: BackupEntry | undefined) => e?.manifest?.tables.reduce((n, t) => n + t.rows, 0);
const totalMs = (e: BackupEntry) => (e.manifest?.phases ? Object.values(e.manifest.phases).reduce((a, b) => a + b, 0) : undefined);

/** True for a command-line run whose process on this host is gone: it was killed before it could record its end. */
function died(r: JobRecord): boolean {
  if (r.source !== 'cli' || !r.pid || r.host !== os.hostname() || !['running', 'pending'].includes(r.state)) return false;
  try {
    process.kill(r.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/** The latest record of each run, with command-line runs that died shown as `died` instead of running forever. */
function settled(runs: JobRecord[]): JobRecord[] {
  return runs.map((r) => (died(r) ? { ...r, state: 'died', error: { code: 'died', exitCode: 1, message: 'the process ended without recording a result (killed?)' } } : r));
}

/** One row of the history table: the latest record of one run. */
function row(r: JobRecord, byId: Map<string, BackupEntry>) {
  const b = r.backupId ? byId.get(r.backupId) : undefined;
  const extra = r as JobRecord & { consistency?: unknown };
  return {
    id: r.id, target: r.target, kind: r.kind, state: r.state, at: r.at, startedAt: r.startedAt ?? null, endedAt: r.endedAt ?? null,
    durationMs: r.durationMs ?? null, bytes: r.bytes ?? (r.kind === 'backup' ? b?.bytes : undefined) ?? null, rows: r.rows ?? (r.kind === 'backup' ? rowsOf(b) : undefined) ?? null,
    attempt: r.attempt, error: r.error?.message ?? null, source: r.source ?? 'daemon', reason: r.reason ?? null, backupId: r.backupId ?? null,
    ...(extra.consistency !== undefined ? { consistency: extra.consistency } : {}),
  };
}

/**
 * The dashboard document (`GET /api/state`): per-target cards from /health
 * plus the newest backup's row count and live progress, the latest record of
 * each run newest first (300 at most), and per-target series of backup size
 * and duration, oldest first. Carries no config value (no path, no schedule
 * text, no token) and no secret. Read-only.
 */
export function dashboardState(src: DashboardSource) {
  const health = src.health();
  const runs = settled(src.history.latestRuns());
  const byId = new Map<string, BackupEntry>();
  const cards = [];
  const series: Record<string, { at: string; bytes: number; durationMs: number | null }[]> = {};
  for (const target of src.targets()) {
    const entries = src.backups(target);
    for (const e of entries) byId.set(e.id, e);
    const h = (health.targets[target] ?? {}) as Record<string, any>;
    const newest = entries.find((e) => e.status === 'valid');
    const running = runs.filter((r) => r.target === target && ['pending', 'running', 'retrying'].includes(r.state)).map((r) => {
      const p = src.progress.get(`${target}:${r.kind}`);
      return { kind: r.kind, state: r.state, attempt: r.attempt, source: r.source ?? 'daemon', phase: p?.phase ?? null, done: p?.done ?? null, total: p?.total ?? null };
    });
    const manifest = newest?.manifest as (NonNullable<BackupEntry['manifest']> & { consistency?: unknown }) | undefined;
    cards.push({
      target,
      status: h.status ?? 'unhealthy',
      reason: h.reason ?? '',
      lastBackup: newest ? { id: newest.id, createdAt: newest.createdAt.toISOString(), ageSeconds: h.last_backup?.age_seconds ?? null, bytes: newest.bytes, rows: rowsOf(newest) ?? null, fresh: h.last_backup?.fresh ?? null, ...(manifest?.consistency !== undefined ? { consistency: manifest.consistency } : {}) } : null,
      backups: entries.length,
      lastVerified: h.last_verified ?? null,
      drillOverdue: h.drill_overdue ?? false,
      lastCheck: h.last_check ?? null,
      lastFailure: h.last_failure ?? null,
      nextRuns: h.next_runs ?? {},
      running,
      queued: { backup: src.isQueued(target, 'backup'), check: src.isQueued(target, 'check'), verify: src.isQueued(target, 'verify') },
    });
    // size and duration over time: every successful backup run, plus backups older than the history
    const points = new Map<string, { at: string; bytes: number; durationMs: number | null }>();
    for (const e of entries) if (e.status === 'valid') points.set(e.id, { at: e.createdAt.toISOString(), bytes: e.bytes, durationMs: totalMs(e) ?? null });
    for (const r of runs) {
      if (r.target !== target || r.kind !== 'backup' || r.state !== 'succeeded') continue;
      const bytes = r.bytes ?? (r.backupId ? byId.get(r.backupId)?.bytes : undefined);
      if (bytes === undefined) continue;
      points.set(r.backupId ?? r.id, { at: r.endedAt ?? r.at, bytes, durationMs: r.durationMs ?? null });
    }
    series[target] = [...points.values()].sort((a, b) => (a.at < b.at ? -1 : 1)).slice(-SERIES_POINTS);
  }
  return {
    status: health.status,
    now: new Date().toISOString(),
    targets: cards,
    history: runs.slice(0, HISTORY_ROWS).map((r) => row(r, byId)),
    series,
  };
}
