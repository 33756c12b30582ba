import { IntegrityError, InterruptedError } from '../core/errors';
import type { JobKind } from '../daemon/history';
import { errorOf, type RunEnd } from '../daemon/run-log';
import type { CliContext } from './context';

/**
 * Runs `fn` as one recorded run of `kind` per target: each begins in the job
 * history (and pings the start URL) before `fn` starts, and ends with what
 * `judge` says of the result. When `fn` throws, every run ends as failed
 * (damage for an IntegrityError, cancelled for an interruption) and the error
 * is rethrown unchanged, so recording never changes a command's exit code.
 */
export async function recorded<T>(ctx: CliContext, kind: JobKind, targets: string[], fn: () => Promise<T>, judge: (result: T, target: string) => RunEnd): Promise<T> {
  const runs = ctx.runs();
  const handles = targets.map((t) => ({ target: t, run: runs.begin(t, kind) }));
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    for (const h of handles) h.run.end(thrown(err));
    throw err;
  }
  for (const h of handles) {
    let end: RunEnd;
    try {
      end = judge(result, h.target);
    } catch (err) {
      end = thrown(err);
    }
    h.run.end(end);
  }
  return result;
}

/** How a run that threw `err` ended. */
export function thrown(err: unknown): RunEnd {
  return { ok: false, cancelled: err instanceof InterruptedError, error: errorOf(err), damage: err instanceof IntegrityError ? err.message : undefined };
}
