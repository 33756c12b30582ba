import { randomUUID } from 'node:crypto';
import { DbguardError, InterruptedError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { backoffDelay } from '../core/retry';
import type { Logger } from '../core/types';
import { silentLogger } from '../core/types';
import type { JobHistory, JobKind, JobRecord } from './history';

export interface JobOutcome {
  backupId?: string;
  consistency?: 'locked' | 'live';
  attempts?: number;
  bytes?: number;
  rows?: number;
  healthy?: boolean;
  findings?: string[];
}

/** An error that carries what the run found, so the history records it with the failure. */
export const withOutcome = <E extends Error>(err: E, outcome: JobOutcome) => Object.assign(err, { outcome });

export type JobFn = (signal: AbortSignal, attempt: number) => Promise<JobOutcome>;

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  factor: number;
  maxDelayMs: number;
}

/** Busy (exit 5) and storage (exit 6) conditions pass; damage and bugs do not get better by waiting. */
export const isRetryable = (err: unknown) => err instanceof DbguardError && (err.exitCode === ExitCode.busy || err.exitCode === ExitCode.storage);

interface Running {
  target: string;
  kind: JobKind;
  controller: AbortController;
  done: Promise<JobRecord>;
}

/**
 * Runs daemon jobs: one at a time per target (a trigger for a target+kind
 * already queued or running is skipped, so runs never overlap), at most
 * `concurrency` targets at once, with retries and exponential backoff for
 * retryable failures. Every state change goes to the job history. Never
 * throws: the outcome is the final record.
 */
export class JobRunner {
  private chains = new Map<string, Promise<unknown>>();
  private queued = new Set<string>();
  private running = new Set<Running>();
  private slots: number;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly history: JobHistory,
    private readonly retry: RetryPolicy,
    concurrency: number,
    private readonly log: Logger = silentLogger,
    private readonly onFinished: (record: JobRecord, error?: unknown) => void = () => {},
  ) {
    this.slots = concurrency;
  }

  get active(): number {
    return this.running.size;
  }

  /** True while a run of `target` and `kind` is queued or running. */
  isQueued(target: string, kind: JobKind): boolean {
    return this.queued.has(`${target}:${kind}`);
  }

  /** Queues a run; resolves with its final record, or undefined when skipped as a duplicate. */
  submit(target: string, kind: JobKind, reason: string, fn: JobFn): Promise<JobRecord | undefined> {
    const key = `${target}:${kind}`;
    if (this.queued.has(key)) {
      this.log.info({ target, kind, reason }, 'skipped: the previous run of this target is still queued or running');
      return Promise.resolve(undefined);
    }
    this.queued.add(key);
    const id = randomUUID();
    const base = { id, target, kind, reason, source: 'daemon' as const };
    this.record({ ...base, state: 'pending', attempt: 0, at: new Date().toISOString() });
    const prev = this.chains.get(target) ?? Promise.resolve();
    const run = prev.then(async () => {
      await this.acquire();
      if (this.closed) {
        this.queued.delete(key);
        this.release();
        const rec: JobRecord = { ...base, state: 'cancelled', attempt: 0, at: new Date().toISOString() };
        this.record(rec);
        return rec;
      }
      const controller = new AbortController();
      const entry: Running = { target, kind, controller, done: undefined as unknown as Promise<JobRecord> };
      this.running.add(entry);
      try {
        entry.done = this.execute(base, fn, controller.signal);
        return await entry.done;
      } finally {
        this.running.delete(entry);
        this.queued.delete(key);
        this.release();
      }
    });
    this.chains.set(target, run.catch(() => undefined));
    return run;
  }

  /** Appends to the history; a failed write (disk full, folder gone) is logged, never thrown into a run. */
  private record(rec: JobRecord): void {
    try {
      this.history.append(rec);
    } catch (err) {
      this.log.error({ target: rec.target, kind: rec.kind, state: rec.state, error: (err as Error).message }, 'could not write the job history');
    }
  }

  /** Tells the listener about a finished run; what it throws is logged, never turned into a failure or a retry. */
  private finish(rec: JobRecord, err?: unknown): JobRecord {
    try {
      this.onFinished(rec, err);
    } catch (e) {
      this.log.error({ target: rec.target, kind: rec.kind, error: (e as Error).message }, 'after-run handling failed');
    }
    return rec;
  }

  private async execute(base: { id: string; target: string; kind: JobKind; reason: string; source: 'daemon' }, fn: JobFn, signal: AbortSignal): Promise<JobRecord> {
    const startedAt = new Date();
    const write = (r: Omit<JobRecord, 'id' | 'target' | 'kind' | 'at'>) => {
      const rec: JobRecord = { ...base, ...r, at: new Date().toISOString() };
      this.record(rec);
      return rec;
    };
    for (let attempt = 1; ; attempt++) {
      write({ state: 'running', attempt, startedAt: startedAt.toISOString() });
      let outcome: JobOutcome;
      try {
        outcome = await fn(signal, attempt);
      } catch (err) {
        const e = err instanceof DbguardError ? err : undefined;
        const error = { code: e?.code ?? 'internal', exitCode: e?.exitCode ?? ExitCode.internal, message: (err as Error)?.message ?? String(err) };
        const extra = (err as { outcome?: JobOutcome } | undefined)?.outcome ?? {};
        const cancelled = signal.aborted || err instanceof InterruptedError;
        if (!cancelled && isRetryable(err) && attempt < this.retry.attempts) {
          const delay = backoffDelay(attempt, this.retry.baseDelayMs, this.retry.factor, this.retry.maxDelayMs);
          write({ state: 'retrying', attempt, startedAt: startedAt.toISOString(), error, ...extra });
          this.log.warn({ target: base.target, kind: base.kind, attempt, delayMs: delay, error: error.message }, 'run failed, retrying');
          await new Promise<void>((resolve) => {
            const onAbort = () => { clearTimeout(t); resolve(); };
            const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, delay);
            signal.addEventListener('abort', onAbort, { once: true });
          });
          if (!signal.aborted) continue;
        }
        const rec = write({ state: signal.aborted || cancelled ? 'cancelled' : 'failed', attempt, startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(), durationMs: Date.now() - startedAt.getTime(), error, ...extra });
        return this.finish(rec, err);
      }
      const rec = write({ state: 'succeeded', attempt, startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(), durationMs: Date.now() - startedAt.getTime(), ...outcome });
      return this.finish(rec);
    }
  }

  private acquire(): Promise<void> {
    if (this.slots > 0) { this.slots--; return Promise.resolve(); }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.slots++;
  }

  /** Stops starting queued jobs (they are recorded as cancelled); running ones go on. */
  close(): void {
    this.closed = true;
  }

  /** Waits for running jobs up to `timeoutMs`; true when none is left running. */
  async drain(timeoutMs: number): Promise<boolean> {
    const all = Promise.all([...this.running].map((r) => r.done));
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref())]);
    return !timedOut && this.running.size === 0;
  }

  /** Aborts every running job (each cleans up its temporary files and lock) and waits for them. */
  async cancelAll(): Promise<void> {
    for (const r of this.running) r.controller.abort();
    await Promise.all([...this.running].map((r) => r.done.catch(() => undefined)));
  }
}
