import { ExitCode } from '../../core/exit-codes';
import { prune, removalError } from '../../ops/prune';
import { pruneRemote } from '../../ops/remote-prune';
import { withRemoteStore } from '../../ops/remote-store';
import { collectLocalStore } from '../../ops/store-gc';
import type { CliContext } from '../context';
import type { CollectResult } from '../../storage/store';
import { formatBytes } from '../format';
import { intOption, waitOption } from '../parse';
import { recorded } from '../runs';
import { selectTargets } from '../../config/targets';

/** `dbguard prune <targets> [--keep N] [--keep-daily D --keep-weekly W --keep-monthly M] [--dry-run]`. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { keep?: string; keepDaily?: string; keepWeekly?: string; keepMonthly?: string; dryRun?: boolean; wait?: string; remote?: boolean }): Promise<number> {
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
  // retention first (under each target's lock), then the store's GC frees what no backup needs
  const { results, store } = await recorded(ctx, 'prune', names, async () => {
    if (opts.remote) {
      const r = await withRemoteStore(ctx.config(), ctx.env, { signal: ctx.signal }, (s) => pruneRemote(s, ctx.config(), selector, { ...pruneOpts, signal: ctx.signal }));
      return { results: r.results, store: r.collect };
    }
    const results = await prune(ctx.config(), selector, pruneOpts);
    return { results, store: await collectLocalStore(ctx.config(), { dryRun: opts.dryRun, waitMs: pruneOpts.waitMs, signal: ctx.signal }) };
  }, ({ results: all }, target) => {
    const failed = all.find((x) => x.target === target)?.failed ?? [];
    if (!failed.length) return { ok: true };
    const e = removalError(target, failed, 'prune');
    return { ok: false, error: { code: e.code, exitCode: e.exitCode, message: e.message } };
  });
  // Backups the plan dropped but that could not be deleted: exit 6, each file named.
  const errors = results.filter((r) => r.failed.length).map((r) => removalError(r.target, r.failed, 'prune'));
  for (const r of results) ctx.log().info({ target: r.target, removed: r.removed.map((x) => x.id), failed: r.failed, dryRun: r.dryRun }, 'prune finished');
  if (store) ctx.log().info({ store, dryRun: Boolean(opts.dryRun) }, 'store collected');
  if (ctx.opts.json) {
    ctx.printJson({ ok: errors.length === 0, dryRun: Boolean(opts.dryRun), targets: results, ...(store ? { [opts.remote ? 'remote' : 'store']: store } : {}) });
    const first = errors[0];
    if (first) process.stderr.write(`${JSON.stringify({ error: { code: first.code, exitCode: first.exitCode, message: first.message, hint: first.hint } })}\n`);
    return errors.length ? ExitCode.storage : ExitCode.ok;
  }
  const c = ctx.out;
  for (const r of results) {
    const p = r.policy;
    ctx.print(`${c.bold(r.target)}  keep ${p.keep}${p.daily ? `, daily ${p.daily}` : ''}${p.weekly ? `, weekly ${p.weekly}` : ''}${p.monthly ? `, monthly ${p.monthly}` : ''}`);
    for (const k of r.kept) ctx.print(`  keep    ${k.id}  ${c.dim(k.reason)}`);
    for (const k of r.removed) ctx.print(`  ${r.dryRun ? c.yellow('would remove') : c.red('removed')} ${k.id}  ${c.dim(k.reason)}`);
    for (const k of r.failed) ctx.print(`  ${c.red('NOT REMOVED')} ${k.id}  ${c.dim(`${k.file}: ${k.error}`)}`);
    if (r.failed.length) ctx.print(`  ${r.removed.length} removed, ${r.failed.length} could not be removed\n`);
    else ctx.print(r.removed.length ? `  ${r.removed.length} ${r.dryRun ? 'would be removed (dry run: nothing deleted)' : 'removed'}\n` : '  nothing to prune\n');
  }
  if (store) ctx.print(`${opts.remote ? 'remote ' : ''}${collectLine(store, Boolean(opts.dryRun))}`);
  for (const e of errors) process.stderr.write(`dbguard: error: ${e.message}\n  hint: ${e.hint}\n`);
  return errors.length ? ExitCode.storage : ExitCode.ok;
}

/** One line on what the store's GC did (or would do). */
function collectLine(r: CollectResult, dryRun: boolean): string {
  return `store  ${dryRun ? 'would remove' : 'removed'} ${r.deletedPacks.length} unreferenced pack(s), ${dryRun ? 'would repack' : 'repacked'} ${r.repackedPacks.length} pack(s)${dryRun ? '' : `, ${formatBytes(Math.max(0, r.freedBytes))} freed`}${r.problems.length ? `; left alone: ${r.problems.join('; ')}` : ''}\n`;
}
