import type { Command } from 'commander';
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

const blank = (v: unknown) => typeof v === 'string' && v.trim() === '';

/**
 * Refuses an empty or whitespace-only value for any option that takes one
 * (and for a positional argument), on `cmd` and on every command above it:
 * `--to ""` must never silently mean "no --to" (which would restore over the
 * live database). Throws UsageError (exit 2) naming the option.
 */
export function rejectEmptyValues(cmd: Command): void {
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options) {
      if (!o.required && !o.optional) continue; // a flag takes no value
      const v = c.getOptionValue(o.attributeName()) as unknown;
      if (blank(v) || (Array.isArray(v) && v.some(blank))) {
        throw new UsageError(`${o.long ?? o.short} was given an empty value`, `give ${o.long ?? o.short} a value, or leave the option out to use its default`, 'empty-option');
      }
    }
  }
  cmd.registeredArguments.forEach((a, i) => {
    // the words after `--` belong to the service command, where "" can be meaningful
    if (a.variadic) return;
    if (blank(cmd.processedArgs[i])) throw new UsageError(`the ${a.name()} argument is empty`, `name it, or leave it out to use the default`, 'empty-argument');
  });
}
