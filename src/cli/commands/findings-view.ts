import type { Finding } from '../../core/types';
import type { CliContext } from '../context';

/** Prints findings, errors first, each followed by its hint. */
export function printFindings(ctx: CliContext, findings: Finding[], indent = '  '): void {
  const c = ctx.out;
  const sorted = [...findings].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  for (const f of sorted) {
    const tag = f.severity === 'error' ? c.red('error  ') : c.yellow('warning');
    ctx.print(`${indent}${tag} ${f.message}`);
    if (f.hint) ctx.print(`${indent}        ${c.dim('→')} ${f.hint}`);
  }
}
