#!/usr/bin/env node
/**
 * The dbguard entry point: the only place that calls process.exit. Every
 * expected error is printed as message + hint (or JSON on stderr) with its
 * documented exit code; with --verbose, the chain of causes and the root
 * cause's stack (never for a usage error).
 */
import { CommanderError } from 'commander';
import { causeChain, DbguardError } from '../core/errors';
import { describeCause, verboseDetail } from './error-view';
import { ExitCode } from '../core/exit-codes';
import { createContext, type CliContext, type GlobalOptions } from './context';
import { buildProgram, type Dispatch } from './program';

function printError(err: unknown, json: boolean, verbose: boolean): number {
  const known = err instanceof DbguardError;
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const message = err instanceof Error ? err.message : String(err);
  const hint = known ? err.hint : 'this is a bug in dbguard; run again with --verbose and report the output';
  const code = known ? err.code : 'internal';
  if (json) {
    const causes = verbose ? causeChain(err).map(describeCause) : [];
    process.stderr.write(`${JSON.stringify({ error: { code, exitCode, message, hint, ...(causes.length ? { causes } : {}) } })}\n`);
  } else {
    process.stderr.write(`dbguard: ${known ? 'error' : 'internal error'}: ${message}\n`);
    if (hint) process.stderr.write(`  hint: ${hint}\n`);
    if (verbose) for (const line of verboseDetail(err)) process.stderr.write(`${line}\n`);
  }
  return exitCode;
}

async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let ctx: CliContext | undefined;
  const wantsJson = argv.includes('--json');
  const dispatch: Dispatch = async (load, args) => {
    const controller = new AbortController();
    // First signal: abort, let the command remove its temporary files and exit 130.
    // Second signal: leave now; leftovers are recognisable and removed by the next run.
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(ExitCode.interrupted);
      process.stderr.write('dbguard: interrupted, cleaning up (signal again to force)\n');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const releaseSignals = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); };
    ctx = createContext(program.opts<GlobalOptions>(), controller.signal, releaseSignals);
    const c = ctx;
    try {
      exitCode = await (load().run as (c: CliContext, ...a: unknown[]) => Promise<number>)(c, ...args);
    } finally {
      // alerts of this run get a bounded time to go out; they never change its exit code
      await c.settle().catch(() => undefined);
    }
  };
  const program = buildProgram(dispatch);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      if (wantsJson) process.stderr.write(`${JSON.stringify({ error: { code: 'usage', exitCode: ExitCode.usage, message: err.message.replace(/^error: /, ''), hint: 'run dbguard --help for usage' } })}\n`);
      return ExitCode.usage;
    }
    return printError(err, ctx?.opts.json ?? wantsJson, ctx?.opts.verbose ?? (argv.includes('--verbose') || argv.includes('-v')));
  }
  return exitCode;
}

main(process.argv).then(
  (code) => {
    // let stdout drain before exiting, so piped JSON is never cut
    process.stdout.write('', () => process.exit(code));
  },
  (err) => {
    process.stderr.write(`dbguard: internal error: ${String(err)}\n`);
    process.exit(ExitCode.internal);
  },
);
