import type { Config } from '../config/load';
import { BackupRepository } from '../storage/repository';

const qualify = (o: { schema: string; name: string }) => (o.schema === 'main' ? o.name : `${o.schema}.${o.name}`);

/**
 * The tables and sequences a target must contain: `targets.<name>.requiredTables`
 * from the config when set; otherwise, once backups exist, the tables and
 * sequences of the newest valid backup's manifest. Reads manifests only.
 */
export function requiredObjects(config: Config, target: string): { tables: string[]; sequences: string[] } {
  const configured = config.targets[target]?.requiredTables;
  if (configured) return { tables: configured, sequences: [] };
  const manifest = new BackupRepository(config.backupDir).newestValid(target)?.manifest;
  if (!manifest) return { tables: [], sequences: [] };
  return { tables: manifest.tables.map(qualify), sequences: manifest.sequences.map(qualify) };
}
