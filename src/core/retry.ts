import { BusyError, InterruptedError } from './errors';

/** Parses "30s", "5m", "1h", "2d", "500ms" or a bare number of seconds into milliseconds; undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(n * ({ ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 } as Record<string, number>)[unit]!);
}

/** Delay before retry `attempt` (1-based): base × factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, base: number, factor: number, max: number): number {
  return Math.min(max, base * factor ** (attempt - 1));
}

/** Waits `ms`, or less when `signal` aborts; leaves no listener behind on the signal. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `fn`, retrying while it throws BusyError, with exponential backoff
 * (250 ms doubling, at most 10 s apart) until `waitMs` has passed; then
 * rethrows the last BusyError. With waitMs 0 it runs once. An abort of
 * `signal` while waiting ends the wait with InterruptedError (exit 130).
 * `onWait` hears of each wait before it starts (for a log line).
 */
export async function retryWhileBusy<T>(fn: () => Promise<T> | T, waitMs: number, signal?: AbortSignal, onWait?: (err: BusyError, delayMs: number) => void): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const left = deadline - Date.now();
      if (!(err instanceof BusyError) || left <= 0) throw err;
      const delay = Math.min(left, backoffDelay(attempt, 250, 2, 10000));
      onWait?.(err, delay);
      if (!signal?.aborted) await sleep(delay, signal);
      if (signal?.aborted) throw new InterruptedError(`interrupted while waiting: ${err.message}`).because(err);
    }
  }
}
