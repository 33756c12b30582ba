import { ExitCode } from '../../core/exit-codes';
import { selectOneTarget } from '../../config/targets';
import { UsageError } from '../../core/errors';
import { repair, type Strategy } from '../../ops/repair';
import type { CliContext } from '../context';
import { confirm } from '../confirm';
import { formatCount } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { recorded } from '../runs';

const STRATEGIES = ['auto', 'salvage', 'restore', 'recreate'];

/** `dbguard repair <target> [--strategy auto|salvage|restore|recreate] [--dry-run] [--yes]`. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { strategy?: string; dryRun?: boolean; wait?: string }): Promise<number> {
  const strategy = (opts.strategy ?? 'auto') as Strategy;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')} (got "${opts.strategy}")`, 'auto is right unless you know better');
  const config = ctx.config();
  const target = selectOneTarget(config, selector, ctx.env);
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let r;
  try {
    r = await recorded(ctx, 'repair', opts.dryRun ? [] : [target], () => repair(config, target, {
      strategy, dryRun: opts.dryRun, waitMs: waitOption(opts.wait), signal: ctx.signal, onProgress: bar.onProgress, log: ctx.log(),
      confirm: async (damage) => {
        bar.stop();
        ctx.note(`${target} is damaged:\n${damage.map((d) => `  - ${d}`).join('\n')}`);
        return confirm(ctx, strategy === 'recreate'
          ? `Recreate ${target} EMPTY (schema only)? All its data is lost; the damaged file moves to quarantine.`
          : `Move the damaged file to quarantine and repair it (strategy ${strategy})?`);
      },
    }), (x) => {
      const repaired = x.strategy !== 'none'
        ? `repaired by ${x.strategy}${x.details.restoredFrom ? ` from ${x.details.restoredFrom}` : ''}; damaged file in ${x.quarantine}${x.details.notes.length ? `; ${x.details.notes.join('; ')}` : ''}`
        : undefined;
      if (x.ok) return { ok: true, repaired };
      const message = `${target} is still damaged: ${x.details.damage.join('; ') || 'repair could not recover it'}`;
      return { ok: false, repaired, damage: message, error: { code: 'damaged', exitCode: ExitCode.integrity, message } };
    });
  } finally {
    bar.stop();
  }
  if (ctx.opts.json) {
    ctx.printJson({ ok: r.ok, target: r.target, strategy: r.strategy, quarantine: r.quarantine, path: r.path, dryRun: r.dryRun, details: r.details, after: r.after ? { ok: r.after.ok, findings: r.after.findings, tables: r.after.tables } : null });
    return r.ok ? ExitCode.ok : ExitCode.integrity;
  }
  const c = ctx.out;
  if (r.strategy === 'none') {
    ctx.print(r.ok ? `${target}: ${c.green('healthy')}, nothing to repair` : `${target}: damaged:\n${r.details.damage.map((d) => `  - ${d}`).join('\n')}`);
    for (const n of r.details.notes) ctx.print(`  ${n}`);
    return r.ok ? ExitCode.ok : ExitCode.integrity;
  }
  ctx.print(`${c.bold(target)}: repaired by ${c.bold(r.strategy)}${r.details.restoredFrom ? ` from backup ${r.details.restoredFrom}` : ''}`);
  ctx.print(`  damage found: ${r.details.damage.join('; ')}`);
  ctx.print(`  quarantine:   ${r.quarantine} (the damaged file, never deleted)`);
  const s = r.details.salvage;
  if (s && s.tables.length) {
    for (const t of s.tables) {
      const lostRows = t.lost.filter((l) => l.rowsLost).reduce((n, l) => n + l.rows, 0);
      const nulled = t.lost.filter((l) => !l.rowsLost);
      ctx.print(`  salvage ${t.schema === 'main' ? t.name : `${t.schema}.${t.name}`}: ${formatCount(t.copiedRows)} of ${t.sourceRows === null ? '?' : formatCount(t.sourceRows)} rows${lostRows ? c.red(`, ${formatCount(lostRows)} rows lost`) : ''}${nulled.length ? c.yellow(`, values of ${[...new Set(nulled.flatMap((l) => l.columns))].join(', ')} unreadable in ${formatCount(nulled.reduce((n, l) => n + l.rows, 0))} rows`) : ''}`);
    }
  }
  for (const n of r.details.notes) ctx.print(`  ${n.startsWith('DATA IS GONE') ? c.red(n) : n}`);
  ctx.print(`  after repair: ${r.ok ? c.green('healthy') : c.red('still damaged')}`);
  return r.ok ? ExitCode.ok : ExitCode.integrity;
}
