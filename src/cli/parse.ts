import { UsageError } from '../core/errors';
import { parseDuration } from '../core/retry';

/** Parses a whole-number option (≥ min) or throws UsageError naming the option. */
export function intOption(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${name} must be a whole number ≥ ${min} (got "${value}")`, `e.g. ${name} ${Math.max(min, 30)}`, 'bad-option');
  return Number(value);
}

/** Parses `--wait 5m` (ms, s, m, h; bare numbers are seconds) or throws UsageError. */
export function waitOption(value: string | undefined): number {
  if (value === undefined) return 0;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--wait must be a duration such as 30s, 5m or 1h (got "${value}")`, 'e.g. --wait 5m', 'bad-option');
  return ms;
}
