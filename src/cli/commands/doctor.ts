import { doctor } from '../../ops/doctor';
import type { CliContext } from '../context';
import { table } from '../format';

/** `dbguard doctor`: start-up validation; exit 0 when everything passes, 3 when the config or installation is at fault, else 6 (paths, permissions, disk space). */
export async function run(ctx: CliContext): Promise<number> {
  const report = await doctor({ configPath: ctx.opts.config, cwd: ctx.cwd, env: ctx.env });
  if (ctx.opts.json) {
    ctx.printJson(report);
  } else {
    const c = ctx.out;
    const mark = (s: string) => (s === 'ok' ? c.green('ok') : s === 'warning' ? c.yellow('warning') : c.red('FAIL'));
    ctx.print(table(['CHECK', 'STATUS', 'DETAIL'], report.items.map((i) => [i.check, mark(i.severity), i.detail])));
    const fixes = report.items.filter((i) => i.fix);
    if (fixes.length) {
      ctx.print('\nto fix:');
      for (const i of fixes) ctx.print(`  ${i.check}: ${i.fix}`);
    }
    ctx.print(report.ok ? `\n${c.green('all checks passed')}` : `\n${c.red('some checks failed')}`);
  }
  return report.exitCode;
}
