import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import type { CheckOptions, TargetCheck } from './check';
import { checkHealth } from './health';
import type { SchemaRules } from './schema-findings';

/**
 * Checks each selected target in turn with `checkHealth` (every rule,
 * including tables lost since a backup). Throws UsageError for an unknown
 * selector; damage comes back as findings. A database held by another
 * process is checked live (`full`: through a live copy in backupDir).
 */
export async function checkTargets(config: Config, selector: string | undefined, opts: Omit<CheckOptions, keyof SchemaRules | 'live'> & { env?: NodeJS.ProcessEnv; full?: boolean } = {}): Promise<TargetCheck[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const out: TargetCheck[] = [];
  for (const name of names) out.push(await checkHealth(config, name, { ...opts, live: { copyDir: config.backupDir, full: opts.full } }));
  return out;
}
