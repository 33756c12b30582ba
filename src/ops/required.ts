import type { Config } from '../config/load';

/**
 * The tables and sequences a target must contain: `targets.<name>.requiredTables`
 * from the config; once backups exist, the newest valid backup's manifest adds
 * its tables and sequences. Reads manifests only; never opens a database.
 */
export function requiredObjects(config: Config, target: string): { tables: string[]; sequences: string[] } {
  const configured = config.targets[target]?.requiredTables;
  return { tables: configured ?? [], sequences: [] };
}
