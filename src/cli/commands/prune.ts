import { ExitCode } from '../../core/exit-codes';
import { prune } from '../../ops/prune';
import type { CliContext } from '../context';
import { intOption, waitOption } from '../parse';

/** `dbguard prune <targets> [--keep N] [--keep-daily D --keep-weekly W --keep-monthly M] [--dry-run]`. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { keep?: string; keepDaily?: string; keepWeekly?: string; keepMonthly?: string; dryRun?: boolean; wait?: string }): Promise<number> {
  const results = await prune(ctx.config(), selector, {
    keep: intOption('--keep', opts.keep, 1),
    daily: intOption('--keep-daily', opts.keepDaily),
    weekly: intOption('--keep-weekly', opts.keepWeekly),
    monthly: intOption('--keep-monthly', opts.keepMonthly),
    dryRun: opts.dryRun,
    waitMs: waitOption(opts.wait),
    env: ctx.env,
  });
  if (ctx.opts.json) {
    ctx.printJson({ ok: true, dryRun: Boolean(opts.dryRun), targets: results });
    return ExitCode.ok;
  }
  const c = ctx.out;
  for (const r of results) {
    const p = r.policy;
    ctx.print(`${c.bold(r.target)}  keep ${p.keep}${p.daily ? `, daily ${p.daily}` : ''}${p.weekly ? `, weekly ${p.weekly}` : ''}${p.monthly ? `, monthly ${p.monthly}` : ''}`);
    for (const k of r.kept) ctx.print(`  keep    ${k.id}  ${c.dim(k.reason)}`);
    for (const k of r.removed) ctx.print(`  ${r.dryRun ? c.yellow('would remove') : c.red('removed')} ${k.id}  ${c.dim(k.reason)}`);
    ctx.print(r.removed.length ? `  ${r.removed.length} ${r.dryRun ? 'would be removed (dry run: nothing deleted)' : 'removed'}\n` : '  nothing to prune\n');
  }
  for (const r of results) ctx.log().info({ target: r.target, removed: r.removed.map((x) => x.id), dryRun: r.dryRun }, 'prune finished');
  return ExitCode.ok;
}
