import type { Config } from '../config/load';
import { IntegrityError, InterruptedError, UsageError } from '../core/errors';
import type { Logger } from '../core/types';
import type { ProgressFn } from '../ops/progress';
import { verifyTargets } from '../ops/verify';
import type { BackupRepository } from '../storage/repository';
import type { Schedule } from '../core/schedule';
import type { Alerter } from './alerts';
import { drillOverdue } from './drills';
import { withOutcome } from './runner';


/**
 * A restore drill: the newest valid backup of `target` re-verified in full,
 * as `verify` does (checksum, open and full read in a separate process, row
 * counts, fingerprints); success records `verifiedAt` in its manifest (the
 * "last proven restorable" time). A damaged backup is reported to `onDamage`
 * and thrown as IntegrityError `drill-failed`; no backup at all is a
 * UsageError `no-backups`; a stop is InterruptedError.
 */
export async function restoreDrill(config: Config, target: string, opts: { signal: AbortSignal; onProgress?: ProgressFn; onDamage(message: string): void }): Promise<{ backupId?: string }> {
  const results = await verifyTargets(config, target, { latest: true }, { signal: opts.signal, onProgress: opts.onProgress, readData: true });
  if (opts.signal.aborted) throw new InterruptedError(`restore drill of ${target} cancelled`);
  const backupId = results[0]?.id || undefined;
  const bad = results.filter((r) => !r.ok);
  if (!bad.length) return { backupId };
  const message = bad.flatMap((r) => r.findings.map((f) => f.message)).join('; ');
  if (bad.every((r) => r.findings.every((f) => f.code === 'no-backups'))) {
    throw withOutcome(new UsageError(`restore drill of ${target}: ${message}`, `take one with dbguard backup ${target}`, 'no-backups'), { backupId });
  }
  opts.onDamage(`restore drill failed: ${message}`);
  throw withOutcome(new IntegrityError(`restore drill of ${target} failed: ${message}`, `run dbguard verify ${target} --all, then dbguard backup ${target}`, 'drill-failed'), { backupId });
}

/**
 * Watches restore-drill deadlines: `check` alerts `drill-overdue` once per
 * target whose drill is overdue (none succeeded for two `schedule.verify`
 * periods), again only after a drill succeeded (`proven`) or the deadline was
 * met meanwhile. Never throws: a backup folder that cannot be listed is logged.
 */
export class DrillWatch {
  private readonly alerted = new Set<string>();

  constructor(private readonly repo: BackupRepository, private readonly alerter: Alerter, private readonly log: Logger) {}

  check(schedules: Map<string, { verify: Schedule }>, now: Date, since: Date): void {
    for (const [target, sched] of schedules) {
      let overdue: boolean;
      try {
        overdue = drillOverdue(this.repo.list(target), sched.verify.periodMs(now), now, since);
      } catch (err) {
        this.log.warn({ target, error: (err as Error).message }, 'could not list backups for the drill deadline');
        continue;
      }
      if (!overdue) { this.alerted.delete(target); continue; }
      if (this.alerted.has(target)) continue;
      this.alerted.add(target);
      this.alerter.notify(target, 'drill-overdue', 'verify', `no restore drill proved a backup of ${target} restorable for two schedule.verify periods; run dbguard verify ${target}`);
    }
  }

  /** A drill of `target` succeeded: a later deadline is alerted again. */
  proven(target: string): void {
    this.alerted.delete(target);
  }
}
