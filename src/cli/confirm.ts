import * as readline from 'node:readline';
import { UsageError } from '../core/errors';
import type { CliContext } from './context';

/**
 * Asks a yes/no question on the terminal. With --yes it answers yes; without
 * a terminal (cron, CI, a pipe) it refuses with a UsageError (exit 2) rather
 * than guess.
 */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (ctx.opts.yes) return true;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError('this command changes files and needs confirmation, but there is no terminal to ask', 'pass --yes to confirm non-interactively, or --dry-run to see what would happen', 'needs-confirmation');
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
