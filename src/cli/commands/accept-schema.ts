import { selectOneTarget } from '../../config/targets';
import { ExitCode } from '../../core/exit-codes';
import { objectName } from '../../core/schema-baseline';
import { acceptSchema } from '../../ops/accept-schema';
import { confirm } from '../confirm';
import type { CliContext } from '../context';
import { waitOption } from '../parse';

/** `dbguard accept-schema <target> [--dry-run] [--yes]`: exit 0 when recorded (or nothing to accept), 4 damaged, 5 busy, 2 not confirmed. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { dryRun?: boolean; wait?: string }): Promise<number> {
  const config = ctx.config();
  const target = selectOneTarget(config, selector, ctx.env);
  const describe = (o: { kind: string; schema: string; name: string; heldBy?: string }) => `${o.kind} ${objectName(o)}${o.heldBy ? ` (backup ${o.heldBy} still has it)` : ''}`;
  const r = await acceptSchema(config, target, {
    dryRun: opts.dryRun, waitMs: waitOption(opts.wait), signal: ctx.signal,
    confirm: async (dropped) => {
      ctx.note(`${target} no longer has:\n${dropped.map((o) => `  - ${describe(o)}`).join('\n')}`);
      return confirm(ctx, `Record this as intended? They stop being findings, and rotation may then remove the older backups that hold them.`);
    },
  });
  ctx.log().info({ target, changed: r.changed, accepted: r.accepted.map(describe), record: r.record }, 'accept-schema finished');
  if (ctx.opts.json) {
    ctx.printJson({ ok: true, target: r.target, path: r.path, changed: r.changed, dryRun: r.dryRun, accepted: r.accepted, record: r.record, acceptedAt: r.acceptedAt });
    return ExitCode.ok;
  }
  if (!r.accepted.length) ctx.print(`${target}: nothing to accept; the database has every table and sequence its backups have`);
  else if (r.dryRun) ctx.print(`${target}: would accept the loss of ${r.accepted.map(describe).join(', ')} (dry run: nothing recorded)`);
  else ctx.print(`${target}: accepted the current schema; no longer expected: ${r.accepted.map(describe).join(', ')}\n  recorded in ${r.record}`);
  return ExitCode.ok;
}
