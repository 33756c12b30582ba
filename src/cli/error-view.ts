/** How errors are shown on stderr: message, hint and, with --verbose, the cause chain. */
import { causeChain, DbguardError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { redactUrls } from '../core/redact';

/** One line for a cause: its class or errno code, then its message (URLs redacted: a cause may quote one). */
export function describeCause(c: unknown): string {
  if (!(c instanceof Error)) return redactUrls(String(c));
  const code = (c as NodeJS.ErrnoException).code;
  return redactUrls(`${c.name}${code && !c.message.startsWith(String(code)) ? ` (${code})` : ''}: ${c.message}`);
}

/**
 * What --verbose adds below an error: the chain of causes and the stack of the
 * deepest one (for an unexpected error, its own stack when it has no cause).
 * A usage error gets nothing: it is the caller's mistake, not dbguard's.
 */
export function verboseDetail(err: unknown): string[] {
  if (err instanceof DbguardError && err.exitCode === ExitCode.usage) return [];
  const chain = causeChain(err);
  const lines = chain.map((c) => `  caused by: ${describeCause(c)}`);
  const root = chain.length ? chain[chain.length - 1] : err instanceof DbguardError ? undefined : err;
  if (root instanceof Error && root.stack) lines.push(redactUrls(root.stack));
  return lines;
}
