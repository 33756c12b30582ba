import { ExitCode } from '../../core/exit-codes';
import { UsageError } from '../../core/errors';
import { verifyTargets, type Which } from '../../ops/verify';
import type { CliContext } from '../context';
import { formatDuration } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { printFindings } from './findings-view';

/** `dbguard verify <targets> [--latest|--all|--id ID]`: exit 0 when every verified backup passes, 4 otherwise. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { latest?: boolean; all?: boolean; id?: string; wait?: string }): Promise<number> {
  if ([opts.latest, opts.all, opts.id !== undefined].filter(Boolean).length > 1) throw new UsageError('choose one of --latest, --all and --id', 'e.g. dbguard verify production --all');
  const which: Which = opts.all ? { all: true } : opts.id !== undefined ? { id: opts.id } : { latest: true };
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let results;
  try {
    results = await verifyTargets(ctx.config(), selector, which, { signal: ctx.signal, onProgress: bar.onProgress, waitMs: waitOption(opts.wait), env: ctx.env });
  } finally {
    bar.stop();
  }
  const ok = results.every((r) => r.ok);
  if (ctx.opts.json) {
    ctx.printJson({ ok, results });
  } else {
    const c = ctx.out;
    for (const r of results) {
      ctx.print(`${c.bold(r.target)}  ${r.id || '(none)'}  ${r.ok ? c.green('verified') : c.red('FAILED')}${r.durationMs ? c.dim(`  in ${formatDuration(r.durationMs)}`) : ''}`);
      printFindings(ctx, r.findings);
    }
  }
  for (const r of results) ctx.log().info({ target: r.target, id: r.id, ok: r.ok, findings: r.findings.map((f) => f.code) }, 'verify finished');
  return ok ? ExitCode.ok : ExitCode.integrity;
}
