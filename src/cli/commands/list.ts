import { ExitCode } from '../../core/exit-codes';
import { listBackups, storeUsage } from '../../ops/list';
import { listRemote } from '../../ops/remote-list';
import type { CliContext } from '../context';
import { formatAge, formatBytes, formatCount, table } from '../format';
import { format } from 'date-fns/format';

/** `dbguard list <targets>`: backups newest first with status; totals per target. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { remote?: boolean } = {}): Promise<number> {
  const remote = opts.remote ? await listRemote(ctx.config(), selector, ctx.env, ctx.signal) : undefined;
  const { targets, backups, warnings } = remote ?? listBackups(ctx.config(), selector, ctx.env);
  const store = remote ? remote.remote : await storeUsage(ctx.config());
  if (ctx.opts.json) {
    ctx.printJson(remote ? { backups, warnings, remote: remote.remote } : { backups, warnings, store });
    return ExitCode.ok;
  }
  if (remote) ctx.print(`${ctx.out.bold('remote')} ${remote.remote.where}`);
  const c = ctx.out;
  const now = new Date();
  for (const target of targets) {
    const mine = backups.filter((b) => b.target === target);
    ctx.print(c.bold(target));
    if (!mine.length) {
      ctx.print(remote ? `  no backups on the remote yet; copy them there with dbguard push ${target}\n` : `  no backups yet; take one with dbguard backup ${target}\n`);
      continue;
    }
    const paint = (s: string) => (s === 'valid' ? c.green(s) : c.red(s));
    const rows = mine.map((b) => {
      const at = new Date(b.createdAt);
      const created = b.future ? c.red(`${format(at, 'yyyy-MM-dd HH:mm:ss')} (IN THE FUTURE)`) : `${format(at, 'yyyy-MM-dd HH:mm:ss')} (${formatAge(at, now)})`;
      return [b.id, created, formatBytes(b.bytes), b.tables === null ? '-' : String(b.tables), b.rows === null ? '-' : formatCount(b.rows), paint(b.status), b.consistency ?? '-', b.engine ?? '-', b.location];
    });
    ctx.print(table(['ID', 'CREATED', 'SIZE', 'TABLES', 'ROWS', 'STATUS', 'COPY', 'ENGINE', 'WHERE'], rows, [2, 3, 4]).replace(/^/gm, '  '));
    const valid = mine.filter((b) => b.status === 'valid').length;
    const inStore = mine.filter((b) => b.location === 'store');
    const plainBytes = mine.filter((b) => b.location !== 'store').reduce((n, b) => n + b.bytes, 0);
    ctx.print(inStore.length
      ? `  ${mine.length} backup(s), ${valid} valid, ${formatBytes(plainBytes)} in plain files, ${inStore.length} only in the store (${formatBytes(inStore.reduce((n, b) => n + b.bytes, 0))} as files)\n`
      : `  ${mine.length} backup(s), ${valid} valid, ${formatBytes(mine.reduce((n, b) => n + b.bytes, 0))} in all\n`);
    for (const w of warnings.filter((x) => x.target === target)) ctx.print(`  ${c.yellow('warning')} ${w.message}\n  hint: ${w.hint}\n`);
  }
  if (store) {
    const ratio = store.dedupRatio === null ? '' : `, ${store.dedupRatio.toFixed(1)}× deduplicated`;
    ctx.print(`${c.bold(remote ? 'remote store' : 'store')}  ${formatBytes(store.storedBytes)} ${remote ? 'stored' : 'on disk'} for ${formatBytes(store.logicalBytes)} of backups (${store.snapshots} backup(s), ${store.packs} pack(s)${ratio})`);
  }
  return ExitCode.ok;
}
