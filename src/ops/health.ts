import type { Config } from '../config/load';
import { engineOf } from './engine-of';
import { expectedObjects, objectName, type ExpectedObject } from '../core/schema-baseline';
import { readAcceptedSchema } from '../storage/accepted-schema';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { checkDatabase, type CheckOptions, type TargetCheck } from './check';
import type { SchemaRules } from './schema-findings';

/**
 * The schema rules of a target: the config's `requiredTables`, and the
 * baseline of every valid backup not covered by the accepted schema, plus
 * the accepted schema itself (core/schema-baseline.ts). Reads manifests and
 * the accepted-schema record only; never opens a database. Throws
 * StorageError when the backup folder cannot be listed.
 */
export function schemaRules(config: Config, target: string): SchemaRules {
  const repo = new BackupRepository(config.backupDir);
  const acceptance = readAcceptedSchema(repo.dir, target);
  return {
    requiredTables: config.targets[target]?.requiredTables ?? [],
    requiredSequences: [],
    expected: baselineOf(repo.list(target), acceptance),
    acceptedAt: acceptance?.acceptedAt,
  };
}

function baselineOf(entries: BackupEntry[], acceptance: ReturnType<typeof readAcceptedSchema>): ExpectedObject[] {
  const valid = entries.filter((e) => e.status === 'valid' && e.manifest).map((e) => ({ id: e.id, tables: e.manifest!.tables, sequences: e.manifest!.sequences ?? [] }));
  return expectedObjects(valid, acceptance);
}

/**
 * THE health decision of dbguard: checks a target's database with every rule
 * (file, header, open, catalog, required and lost tables and sequences, NULL
 * keys, and unless `quick` the full read and block scrub). `check`,
 * `repair`, `pre-update`, `guard` and the daemon all decide "healthy" with
 * this function; `backup` applies the same schema rules to its snapshot.
 * Never modifies the database. Damage comes back as findings.
 */
export async function checkHealth(config: Config, target: string, opts: Omit<CheckOptions, keyof SchemaRules> = {}): Promise<TargetCheck> {
  return checkDatabase(target, config.targets[target]!.path, { engine: engineOf(config, target).engine, ...opts, ...schemaRules(config, target) });
}

/**
 * Backups that rotation must keep beyond the policy: for every object of the
 * baseline that the newest valid backup lacks (the database had lost it when
 * that backup was made, or has lost it since), the newest valid backup that
 * still holds it. Reads manifests and the accepted-schema record.
 */
export function retentionProtection(entries: BackupEntry[], backupDir: string, target: string): { id: string; reason: string }[] {
  const newest = entries.find((e) => e.status === 'valid' && e.manifest);
  if (!newest) return [];
  const expected = baselineOf(entries, readAcceptedSchema(backupDir, target));
  const by = new Map<string, string[]>();
  for (const o of expected) {
    if (!o.heldBy || o.heldBy === newest.id) continue;
    by.set(o.heldBy, [...(by.get(o.heldBy) ?? []), `${o.kind} ${objectName(o)}`]);
  }
  return [...by].map(([id, what]) => ({ id, reason: `newest valid backup holding ${what.join(', ')}, which the database has lost (newer backups lack it); kept until dbguard accept-schema ${target} records the change` }));
}
