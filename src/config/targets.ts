import { UsageError } from '../core/errors';
import type { Config } from './load';

/**
 * Resolves a target selector — a name, `both` (production and staging), `all`,
 * or a comma list — to configured target names, in config order, without
 * duplicates. When the selector is empty it falls back to `fallback`
 * (e.g. ENVIRONMENT). Throws UsageError (exit 2) listing the configured names.
 */
export function selectTargets(config: Config, selector: string | undefined, fallback?: string): string[] {
  const names = Object.keys(config.targets);
  const text = (selector ?? fallback ?? '').trim();
  const hint = `configured targets: ${names.join(', ')} (or both, all)`;
  if (!text) throw new UsageError('no target given', `name one: ${hint}`, 'no-target');
  const wanted = new Set<string>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part === 'all') names.forEach((n) => wanted.add(n));
    else if (part === 'both') {
      for (const n of ['production', 'staging']) {
        if (!config.targets[n]) throw new UsageError(`"both" means production and staging, but "${n}" is not configured`, hint, 'unknown-target');
        wanted.add(n);
      }
    } else if (config.targets[part]) wanted.add(part);
    else throw new UsageError(`unknown target "${part}"`, hint, 'unknown-target');
  }
  if (wanted.size === 0) throw new UsageError('no target given', `name one: ${hint}`, 'no-target');
  return names.filter((n) => wanted.has(n));
}

/** Resolves exactly one target for commands like restore and repair (ENVIRONMENT is the default). */
export function selectOneTarget(config: Config, selector: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const picked = selectTargets(config, selector, env.ENVIRONMENT);
  if (picked.length !== 1) throw new UsageError(`this command takes one target, got ${picked.join(', ')}`, 'name a single target', 'one-target');
  return picked[0]!;
}
