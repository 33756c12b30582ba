import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Daemon } from '../../daemon/daemon';
import { ExitCode } from '../../core/exit-codes';
import type { CliContext } from '../context';

/**
 * `dbguard daemon`: runs until SIGTERM/SIGINT, then stops gracefully and exits 0;
 * a second signal exits at once (130) — temporary files of a cancelled run are
 * recognisable and removed by the next run, nothing half-published is left.
 */
export async function run(ctx: CliContext): Promise<number> {
  // A long-lived process that mostly waits: a small young generation keeps its
  // resident memory low (the DuckDB work happens in worker processes anyway).
  v8.setFlagsFromString('--max-semi-space-size=1');
  // Collect garbage once a run is over: the buffers of a backup's hashing are
  // garbage then, and an idle daemon should give their memory back.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  ctx.opts.stderrLevel = 'info';
  const log = ctx.log();
  const config = ctx.config();
  ctx.releaseSignals();
  const daemon = new Daemon(config, { log, env: ctx.env, onIdle: gc });
  let stopping: Promise<{ cancelled: boolean }> | undefined;
  // Resolves with the exit code; main.ts is the only place that exits, so a
  // second signal resolves with 130 at once instead of calling process.exit here.
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting now');
        resolve(ExitCode.interrupted);
        return;
      }
      log.info({ signal: sig }, 'stopping: no new runs; a running one may finish');
      stopping = daemon.stop();
      stopping.then(() => resolve(ExitCode.ok), () => resolve(ExitCode.ok));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // a second signal while still starting must not wait for the start to finish
  const early = await Promise.race([daemon.start().then(() => undefined), stopped]);
  if (early !== undefined) return early;
  const a = daemon.address();
  ctx.note(`dbguard daemon running: http://${a?.address}:${a?.port}/health — Ctrl-C to stop`);
  return stopped;
}
