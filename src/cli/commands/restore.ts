import { ExitCode } from '../../core/exit-codes';
import { selectOneTarget } from '../../config/targets';
import { restore } from '../../ops/restore';
import { remoteSource } from '../../ops/remote-restore';
import { openRemoteStore } from '../../ops/remote-store';
import type { CliContext } from '../context';
import { confirm } from '../confirm';
import { formatCount, table } from '../format';
import { waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { printFindings } from './findings-view';

/** `dbguard restore <target> [--from ID|latest] [--at TIME] [--to PATH] [--dry-run] [--yes]`. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { from?: string; at?: string; to?: string; dryRun?: boolean; wait?: string; remote?: boolean }): Promise<number> {
  const config = ctx.config();
  const target = selectOneTarget(config, selector, ctx.env);
  const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
  let result;
  let closeRemote = () => {};
  try {
    const session = opts.remote ? await openRemoteStore(config, ctx.env, { signal: ctx.signal }) : undefined;
    closeRemote = () => session?.close();
    result = await restore(config, target, {
      remote: session && remoteSource(session, config.backupDir),
      from: opts.from, at: opts.at, to: opts.to, dryRun: opts.dryRun, cwd: ctx.cwd, waitMs: waitOption(opts.wait), signal: ctx.signal, onProgress: bar.onProgress, log: ctx.log(),
      confirm: async (plan) => {
        bar.stop();
        return confirm(ctx, `Replace ${plan.path} with backup ${plan.from} (${plan.createdAt})? The current file${plan.replaces.length ? 's move' : ' (none) moves'} to ${config.backupDir}/pre-restore/.`);
      },
    });
  } finally {
    bar.stop();
    closeRemote();
  }
  if (ctx.opts.json) {
    ctx.printJson({ ok: result.ok, target: result.target, from: result.from, path: result.path, safetyCopy: result.safetyCopy, dryRun: result.dryRun, createdAt: result.createdAt, source: result.source, phases: result.phases, replaces: result.replaces, tables: result.tables, findings: result.findings });
    return result.ok ? ExitCode.ok : ExitCode.integrity;
  }
  if (result.dryRun) {
    ctx.print(`dry run: would restore ${result.path} from ${result.from} (${result.createdAt}, verified${result.source === 'store' ? ', from the store' : result.source === 'remote' ? ', from the remote' : ''})`);
    ctx.print(result.replaces.length ? `  and move ${result.replaces.join(', ')} to ${config.backupDir}/pre-restore/` : '  nothing to move aside (the file does not exist)');
    return ExitCode.ok;
  }
  ctx.print(`restored ${result.path} from ${result.from}${result.source === 'store' ? ' (written from the store, every block and the whole sha256 checked)' : result.source === 'remote' ? ' (downloaded from the remote, every block and the whole sha256 checked)' : ''}`);
  if (result.safetyCopy) ctx.print(`  the replaced file(s) are in ${result.safetyCopy}`);
  ctx.print(table(['TABLE', 'ROWS'], result.tables.map((t) => [t.schema === 'main' ? t.name : `${t.schema}.${t.name}`, formatCount(t.rows)]), [1]).replace(/^/gm, '  '));
  printFindings(ctx, result.findings);
  return result.ok ? ExitCode.ok : ExitCode.integrity;
}
