import { ExitCode } from '../../core/exit-codes';
import { preUpdate } from '../../ops/pre-update';
import type { CliContext } from '../context';
import { table } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { recorded } from '../runs';
import { selectTargets } from '../../config/targets';

/** `dbguard pre-update [targets]` (default both): exit 0 when every target ends healthy with a fresh backup, else 4 (5 when only busy). */
export async function run(ctx: CliContext, selector: string | undefined, opts: { wait?: string }): Promise<number> {
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let results;
  try {
    const waitMs = waitOption(opts.wait);
    const names = selectTargets(ctx.config(), selector ?? 'both', ctx.env.ENVIRONMENT);
    results = await recorded(ctx, 'pre-update', names, () => preUpdate(ctx.config(), selector, { waitMs, signal: ctx.signal, onProgress: bar.onProgress, log: ctx.log(), env: ctx.env }), (all, target) => {
      const r = all.find((x) => x.target === target);
      const repaired = r?.repair && r.repair.strategy !== 'none' ? `repaired by ${r.repair.strategy}${r.repair.details.restoredFrom ? ` from ${r.repair.details.restoredFrom}` : ''}; damaged file in ${r.repair.quarantine}` : undefined;
      if (r?.ok) return { ok: true, repaired, outcome: r.backup ? { backupId: r.backup.id } : undefined };
      const error = r?.error ? { code: r.error.code, exitCode: r.error.exitCode, message: r.error.message } : { code: 'not-safe', exitCode: ExitCode.integrity, message: `${target} did not end healthy with a fresh backup` };
      return { ok: false, repaired, cancelled: error.exitCode === ExitCode.interrupted, damage: error.exitCode === ExitCode.integrity ? error.message : undefined, error };
    });
  } finally {
    bar.stop();
  }
  const ok = results.every((r) => r.ok);
  if (ctx.opts.json) {
    ctx.printJson({ ok, targets: results });
  } else {
    const c = ctx.out;
    const rows = results.map((r) => [
      r.target,
      r.healthyBefore ? 'healthy' : c.red('damaged'),
      r.repair ? `${r.repair.strategy}${r.repair.details.restoredFrom ? ` from ${r.repair.details.restoredFrom}` : ''}` : '-',
      r.backup ? r.backup.id : '-',
      r.ok ? c.green('ok') : c.red('FAILED'),
    ]);
    ctx.print(table(['TARGET', 'BEFORE', 'REPAIR', 'BACKUP', 'RESULT'], rows));
    for (const r of results) {
      if (r.error) ctx.print(`${r.target}: ${c.red('error')} ${r.error.message.startsWith(`${r.target}: `) ? r.error.message.slice(r.target.length + 2) : r.error.message}\n  → ${r.error.hint}`);
      if (r.repair?.quarantine) ctx.print(`${r.target}: the damaged file is in ${r.repair.quarantine}`);
      for (const n of r.repair?.details.notes ?? []) ctx.print(`${r.target}: ${n}`);
    }
    ctx.print(ok ? c.green('\npre-update: all targets healthy and backed up; safe to deploy') : c.red('\npre-update: NOT safe to deploy (see above)'));
  }
  if (ok) return ExitCode.ok;
  const interrupted = results.find((r) => r.error?.exitCode === ExitCode.interrupted);
  if (interrupted) return ExitCode.interrupted;
  return results.every((r) => r.ok || r.error?.exitCode === ExitCode.busy) ? ExitCode.busy : ExitCode.integrity;
}
