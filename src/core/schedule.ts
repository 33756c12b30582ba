import { Cron } from 'croner';

/** croner's timezone option: undefined for the machine's local time. */
export const tzOption = (timezone: string) => (timezone === 'local' ? undefined : timezone);

/** Throws croner's message when `expr` is not a 5- or 6-field cron expression or `timezone` is unknown. */
export function validateCron(expr: string, timezone = 'local'): void {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw new Error('needs 5 fields (minute hour day month weekday) or 6 with seconds first');
  new Cron(expr, { paused: true, timezone: tzOption(timezone) }).stop();
}

/** A schedule that can be asked about its runs without arming any timer. */
export class Schedule {
  private readonly cron: Cron;
  constructor(readonly expr: string, readonly timezone: string) {
    this.cron = new Cron(expr, { paused: true, timezone: tzOption(timezone) });
  }
  /** The next run strictly after `from`, or null when the pattern never fires again. */
  next(from: Date): Date | null {
    return this.cron.nextRun(from);
  }
  /** The latest run at or before `at`, or null. */
  previous(at: Date): Date | null {
    return this.cron.previousRuns(1, at)[0] ?? null;
  }
  /** Time between the run before `at` and the one after it: the schedule's period around `at`. */
  periodMs(at: Date): number {
    const prev = this.previous(at);
    const [a, b] = this.cron.nextRuns(2, prev ?? at);
    if (prev && a) return a.getTime() - prev.getTime();
    if (a && b) return b.getTime() - a.getTime();
    return 24 * 3600 * 1000;
  }
  dispose(): void {
    this.cron.stop();
  }
}
