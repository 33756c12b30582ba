import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { checkDatabase, type CheckOptions, type TargetCheck } from './check';
import { requiredObjects } from './required';

/**
 * Checks each selected target in turn with its required tables and sequences
 * (config first, else the newest valid backup's manifest). Throws UsageError
 * for an unknown selector; damage comes back as findings. A database held by
 * another process is checked live (`full`: through a live copy in backupDir).
 */
export async function checkTargets(config: Config, selector: string | undefined, opts: Omit<CheckOptions, 'requiredTables' | 'requiredSequences' | 'live'> & { env?: NodeJS.ProcessEnv; full?: boolean } = {}): Promise<TargetCheck[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const out: TargetCheck[] = [];
  for (const name of names) {
    const required = requiredObjects(config, name);
    out.push(await checkDatabase(name, config.targets[name]!.path, { ...opts, requiredTables: required.tables, requiredSequences: required.sequences, live: { copyDir: config.backupDir, full: opts.full } }));
  }
  return out;
}
