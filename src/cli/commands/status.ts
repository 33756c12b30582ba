import { ExitCode } from '../../core/exit-codes';
import { format } from 'date-fns/format';
import { status } from '../../ops/status';
import type { CliContext } from '../context';
import { formatAge, formatBytes, table } from '../format';

/** A length of time in the largest unit that keeps it readable: "40 s", "20 min", "12 h", "2 days". */
function span(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** `dbguard status [targets]`: exit 0 when every target is healthy with a fresh backup, 4 otherwise. */
export async function run(ctx: CliContext, selector: string | undefined): Promise<number> {
  const r = await status(ctx.config(), selector, ctx.env);
  if (ctx.opts.json) {
    ctx.printJson(r);
    return r.ok ? ExitCode.ok : ExitCode.integrity;
  }
  const c = ctx.out;
  const when = (iso: string | null) => (iso ? format(new Date(iso), 'yyyy-MM-dd HH:mm:ss') : '-');
  const rows = r.targets.map((t) => [
    t.target,
    t.engine ?? '-',
    t.ok ? c.green('ok') : c.red('ATTENTION'),
    t.lastBackup ? `${t.lastBackup.id} (${t.lastBackup.consistency}, ${formatAge(new Date(t.lastBackup.createdAt))}${t.fresh ? '' : ', STALE'})` : c.red('none'),
    t.lastBackup ? formatBytes(t.lastBackup.bytes) : '-',
    String(t.backups),
    t.lastCheck ? `${t.lastCheck.ok === null ? 'busy' : t.lastCheck.ok ? 'healthy' : c.red('DAMAGED')} ${c.dim(`(${t.lastCheck.source === 'now' ? 'checked now' : formatAge(new Date(t.lastCheck.at))})`)}` : '-',
    when(t.nextBackup),
  ]);
  ctx.print(table(['TARGET', 'ENGINE', 'STATUS', 'LAST VALID BACKUP', 'SIZE', 'BACKUPS', 'LAST CHECK', 'NEXT BACKUP'], rows));
  for (const t of r.targets) {
    ctx.print(`${t.target}: last proven restorable ${t.lastVerified ? `${when(t.lastVerified)} (${formatAge(new Date(t.lastVerified))})` : 'never (no verify or restore drill yet)'}; next drill ${when(t.nextVerify)}`);
    if (t.lastFailure) ctx.print(`${t.target}: last failure ${when(t.lastFailure.at)} (${t.lastFailure.kind}): ${t.lastFailure.message ?? t.lastFailure.code}`);
    if (!t.fresh) ctx.print(`${t.target}: ${t.lastBackup ? `the newest valid backup is older than ${span(t.staleAfterSeconds)} (2 schedule periods)` : 'no valid backup'}: run dbguard backup ${t.target}`);
    if (t.offsite) {
      const o = t.offsite;
      const last = o.lastPush ? `last push ${when(o.lastPush.at)} ${o.lastPush.ok ? 'ok' : c.red(`FAILED: ${o.lastPush.error ?? ''}`)}` : 'never pushed';
      const newest = o.newest ? `newest off-site ${o.newest.id} (${formatAge(new Date(o.newest.createdAt))})` : 'no off-site backup yet';
      ctx.print(`${t.target}: ${last}; ${o.stale ? c.red(`${newest}, older than remote.maxAge`) : newest}`);
    }
    for (const w of t.warnings) ctx.print(`${c.yellow('warning')} ${w.message}\n  hint: ${w.hint}`);
  }
  ctx.print(`daemon: ${r.daemon.answering ? c.green(`answering at ${r.daemon.url} (${r.daemon.status})`) : c.yellow(`not answering at ${r.daemon.url}`)}`);
  return r.ok ? ExitCode.ok : ExitCode.integrity;
}
