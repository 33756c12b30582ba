import type { ProgressFn } from '../ops/progress';

/**
 * A progress bar on stderr for long phases: only on a terminal, never with
 * --json or --quiet, and only once a phase has run for over a second.
 * Returns the callback to hand to ops and a `stop()` that clears the bar.
 */
export function progressBar(enabled: boolean): { onProgress: ProgressFn | undefined; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { onProgress: undefined, stop() {} };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  let bar: import('cli-progress').SingleBar | undefined;
  let key = '';
  let phaseStart = Date.now();
  const stop = () => { bar?.stop(); bar = undefined; };
  return {
    onProgress: ({ target, phase, done, total }) => {
      const k = `${target}:${phase}`;
      if (k !== key) { stop(); key = k; phaseStart = Date.now(); }
      if (!bar) {
        if (Date.now() - phaseStart < 1000 || total <= 0) return;
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: `${target} ${phase.padEnd(8)} [{bar}] {percentage}% | {eta_formatted} left`, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      }
      bar.update(Math.min(done, total));
    },
    stop,
  };
}
