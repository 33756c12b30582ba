import { ExitCode } from '../../core/exit-codes';
import { UsageError } from '../../core/errors';
import { migrateStore } from '../../ops/migrate-store';
import type { CliContext } from '../context';
import { waitOption } from '../parse';

/** `dbguard migrate-store <targets> [--to blocks|files] [--dry-run]`: plain backups into the store, or back. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { to?: string; dryRun?: boolean; wait?: string }): Promise<number> {
  const to = opts.to ?? 'blocks';
  if (to !== 'blocks' && to !== 'files') throw new UsageError(`--to must be "blocks" (into the store) or "files" (back to plain files), got "${to}"`, 'e.g. dbguard migrate-store production --to blocks', 'bad-option');
  const results = await migrateStore(ctx.config(), selector, { to, dryRun: opts.dryRun, waitMs: waitOption(opts.wait), signal: ctx.signal, log: ctx.log(), env: ctx.env });
  if (ctx.opts.json) {
    ctx.printJson({ ok: true, to, dryRun: Boolean(opts.dryRun), targets: results });
    return ExitCode.ok;
  }
  const c = ctx.out;
  for (const r of results) {
    ctx.print(c.bold(r.target));
    for (const x of r.converted) ctx.print(`  ${r.dryRun ? 'would move' : 'moved'}  ${x.id}  ${x.from} → ${x.to}`);
    for (const x of r.skipped) ctx.print(`  ${c.yellow('skipped')}  ${x.id}  ${c.dim(x.reason)}`);
    if (!r.converted.length && !r.skipped.length) ctx.print(`  nothing to convert: every backup is already ${to === 'blocks' ? 'in the store' : 'a plain file'}`);
    ctx.print('');
  }
  if (to === 'files' && !opts.dryRun && results.some((r) => r.converted.length)) ctx.print('the store\'s packs are freed by the next dbguard prune');
  return ExitCode.ok;
}
