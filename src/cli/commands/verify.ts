import { ExitCode } from '../../core/exit-codes';
import { UsageError } from '../../core/errors';
import { verifyTargets, type Which } from '../../ops/verify';
import { verifyRemote } from '../../ops/remote-restore';
import { withRemoteStore } from '../../ops/remote-store';
import type { CliContext } from '../context';
import { formatDuration } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { printFindings } from './findings-view';
import { recorded } from '../runs';
import { selectTargets } from '../../config/targets';

/** `dbguard verify <targets> [--latest|--all|--id ID]`: exit 0 when every verified backup passes, 4 otherwise. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { latest?: boolean; all?: boolean; id?: string; wait?: string; readData?: boolean; remote?: boolean }): Promise<number> {
  if ([opts.latest, opts.all, opts.id !== undefined].filter(Boolean).length > 1) throw new UsageError('choose one of --latest, --all and --id', 'e.g. dbguard verify production --all');
  const which: Which = opts.all ? { all: true } : opts.id !== undefined ? { id: opts.id } : { latest: true };
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let results;
  try {
    const waitMs = waitOption(opts.wait);
    const names = selectTargets(ctx.config(), selector, ctx.env.ENVIRONMENT);
    results = await recorded(ctx, 'verify', names, () => (opts.remote
      ? withRemoteStore(ctx.config(), ctx.env, { signal: ctx.signal }, (s) => verifyRemote(s, ctx.config(), selector, which, { signal: ctx.signal, onProgress: bar.onProgress, env: ctx.env, readData: opts.readData }))
      : verifyTargets(ctx.config(), selector, which, { signal: ctx.signal, onProgress: bar.onProgress, waitMs, env: ctx.env, readData: opts.readData })), (all, target) => {
      const mine = all.filter((r) => r.target === target);
      const bad = mine.filter((r) => !r.ok);
      const backupId = mine[0]?.id || undefined;
      if (!bad.length) return { ok: true, outcome: { backupId } };
      const message = bad.flatMap((r) => r.findings.map((f) => f.message)).join('; ');
      const noBackup = bad.every((r) => r.findings.every((f) => f.code === 'no-backups'));
      return { ok: false, damage: noBackup ? undefined : message, error: { code: noBackup ? 'no-backups' : 'verify-failed', exitCode: ExitCode.integrity, message }, outcome: { backupId } };
    });
  } finally {
    bar.stop();
  }
  const ok = results.every((r) => r.ok);
  if (ctx.opts.json) {
    ctx.printJson({ ok, results });
  } else {
    const c = ctx.out;
    for (const r of results) {
      const where = r.location && r.location !== 'plain' ? c.dim(`  (${r.location})`) : '';
      ctx.print(`${c.bold(r.target)}  ${r.id || '(none)'}${where}  ${r.ok ? c.green('verified') : c.red('FAILED')}${r.durationMs ? c.dim(`  in ${formatDuration(r.durationMs)}`) : ''}`);
      printFindings(ctx, r.findings);
    }
  }
  for (const r of results) ctx.log().info({ target: r.target, id: r.id, ok: r.ok, findings: r.findings.map((f) => f.code) }, 'verify finished');
  return ok ? ExitCode.ok : ExitCode.integrity;
}
