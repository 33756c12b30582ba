import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cron } from 'croner';
import type { Config } from '../config/load';
import { ConfigError, inUseError, IntegrityError, InterruptedError, StorageError } from '../core/errors';
import { Schedule, tzOption } from '../core/schedule';
import { silentLogger, type Logger } from '../core/types';
import { backupTarget, type BackupResult } from '../ops/backup';
import { collectLocalStore } from '../ops/store-gc';
import { push } from '../ops/push';
import { offsiteOf, readRemoteState } from '../ops/remote-state';
import { repair } from '../ops/repair';
import { checkHealth } from '../ops/health';
import { futureBackupsFinding } from '../ops/list';
import { engineNameOf } from '../ops/engine-of';
import type { ProgressFn } from '../ops/progress';
import { BackupRepository } from '../storage/repository';
import { Alerter } from './alerts';
import { DrillWatch, restoreDrill } from './drill-job';
import { drillOverdue, lastProvenRestorable } from './drills';
import { verdict } from './verdict';
import { JobHistory, summarize, type JobKind, type JobRecord } from './history';
import { isLoopback, startHttpServer } from './http';
import { DaemonMetrics } from './metrics';
import { JobRunner, withOutcome, type JobOutcome } from './runner';

export interface DaemonOptions {
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Base delay of alert delivery retries (tests shorten it). */
  alertRetryMs?: number;
  /** Called when the last running job has finished and the daemon is idle again. */
  onIdle?: () => void;
  /** The clock of restore-drill deadlines (tests move it forward); default: now. */
  now?: () => Date;
}

/** The runs the daemon schedules: backups, checks, and restore drills (verify). */
export type ScheduledKind = 'backup' | 'check' | 'verify';
export const SCHEDULED_KINDS: readonly ScheduledKind[] = ['backup', 'check', 'verify'];

/** Live progress of a running job, for the dashboard. */
export interface LiveProgress { target: string; kind: JobKind; phase: string; done?: number; total?: number }

/** The effective backup, check and drill schedules of a target (per-target override, else global). */
export function schedulesOf(config: Config, target: string): Record<ScheduledKind, Schedule> {
  const t = config.targets[target]!;
  return {
    backup: new Schedule(t.schedule?.backup ?? config.schedule.backup, config.schedule.timezone),
    check: new Schedule(t.schedule?.check ?? config.schedule.check, config.schedule.timezone),
    verify: new Schedule(t.schedule?.verify ?? config.schedule.verify, config.schedule.timezone),
  };
}


/**
 * The long-running scheduler: backups and checks per target on their cron
 * schedules, a catch-up backup at start for a missed run, retries with
 * backoff, a persistent job history, alerts, and HTTP health endpoints.
 * `stop()` stops scheduling, lets a running job finish up to the shutdown
 * timeout, then cancels it cleanly (temporary files removed, lock released).
 */
export class Daemon {
  readonly history: JobHistory;
  readonly metrics = new DaemonMetrics();
  readonly alerter: Alerter;
  private readonly runner: JobRunner;
  private readonly repo: BackupRepository;
  private readonly log: Logger;
  private readonly schedules = new Map<string, Record<ScheduledKind, Schedule>>();
  /** Progress of running jobs by `target:kind`. */
  readonly progress = new Map<string, LiveProgress>();
  private readonly drills: DrillWatch;
  private drillTimer?: NodeJS.Timeout;
  private crons: Cron[] = [];
  private server?: http.Server;
  private ready = false;
  private stopping = false;
  private readonly startedAt = Date.now();
  private runs = 0;
  private failures = 0;
  private readonly lastCheck = new Map<string, { ok: boolean; at: string; findings: string[] }>();
  private readonly failing = new Set<string>();
  private readonly staleOffsite = new Set<string>();

  constructor(private readonly config: Config, private readonly opts: DaemonOptions = {}) {
    this.log = opts.log ?? silentLogger;
    this.repo = new BackupRepository(config.backupDir);
    this.history = new JobHistory(config.backupDir);
    this.alerter = new Alerter(config, this.log, opts.env ?? process.env, opts.alertRetryMs ?? 1000);
    this.drills = new DrillWatch(this.repo, this.alerter, this.log);
    this.runner = new JobRunner(this.history, config.retry, config.concurrency, this.log, (rec, err) => this.finished(rec, err));
  }

  private get token(): string | undefined {
    return (this.opts.env ?? process.env).DBGUARD_HTTP_TOKEN || this.config.http.token || undefined;
  }

  /**
   * Arms the schedules, starts the HTTP endpoints and queues catch-up backups.
   * Throws ConfigError for an open, token-less bind, a port in use, or an
   * email login without DBGUARD_SMTP_PASSWORD.
   */
  async start(): Promise<void> {
    const { host, port } = this.config.http;
    if (!isLoopback(host) && !this.token) {
      throw new ConfigError(`http.host is ${host}, which is not a loopback address, and no token is set`, 'set DBGUARD_HTTP_TOKEN (or http.token) so the endpoints require a bearer token, or bind to 127.0.0.1');
    }
    const email = this.config.alerts.email;
    if (email?.user && !(this.opts.env ?? process.env).DBGUARD_SMTP_PASSWORD) {
      throw new ConfigError(`alerts.email.user is ${email.user}, but DBGUARD_SMTP_PASSWORD is not set, so no alert email could be sent`, 'set DBGUARD_SMTP_PASSWORD in the daemon\'s environment (the password is never read from the config file), or remove alerts.email.user for a server without login');
    }
    const folder = this.repo.ensureDir();
    if (folder.warning) this.log.warn({ backupDir: this.repo.dir }, folder.warning);
    // Restore what the previous daemon knew: last check results and which runs were failing.
    const runs = this.history.latestRuns();
    for (const target of Object.keys(this.config.targets)) {
      const s = summarize(runs, target);
      if (s.lastCheck?.healthy !== undefined) this.lastCheck.set(target, { ok: s.lastCheck.healthy, at: s.lastCheck.endedAt ?? s.lastCheck.at, findings: s.lastCheck.findings ?? [] });
      for (const kind of ['backup', 'check'] as const) {
        const last = runs.find((r) => r.target === target && r.kind === kind && ['succeeded', 'failed'].includes(r.state));
        if (last?.state === 'failed') this.failing.add(`${target}:${kind}`);
      }
    }
    this.server = await startHttpServer(host, port, this.token, {
      ready: () => this.ready && !this.stopping,
      health: () => this.health(),
      dashboard: this,
      metrics: async () => {
        if (this.config.remote) this.metrics.setPushState(Object.keys(this.config.targets).map((t) => readRemoteState(this.config.backupDir, t)));
        return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
      },
    }, this.log);
    for (const target of Object.keys(this.config.targets)) {
      const sched = schedulesOf(this.config, target);
      this.schedules.set(target, sched);
      for (const kind of SCHEDULED_KINDS) {
        this.crons.push(new Cron(sched[kind].expr, { timezone: tzOption(this.config.schedule.timezone), protect: true }, () => { void this.trigger(target, kind, 'schedule'); }));
      }
      this.refreshBackupMetrics(target);
      this.metrics.targetInfo.set({ target, engine: engineNameOf(this.config, target) ?? 'unknown' }, 1);
      this.refreshDrillMetrics(target);
      const last = this.lastCheck.get(target);
      if (last) this.metrics.healthy.set({ target }, last.ok ? 1 : 0);
    }
    this.ready = true;
    this.log.info({ targets: Object.keys(this.config.targets) }, 'daemon started; schedules armed');
    this.catchUp();
    this.checkDrills();
    // a drill deadline (or remote.maxAge) passes without any run: look once an hour
    this.drillTimer = setInterval(() => {
      this.checkDrills();
      if (this.config.remote?.maxAge) for (const t of Object.keys(this.config.targets)) this.checkOffsiteAge(t);
    }, 3600 * 1000);
    this.drillTimer.unref();
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private checkDrills(): void {
    this.drills.check(this.schedules, this.now(), new Date(this.startedAt));
  }

  /** True when a run of `target` and `kind` is queued or running (the dashboard refuses a duplicate). */
  isQueued(target: string, kind: JobKind): boolean {
    return this.runner.isQueued(target, kind);
  }

  /** The configured target names. */
  targets(): string[] {
    return Object.keys(this.config.targets);
  }

  /** The backups of a target, newest first (for the dashboard's cards and charts). */
  backups(target: string) {
    return this.repo.list(target);
  }

  /** Backs up, once, every target whose newest valid backup predates its last scheduled run. */
  private catchUp(): void {
    const now = new Date();
    for (const [target, sched] of this.schedules) {
      const due = sched.backup.previous(now);
      const newest = this.repo.newestValid(target);
      if (!newest || (due && newest.createdAt.getTime() < due.getTime())) {
        this.log.info({ target, newest: newest?.id ?? null, missedRun: due?.toISOString() ?? null }, 'catch-up: a scheduled backup was missed');
        void this.trigger(target, 'backup', 'catch-up');
      }
    }
  }

  /** Queues a run now (skipped if the same run is still queued or running). */
  trigger(target: string, kind: ScheduledKind, reason: string): Promise<JobRecord | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    const jobs: Record<ScheduledKind, (signal: AbortSignal) => Promise<JobOutcome>> = {
      backup: (signal) => this.backupJob(target, signal),
      check: (signal) => this.checkJob(target, signal),
      verify: (signal) => this.verifyJob(target, signal),
    };
    return this.runner.submit(target, kind, reason, (signal, attempt) => {
      // healthchecks convention: /start as the run begins (not again for its retries)
      if (attempt === 1) this.alerter.ping('start');
      return jobs[kind](signal);
    });
  }

  private onProgress(target: string, kind: JobKind) {
    return (p: Parameters<ProgressFn>[0]) => { this.progress.set(`${target}:${kind}`, { target, kind, phase: p.phase, done: p.done, total: p.total }); };
  }

  private async verifyJob(target: string, signal: AbortSignal): Promise<JobOutcome> {
    const r = await restoreDrill(this.config, target, { signal, onProgress: this.onProgress(target, 'verify'), onDamage: (m) => this.alerter.notify(target, 'damage', 'verify', m) });
    this.refreshDrillMetrics(target);
    this.drills.proven(target);
    return r;
  }

  private async backupJob(target: string, signal: AbortSignal): Promise<JobOutcome> {
    const outcome = await this.backupJobInner(target, signal);
    // remote.auto: the push is its own recorded run; its failure never undoes the backup
    if (this.config.remote?.auto && !this.stopping) void this.runner.submit(target, 'push', 'auto', (sig) => this.pushJob(target, sig));
    return outcome;
  }

  /**
   * One push of `target` to the remote. A failed push throws (StorageError,
   * exit 6: retried by the runner, alerted once retries are spent); an
   * off-site copy older than remote.maxAge is alerted after the push.
   */
  private async pushJob(target: string, signal: AbortSignal): Promise<JobOutcome> {
    let results;
    try {
      results = await push(this.config, target, { env: this.opts.env ?? process.env, signal, onProgress: this.onProgress(target, 'push') });
    } finally {
      this.checkOffsiteAge(target);
    }
    const r = results[0]!;
    if (!r.ok) throw new StorageError(r.error!.message, r.error!.hint);
    this.log.info({ target, pushed: r.pushed.map((x) => x.id), bytesUploaded: r.bytesUploaded }, 'push finished');
    return { backupId: r.newestRemote?.id, bytes: r.bytesUploaded };
  }

  /** Alerts (once per stale episode) when the newest off-site backup of `target` is older than remote.maxAge. */
  private checkOffsiteAge(target: string): void {
    const o = offsiteOf(this.config, target);
    const key = `${target}:offsite`;
    if (!o?.stale) { this.staleOffsite.delete(key); return; }
    if (this.staleOffsite.has(key)) return;
    this.staleOffsite.add(key);
    this.alerter.notify(target, 'failure', 'push', o.newest
      ? `the newest off-site backup of ${target} (${o.newest.id}) is ${Math.round(o.newest.ageSeconds! / 3600)} h old, older than remote.maxAge ${this.config.remote!.maxAge}`
      : `${target} has no off-site backup yet (remote.maxAge ${this.config.remote!.maxAge})`);
  }

  private async backupJobInner(target: string, signal: AbortSignal): Promise<JobOutcome> {
    try {
      return await this.collected(this.rotated(await backupTarget(this.config, target, { signal, log: this.log, onProgress: this.onProgress(target, 'backup') })), signal);
    } catch (err) {
      if (!(err instanceof IntegrityError) || signal.aborted) throw err;
      this.alerter.notify(target, 'damage', 'backup', err.message);
      if (!this.config.autoRepair || !(await this.autoRepair(target, signal))) throw err;
      return await this.collected(this.rotated(await backupTarget(this.config, target, { signal, log: this.log, onProgress: this.onProgress(target, 'backup') })), signal);
    }
  }

  /**
   * Blocks format: when rotation removed backups, their packs are freed at
   * once if the store's exclusive lock is free (no backup ingesting, no
   * restore reading); when it is busy the next backup or `dbguard prune`
   * does it. A failed collect is logged, never the backup's failure.
   */
  private async collected(outcome: JobOutcome & { removed?: number }, signal: AbortSignal): Promise<JobOutcome> {
    const { removed, ...rest } = outcome;
    if (!removed || this.config.storage.format !== 'blocks' || signal.aborted) return rest;
    try {
      const r = await collectLocalStore(this.config, { signal });
      if (r) this.log.info({ deletedPacks: r.deletedPacks.length, repackedPacks: r.repackedPacks.length, freedBytes: r.freedBytes }, 'store collected after rotation');
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, 'store collect after rotation did not run; dbguard prune will do it');
    }
    return rest;
  }

  /** The backup is published; a rotation that could not delete old ones is alerted and counted (they fill the disk). */
  private rotated(r: BackupResult): JobOutcome & { removed?: number } {
    if (r.rotationError) {
      this.metrics.rotationFailures.inc({ target: r.target });
      this.alerter.notify(r.target, 'failure', 'backup', `backup ${r.id} was published, but ${r.rotationError}`);
    }
    return { backupId: r.id, bytes: r.bytes, rows: r.rows, consistency: r.consistency, attempts: r.attempts, removed: r.removed.length };
  }

  private async checkJob(target: string, signal: AbortSignal): Promise<JobOutcome> {
    const c = await checkHealth(this.config, target, { signal, live: { copyDir: this.config.backupDir }, onProgress: this.onProgress(target, 'check') });
    // A stop cancelled the check midway: what it saw says nothing about the database.
    if (signal.aborted) throw new InterruptedError(`check of ${target} cancelled`);
    if (c.busy) throw inUseError(c.path, c.busy, 'the check is retried with backoff');
    const findings = c.findings.map((f) => f.code);
    const before = this.lastCheck.get(target);
    this.lastCheck.set(target, { ok: c.ok, at: new Date().toISOString(), findings });
    this.metrics.healthy.set({ target }, c.ok ? 1 : 0);
    if (c.ok) return { healthy: true, findings };
    const message = c.findings.filter((f) => f.severity === 'error').map((f) => f.message).join('; ');
    // Alert when damage appears or changes, not again on every hourly check of the same damage.
    if (before?.ok !== false || before.findings.join() !== findings.join()) this.alerter.notify(target, 'damage', 'check', message);
    else this.log.warn({ target, findings }, 'database still damaged (already alerted)');
    if (this.config.autoRepair && !signal.aborted && (await this.autoRepair(target, signal))) {
      const again = await checkHealth(this.config, target, { quick: true });
      this.lastCheck.set(target, { ok: again.ok, at: new Date().toISOString(), findings: again.findings.map((f) => f.code) });
      this.metrics.healthy.set({ target }, again.ok ? 1 : 0);
      if (again.ok) return { healthy: true, findings: again.findings.map((f) => f.code) };
    }
    throw withOutcome(new IntegrityError(`${target} is damaged: ${message}`, `dbguard repair ${target}`, 'damaged'), { healthy: false, findings });
  }

  private async autoRepair(target: string, signal: AbortSignal): Promise<boolean> {
    try {
      const r = await repair(this.config, target, { strategy: 'auto', signal, log: this.log });
      if (r.strategy !== 'none') this.alerter.notify(target, 'repair', 'check', `repaired by ${r.strategy}${r.details.restoredFrom ? ` from ${r.details.restoredFrom}` : ''}; damaged file in ${r.quarantine}${r.details.notes.length ? `; ${r.details.notes.join('; ')}` : ''}`);
      return r.ok;
    } catch (err) {
      this.alerter.notify(target, 'failure', 'check', `automatic repair failed: ${(err as Error).message}`);
      return false;
    }
  }

  private finished(rec: JobRecord, err?: unknown): void {
    this.progress.delete(`${rec.target}:${rec.kind}`);
    if (this.opts.onIdle) setImmediate(() => { if (this.runner.active === 0) this.opts.onIdle!(); });
    if (rec.state === 'cancelled') {
      this.metrics.runs.inc({ target: rec.target, kind: rec.kind, result: 'cancelled' });
      return;
    }
    this.runs++;
    const key = `${rec.target}:${rec.kind}`;
    const ok = rec.state === 'succeeded';
    this.metrics.runs.inc({ target: rec.target, kind: rec.kind, result: ok ? 'success' : 'failure' });
    this.alerter.ping(ok);
    if (ok) {
      if (this.failing.delete(key)) this.alerter.notify(rec.target, 'recovery', rec.kind, `${rec.kind} succeeded again after failures`);
      if (rec.kind === 'backup') {
        this.metrics.backupDuration.observe({ target: rec.target }, (rec.durationMs ?? 0) / 1000);
        this.refreshBackupMetrics(rec.target);
      }
      return;
    }
    this.failures++;
    this.failing.add(key);
    // Damage was alerted the moment it was found; everything else is alerted once retries are spent.
    const damage = err instanceof IntegrityError;
    if (!damage) this.alerter.notify(rec.target, 'failure', rec.kind, `${rec.kind} failed after ${rec.attempt} attempt(s): ${rec.error?.message ?? 'unknown error'}`);
  }

  private refreshBackupMetrics(target: string): void {
    const newest = this.repo.newestValid(target);
    if (!newest) return;
    this.metrics.lastBackupSuccess.set({ target }, Math.floor(newest.createdAt.getTime() / 1000));
    this.metrics.backupSize.set({ target }, newest.bytes);
    this.metrics.lastBackupLive.set({ target }, newest.manifest?.consistency === 'live' ? 1 : 0);
  }

  private refreshDrillMetrics(target: string): void {
    const proven = lastProvenRestorable(this.repo.list(target));
    if (proven) this.metrics.lastVerified.set({ target }, Math.floor(proven.getTime() / 1000));
  }

  /** The /health document. Unhealthy: a damaged database, or no fresh valid backup (older than 2 schedule periods). */
  health() {
    const now = new Date();
    const runs = this.history.latestRuns();
    const targets: Record<string, unknown> = {};
    let status: 'healthy' | 'degraded' | 'unhealthy' = 'healthy';
    const worsen = (s: 'degraded' | 'unhealthy') => { if (status !== 'unhealthy') status = s; };
    for (const [target, sched] of this.schedules) {
      const entries = this.repo.list(target, now);
      const newest = entries.find((e) => e.status === 'valid' && !e.future);
      const future = futureBackupsFinding(target, entries, now);
      const ageSeconds = newest ? Math.round((now.getTime() - newest.createdAt.getTime()) / 1000) : null;
      const fresh = newest !== undefined && ageSeconds! * 1000 < 2 * sched.backup.periodMs(now);
      const check = this.lastCheck.get(target) ?? null;
      const s = summarize(runs, target);
      const proven = lastProvenRestorable(entries);
      const overdue = drillOverdue(entries, sched.verify.periodMs(this.now()), this.now(), new Date(this.startedAt));
      const failedRun = [s.lastBackupRun, s.lastCheck, s.lastVerify].find((r) => r?.state === 'failed');
      const retrying = s.running.find((r) => r.state === 'retrying');
      const judged = verdict({ target, check, hasValidBackup: newest !== undefined, fresh, failedRun, retrying, drillOverdue: overdue, futureBackup: future?.message });
      const offsite = offsiteOf(this.config, target, now);
      // an off-site copy older than remote.maxAge degrades a target that is otherwise healthy
      const { state, reason } = judged.state === 'healthy' && offsite?.stale
        ? { state: 'degraded' as const, reason: offsite.newest ? `the newest off-site backup is older than remote.maxAge (${this.config.remote!.maxAge})` : 'no off-site backup yet (remote.maxAge is set)' }
        : judged;
      if (state !== 'healthy') worsen(state);
      targets[target] = {
        status: state,
        reason,
        last_verified: proven?.toISOString() ?? null,
        drill_overdue: overdue,
        healthy: check?.ok !== false && fresh,
        last_backup: newest ? { id: newest.id, created_at: newest.createdAt.toISOString(), age_seconds: ageSeconds, bytes: newest.bytes, fresh, consistency: newest.manifest?.consistency ?? 'locked' } : null,
        last_check: check,
        last_failure: s.lastFailure ? { kind: s.lastFailure.kind, at: s.lastFailure.endedAt ?? s.lastFailure.at, code: s.lastFailure.error?.code ?? null, message: s.lastFailure.error?.message ?? null } : null,
        running: s.running.map((r) => ({ kind: r.kind, state: r.state, attempt: r.attempt })),
        next_runs: { backup: sched.backup.next(now)?.toISOString() ?? null, check: sched.check.next(now)?.toISOString() ?? null, verify: sched.verify.next(now)?.toISOString() ?? null },
        warnings: future ? [{ code: future.code, message: future.message }] : [],
        future_backups: entries.filter((e) => e.future).map((e) => ({ id: e.id, created_at: e.createdAt.toISOString() })),
        ...(offsite ? { offsite: {
          last_push: offsite.lastPush ? { at: offsite.lastPush.at, ok: offsite.lastPush.ok, error: offsite.lastPush.error, bytes_uploaded: offsite.lastPush.bytesUploaded } : null,
          last_success_at: offsite.lastSuccessAt,
          newest: offsite.newest ? { id: offsite.newest.id, created_at: offsite.newest.createdAt, age_seconds: offsite.newest.ageSeconds } : null,
          max_age_seconds: offsite.maxAgeSeconds,
          stale: offsite.stale,
        } } : {}),
      };
    }
    return {
      status,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      runs: this.runs,
      failures: this.failures,
      error_rate: this.runs ? this.failures / this.runs : 0,
      timestamp: now.toISOString(),
      targets,
    };
  }

  /** The bound HTTP address (port 0 in config picks a free one). */
  address(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  /**
   * Graceful stop: no new runs, a running one may finish for `timeoutMs`, then
   * it is cancelled (its temporary files removed, lock released, recorded as
   * cancelled). Pending alerts get a few seconds to go out.
   */
  async stop(timeoutMs = this.config.shutdownTimeoutMs): Promise<{ cancelled: boolean }> {
    this.stopping = true;
    for (const c of this.crons) c.stop();
    clearInterval(this.drillTimer);
    this.runner.close();
    let cancelled = false;
    if (!(await this.runner.drain(timeoutMs))) {
      this.log.warn({ timeoutMs }, 'shutdown timeout: cancelling the running job');
      cancelled = true;
      await this.runner.cancelAll();
    }
    await this.alerter.flush(5000);
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    for (const s of this.schedules.values()) for (const k of SCHEDULED_KINDS) s[k].dispose();
    this.log.info({ cancelled }, 'daemon stopped');
    return { cancelled };
  }
}
