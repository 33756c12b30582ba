import { InterruptedError, UsageError } from '../../core/errors';
import { ExitCode } from '../../core/exit-codes';
import { recoverTargets, runService, waitForServices } from '../../ops/guard';
import type { CliContext } from '../context';
import { waitOption } from '../parse';

/**
 * `dbguard guard <targets> [--wait-for host:port]... [--start-anyway] -- CMD [ARGS...]`:
 * recover the databases, wait for services, then run CMD with signals
 * forwarded and exit with its exit code.
 */
export async function run(ctx: CliContext, selector: string | undefined, command: string[], opts: { waitFor?: string[]; waitTimeout?: string; startAnyway?: boolean; fullCheck?: boolean }): Promise<number> {
  if (!command.length) throw new UsageError('guard needs a command to run after --', 'e.g. dbguard guard production -- node server.js', 'no-command');
  ctx.opts.stderrLevel = 'info';
  const log = ctx.log();
  const config = ctx.config();
  const recovered = await recoverTargets(config, selector, log, ctx.env, ctx.signal, opts.fullCheck);
  const failed = recovered.filter((r) => !r.healthy);
  for (const r of recovered) {
    if (r.repaired) ctx.note(`guard: ${r.target} was damaged and repaired by ${r.repaired.strategy}${r.repaired.details.restoredFrom ? ` from ${r.repaired.details.restoredFrom}` : ''}; the damaged file is in ${r.repaired.quarantine}`);
  }
  if (failed.length) {
    const text = failed.map((r) => `${r.target}${r.error ? `: ${r.error}` : ''}`).join('; ');
    if (!opts.startAnyway) {
      process.stderr.write(`dbguard guard: not starting ${command[0]}: recovery failed for ${text}\n  hint: see dbguard check ${failed[0]!.target}; --start-anyway starts the service regardless\n`);
      return ExitCode.integrity;
    }
    log.warn({ failed: failed.map((f) => f.target) }, 'guard: recovery failed, starting anyway (--start-anyway)');
    ctx.note(`guard: recovery failed for ${text}; starting anyway (--start-anyway)`);
  }
  if (opts.waitFor?.length) await waitForServices(opts.waitFor, waitOption(opts.waitTimeout ?? '120s'), log, ctx.signal);
  // a SIGTERM/SIGINT that arrived during recovery or waiting means "do not start"
  if (ctx.signal.aborted) throw new InterruptedError(`interrupted before ${command[0]} started; it was not started`);
  log.info({ command }, 'guard: starting service');
  ctx.releaseSignals();
  const code = await runService(command[0]!, command.slice(1), log);
  log.info({ code }, 'guard: service exited');
  return code;
}
