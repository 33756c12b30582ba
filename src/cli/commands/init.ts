import { ExitCode } from '../../core/exit-codes';
import * as path from 'node:path';
import { init } from '../../ops/init';
import type { CliContext } from '../context';

/** `dbguard init [--demo] [--force]`: write the default config; `--demo` adds sample databases. */
export async function run(ctx: CliContext, opts: { demo?: boolean; force?: boolean }): Promise<number> {
  const result = await init({ file: ctx.opts.config ?? ctx.env.DBGUARD_CONFIG, cwd: ctx.cwd, force: opts.force, demo: opts.demo });
  if (ctx.opts.json) {
    ctx.printJson({ ok: true, ...result });
    return ExitCode.ok;
  }
  const rel = (p: string) => path.relative(ctx.cwd, p) || p;
  ctx.print(result.configWritten ? `wrote ${rel(result.configFile)}` : `kept existing ${rel(result.configFile)}`);
  for (const d of result.databases) ctx.print(`${d.created ? 'created' : 'kept existing'} ${d.target} database ${rel(d.path)}`);
  if (result.databases.length) ctx.print(`next: dbguard check both`);
  return ExitCode.ok;
}
