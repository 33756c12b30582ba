import { ExitCode } from '../../core/exit-codes';
import { engineNamed } from '../../engines/registry';
import { checkTargets } from '../../ops/check-targets';
import type { TargetCheck } from '../../ops/check';
import type { CliContext } from '../context';
import { formatBytes, formatCount, formatDuration, table } from '../format';
import { progressBar } from '../progress-bar';
import { recorded } from '../runs';
import { selectTargets } from '../../config/targets';
import { printFindings } from './findings-view';

/** `dbguard check <targets> [--quick]`: exit 0 healthy, 4 damaged or missing, 5 busy. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { quick?: boolean; full?: boolean }): Promise<number> {
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let results: TargetCheck[];
  try {
    const names = selectTargets(ctx.config(), selector, ctx.env.ENVIRONMENT);
    results = await recorded(ctx, 'check', names, () => checkTargets(ctx.config(), selector, { quick: opts.quick, full: opts.full, onProgress: bar.onProgress, env: ctx.env }), (all, target) => {
      const r = all.find((x) => x.target === target);
      if (!r) return { ok: false, error: { code: 'internal', exitCode: ExitCode.internal, message: `no check result for ${target}` } };
      const findings = r.findings.map((f) => f.code);
      const rows = r.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
      if (r.busy) return { ok: false, error: { code: 'busy', exitCode: ExitCode.busy, message: `${r.path} is in use by PID ${r.busy.pid ?? '?'}; nothing was checked` } };
      if (r.ok) return { ok: true, outcome: { healthy: true, findings, rows } };
      const message = r.findings.filter((f) => f.severity === 'error').map((f) => f.message).join('; ');
      return { ok: false, damage: message, error: { code: 'damaged', exitCode: ExitCode.integrity, message: `${target} is damaged: ${message}` }, outcome: { healthy: false, findings } };
    });
  } finally {
    bar.stop();
  }
  const ok = results.every((r) => r.ok);
  if (ctx.opts.json) {
    ctx.printJson({
      ok,
      targets: results.map((r) => ({
        target: r.target, path: r.path, engine: r.engine ?? null, ok: r.ok, busy: r.busy ?? null, bytes: r.bytes ?? null, storageVersion: r.storageVersion ?? null, library: r.library ?? null,
        durationMs: r.durationMs, findings: r.findings, tables: r.tables, live: r.live ?? null,
      })),
    });
  } else {
    for (const r of results) printTarget(ctx, r, Boolean(opts.quick));
  }
  for (const r of results) ctx.log().info({ target: r.target, ok: r.ok, findings: r.findings.map((f) => f.code), durationMs: r.durationMs }, 'check finished');
  if (results.some((r) => r.findings.some((f) => f.severity === 'error'))) return ExitCode.integrity;
  if (results.some((r) => r.busy)) return ExitCode.busy;
  return ExitCode.ok;
}

function printTarget(ctx: CliContext, r: TargetCheck, quick: boolean) {
  const c = ctx.out;
  const meta = [r.bytes !== undefined ? formatBytes(r.bytes) : '', r.library ? `${(r.engine && engineNamed(r.engine)?.label) || r.engine || 'engine'} ${r.library}${r.storageVersion !== undefined ? `, storage ${r.storageVersion}` : ''}` : ''].filter(Boolean).join(', ');
  ctx.print(`${c.bold(r.target)}  ${r.path}${meta ? c.dim(`  (${meta})`) : ''}`);
  if (r.busy) {
    ctx.print(`  ${c.yellow('BUSY')}  in use by PID ${r.busy.pid ?? '?'} (${r.busy.exe ?? 'unknown program'}); nothing was checked`);
    // a live check that could not run says why (no steady live copy, or Windows' EBUSY)
    if (!/Conflicting lock/.test(r.busy.message)) ctx.print(`        ${r.busy.message}`);
    ctx.print(`        → ${r.busy.hint ?? 'stop the application, or run the check when it is idle'}`);
    ctx.print('');
    return;
  }
  if (r.tables.length) {
    const rows = r.tables.map((t) => [t.schema === 'main' ? t.name : `${t.schema}.${t.name}`, t.status === 'missing' ? '-' : formatCount(t.rows), t.status === 'ok' ? c.green('ok') : c.red(t.status)]);
    ctx.print(table(['TABLE', 'ROWS', 'STATUS'], rows, [1]).replace(/^/gm, '  '));
  }
  printFindings(ctx, r.findings);
  if (r.live) ctx.print(`  ${c.yellow('live check')}: held by PID ${r.live.holder.pid ?? '?'} (${r.live.holder.exe ?? 'another program'}); covered: ${r.live.covered}`);
  const what = r.live ? `live ${r.live.mode === 'copy' ? 'copy check' : 'scrub'}` : quick ? 'quick check' : engineNamed(r.engine ?? '')?.scrub === undefined ? 'full read' : 'full read + block scrub';
  ctx.print(`  ${r.ok ? c.green('healthy') : c.red('DAMAGED')}  ${c.dim(`${what} in ${formatDuration(r.durationMs)}`)}`);
  ctx.print('');
}
