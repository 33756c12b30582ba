import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { DbguardError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { silentLogger, type Logger } from '../core/types';
import { Alerter } from './alerts';
import { JobHistory, lastFinished, type JobKind, type JobRecord } from './history';

/** How long a command-line run waits at its end for alerts still being delivered. */
export const CLI_ALERT_TIMEOUT_MS = 10000;

/** What a history record keeps of an error: code, exit code and message (never a stack or a config value). */
export function errorOf(err: unknown): NonNullable<JobRecord['error']> {
  const e = err instanceof DbguardError ? err : undefined;
  return { code: e?.code ?? 'internal', exitCode: e?.exitCode ?? ExitCode.internal, message: (err as Error)?.message ?? String(err) };
}

/** How a recorded run ended, and which alert events it raises. */
export interface RunEnd {
  ok: boolean;
  /** Interrupted (Ctrl-C, SIGTERM): recorded as cancelled, never alerted as failure or damage. */
  cancelled?: boolean;
  error?: JobRecord['error'];
  /** Damage was found (check, refused backup, failed verify): alerted once per distinct damage. */
  damage?: string;
  /** A repair replaced the database: alerted as `repair`. */
  repaired?: string;
  outcome?: Pick<JobRecord, 'backupId' | 'bytes' | 'rows' | 'healthy' | 'findings'>;
}

/** One recorded run; `end` may be called once. */
export interface RunHandle {
  readonly id: string;
  end(result: RunEnd): void;
}

/**
 * Records command-line runs in the daemon's job history (same file, same
 * lock) and sends the configured alerts on the same events as the daemon:
 * failure, damage, repair, and recovery, the last derived from the history
 * so a cron run knows the previous one failed. Pings follow the healthchecks
 * convention (start, success, fail). Never throws into a run: a history write
 * that fails is logged; deliveries run in the background and `flush` waits
 * for them at most a bounded time.
 */
export class RunLog {
  private readonly history: JobHistory;
  private readonly alerter?: Alerter;

  constructor(config: Config, private readonly opts: { alerts: boolean; log?: Logger; env?: NodeJS.ProcessEnv; retryBaseMs?: number }) {
    this.history = new JobHistory(config.backupDir);
    if (opts.alerts) this.alerter = new Alerter(config, opts.log ?? silentLogger, opts.env ?? process.env, opts.retryBaseMs ?? 1000);
  }

  private get log(): Logger {
    return this.opts.log ?? silentLogger;
  }

  private write(rec: JobRecord): void {
    // Never create the backup folder for a record: that is the run's job (and its error to
    // report); before the first backup a run's start goes unrecorded, its end is written.
    if (!fs.existsSync(path.dirname(this.history.file))) return;
    try {
      this.history.append(rec);
    } catch (err) {
      this.log.warn({ target: rec.target, kind: rec.kind, error: (err as Error).message }, 'could not write the job history');
    }
  }

  /** Records that a run of `kind` on `target` begins and pings the start URL. */
  begin(target: string, kind: JobKind): RunHandle {
    let prev: JobRecord | undefined;
    try {
      prev = lastFinished(this.history.latestRuns(), target, kind);
    } catch {
      prev = undefined;
    }
    const startedAt = new Date();
    const base = { id: randomUUID(), target, kind, reason: 'cli', source: 'cli' as const, pid: process.pid, host: os.hostname() };
    this.write({ ...base, state: 'running', attempt: 1, at: startedAt.toISOString(), startedAt: startedAt.toISOString() });
    this.alerter?.ping('start');
    let ended = false;
    return {
      id: base.id,
      end: (r) => {
        if (ended) return;
        ended = true;
        const endedAt = new Date();
        const state = r.cancelled ? 'cancelled' : r.ok ? 'succeeded' : 'failed';
        this.write({
          ...base, state, attempt: 1, at: endedAt.toISOString(), startedAt: startedAt.toISOString(), endedAt: endedAt.toISOString(),
          durationMs: endedAt.getTime() - startedAt.getTime(), ...(r.error ? { error: r.error } : {}), ...r.outcome,
        });
        this.alert(target, kind, r, prev);
      },
    };
  }

  private alert(target: string, kind: JobKind, r: RunEnd, prev: JobRecord | undefined): void {
    const a = this.alerter;
    if (!a) return;
    if (r.repaired) a.notify(target, 'repair', kind, r.repaired);
    if (r.cancelled) return a.ping(false);
    a.ping(r.ok);
    if (r.ok) {
      if (prev?.state === 'failed') a.notify(target, 'recovery', kind, `${kind} succeeded again after failures`);
      return;
    }
    if (r.damage !== undefined) {
      // the same damage found by the previous run was alerted then: an hourly cron check does not repeat it
      const same = prev?.state === 'failed' && prev.healthy === false && (prev.findings ?? []).join() === (r.outcome?.findings ?? []).join() && r.outcome?.healthy === false;
      if (!same) a.notify(target, 'damage', kind, r.damage);
      return;
    }
    a.notify(target, 'failure', kind, `${kind} failed: ${r.error?.message ?? 'unknown error'}`);
  }

  /** Waits for alert deliveries still in flight, at most `timeoutMs` (default 10 s). */
  async flush(timeoutMs = CLI_ALERT_TIMEOUT_MS): Promise<void> {
    await this.alerter?.flush(timeoutMs);
  }
}
