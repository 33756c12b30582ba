import { prune } from '../../ops/prune';
import type { CliContext } from '../context';
import { intOption, waitOption } from '../parse';
import { recorded } from '../runs';
import { selectTargets } from '../../config/targets';

/** `dbguard prune <targets> [--keep N] [--keep-daily D --keep-weekly W --keep-monthly M] [--dry-run]`. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { keep?: string; keepDaily?: string; keepWeekly?: string; keepMonthly?: string; dryRun?: boolean; wait?: string }): Promise<number> {
  const pruneOpts = {
    keep: intOption('--keep', opts.keep, 1),
    daily: intOption('--keep-daily', opts.keepDaily),
    weekly: intOption('--keep-weekly', opts.keepWeekly),
    monthly: intOption('--keep-monthly', opts.keepMonthly),
    dryRun: opts.dryRun,
    waitMs: waitOption(opts.wait),
    env: ctx.env,
  };
  // a dry run changes nothing: it is not a run worth recording or alerting
  const names = opts.dryRun ? [] : selectTargets(ctx.config(), selector, ctx.env.ENVIRONMENT);
  const results = await recorded(ctx, 'prune', names, () => prune(ctx.config(), selector, pruneOpts), () => ({ ok: true }));
  if (ctx.opts.json) {
    ctx.printJson({ ok: true, dryRun: Boolean(opts.dryRun), targets: results });
    return 0;
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
  return 0;
}
