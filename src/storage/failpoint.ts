import * as path from 'node:path';

/*
 * TEST-ONLY fault injection. The environment variable DBGUARD_TEST_FAIL_AT
 * holds comma-separated `point=ACTION` items, where `point` is a step name or
 * `step:<file basename>`, and ACTION is an errno code (ENOSPC, EIO, EXDEV...),
 * KILL (SIGKILL the process right there) or PAUSE (print
 * "dbguard-test: paused at <point>" on stderr and wait for the run to be
 * interrupted). Unset outside the test suite; then each hook is one lookup.
 * It exists because a full disk, a dying process or a Ctrl-C at one exact
 * step cannot be produced reliably any other way.
 */

function actionFor(step: string, file?: string): { point: string; action: string } | undefined {
  const spec = process.env.DBGUARD_TEST_FAIL_AT;
  if (!spec) return undefined;
  for (const item of spec.split(',')) {
    const [point = '', action = 'EIO'] = item.trim().split('=');
    if (point === step || (file !== undefined && point === `${step}:${path.basename(file)}`)) return { point, action };
  }
  return undefined;
}

/** Test-only: throws the injected errno error, or kills the process, when DBGUARD_TEST_FAIL_AT names this step. */
export function failpoint(step: string, file?: string): void {
  const hit = actionFor(step, file);
  if (!hit || hit.action === 'PAUSE') return;
  if (hit.action === 'KILL') process.kill(process.pid, 'SIGKILL');
  const err = new Error(`${hit.action}: injected failure at ${hit.point} (DBGUARD_TEST_FAIL_AT)`) as NodeJS.ErrnoException;
  err.code = hit.action;
  throw err;
}

/** Test-only: like failpoint, and with PAUSE waits until `signal` aborts (so a test can send a real SIGINT at this step). */
export async function pausepoint(step: string, signal?: AbortSignal): Promise<void> {
  const hit = actionFor(step);
  if (hit?.action !== 'PAUSE') return failpoint(step);
  process.stderr.write(`dbguard-test: paused at ${hit.point}\n`);
  if (!signal || signal.aborted) return;
  // a pending promise alone does not keep Node running: hold the loop open with a timer
  const keepAlive = setInterval(() => {}, 1000);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  clearInterval(keepAlive);
}

/**
 * Test-only: like pausepoint, but a PAUSE here also ends on SIGUSR2, and the
 * run then goes on (a test holds a run at this step while another process
 * works, then lets it continue).
 */
export async function holdpoint(step: string, signal?: AbortSignal): Promise<void> {
  const hit = actionFor(step);
  if (hit?.action !== 'PAUSE') return failpoint(step);
  const keepAlive = setInterval(() => {}, 1000);
  const cont = new Promise<void>((resolve) => {
    process.once('SIGUSR2', () => resolve());
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  process.stderr.write(`dbguard-test: paused at ${hit.point}\n`);
  await cont;
  clearInterval(keepAlive);
}
