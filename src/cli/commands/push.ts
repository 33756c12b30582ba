import { selectTargets } from '../../config/targets';
import { ExitCode } from '../../core/exit-codes';
import { push, type PushResult } from '../../ops/push';
import type { CliContext } from '../context';
import { formatBytes, table } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { recorded } from '../runs';

/** The exit code of push results: the first failed target's, else 0. */
export function pushExitCode(results: PushResult[]): number {
  return results.find((r) => !r.ok)?.error?.exitCode ?? ExitCode.ok;
}

/** Prints push results (human) and their errors on stderr. */
export function printPush(ctx: CliContext, results: PushResult[]): void {
  const rows = results.map((r) => [r.target, r.ok ? ctx.out.green('ok') : ctx.out.red('FAILED'), String(r.pushed.length), String(r.alreadyThere), formatBytes(r.bytesUploaded), String(r.blocksReused), r.newestRemote?.id ?? '-']);
  ctx.print(table(['TARGET', 'PUSH', 'PUSHED', 'ALREADY THERE', 'UPLOADED', 'BLOCKS REUSED', 'NEWEST OFF-SITE'], rows, [2, 3, 4, 5]));
  for (const r of results) {
    for (const p of r.pushed) ctx.print(`  ${r.target}: pushed ${p.id} (${formatBytes(p.bytes)}; ${formatBytes(p.newBytes)} of new blocks, ${p.reusedBlocks} block(s) already off-site)`);
    if (r.error && !ctx.opts.json && !ctx.opts.quiet) process.stderr.write(`dbguard: error: ${r.target}: ${r.error.message}\n  hint: ${r.error.hint}\n`);
    else if (r.error && ctx.opts.quiet) process.stderr.write(`dbguard: error: ${r.target}: ${r.error.message}\n`);
  }
}

/** Pushes, recorded as one `push` run per target in the job history. Shared by `push` and `backup` with remote.auto. */
export async function recordedPush(ctx: CliContext, selector: string | undefined, opts: { waitMs?: number; only?: string[] } = {}): Promise<PushResult[]> {
  const names = selectTargets(ctx.config(), selector, ctx.env.ENVIRONMENT);
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  try {
    return await recorded(ctx, 'push', names, () => push(ctx.config(), selector, { env: ctx.env, signal: ctx.signal, onProgress: bar.onProgress, waitMs: opts.waitMs, only: opts.only }), (results, target) => {
      const r = results.find((x) => x.target === target);
      if (!r || r.ok) return { ok: true, outcome: { backupId: r?.newestRemote?.id, bytes: r?.bytesUploaded ?? 0 } };
      return { ok: false, error: { code: 'push-failed', exitCode: r.error!.exitCode, message: r.error!.message }, outcome: { bytes: r.bytesUploaded } };
    });
  } finally {
    bar.stop();
  }
}

/** `dbguard push [targets] [--wait D]`: copies the valid local backups the remote lacks into the remote store. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { wait?: string }): Promise<number> {
  const results = await recordedPush(ctx, selector, { waitMs: waitOption(opts.wait) });
  const code = pushExitCode(results);
  if (ctx.opts.json) {
    ctx.printJson({ ok: code === ExitCode.ok, targets: results });
    const failed = results.find((r) => !r.ok);
    if (failed?.error) process.stderr.write(`${JSON.stringify({ error: { code: 'push-failed', exitCode: failed.error.exitCode, message: failed.error.message, hint: failed.error.hint, target: failed.target } })}\n`);
    return code;
  }
  printPush(ctx, results);
  return code;
}
