import type { Config } from '../config/load';
import { DbguardError, inUseError, IntegrityError, storageErrorFrom, UsageError } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import type { ExpectedObject, SchemaAcceptance } from '../core/schema-baseline';
import { systemClock, type Clock } from '../core/types';
import { acceptedSchemaPath, ACCEPTED_SCHEMA_FORMAT, writeAcceptedSchema } from '../storage/accepted-schema';
import { acquireLock } from '../storage/lock';
import { BackupRepository } from '../storage/repository';
import { checkHealth } from './health';
import { SCHEMA_CODES } from './schema-findings';

export interface AcceptSchemaOptions {
  dryRun?: boolean;
  /** Asked with what would stop being expected; false cancels (exit 2). */
  confirm?: (dropped: ExpectedObject[]) => Promise<boolean>;
  waitMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface AcceptSchemaResult {
  target: string;
  path: string;
  /** False when nothing was lost (nothing written) or on a dry run. */
  changed: boolean;
  dryRun: boolean;
  /** What stops being expected: the objects the database lost since a backup. */
  accepted: ExpectedObject[];
  /** The record file, when written. */
  record: string | null;
  acceptedAt: string | null;
}

/**
 * `accept-schema`: records the database's current tables and sequences as
 * its intended schema, so objects it lost since a backup stop being findings.
 * The record (`<backupDir>/accepted-schema/<target>.json`, written atomically)
 * covers every backup that exists now; backups made later count again, so a
 * later loss is found again. Idempotent: with nothing lost it writes nothing.
 * Runs under the target lock; the database is opened READ_ONLY (quick check).
 * Throws IntegrityError (4) when the database has any other damage (that is
 * not a schema change to accept), BusyError (5), UsageError (2) when not confirmed.
 */
export async function acceptSchema(config: Config, target: string, opts: AcceptSchemaOptions = {}): Promise<AcceptSchemaResult> {
  const repo = new BackupRepository(config.backupDir);
  const file = config.targets[target]!.path;
  repo.ensureDir();
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'accept-schema'), opts.waitMs ?? 0, opts.signal);
  try {
    const c = await checkHealth(config, target, { quick: true, signal: opts.signal });
    if (c.busy) throw inUseError(file, c.busy, `retry when it is idle: dbguard accept-schema ${target} --wait 5m`);
    const other = c.findings.filter((f) => f.severity === 'error' && !SCHEMA_CODES.has(f.code));
    const configured = c.findings.filter((f) => f.code === 'missing-table' || f.code === 'missing-sequence');
    if (other.length || !c.catalog) {
      throw new IntegrityError(`${target}: refusing to accept the schema of a damaged database: ${other[0]?.message ?? 'its catalog could not be read'}`, `accept-schema records an intended schema change only; run dbguard check ${target}, then dbguard repair ${target}`, 'damaged');
    }
    if (configured.length) {
      throw new IntegrityError(`${target}: ${configured[0]!.message}`, `the config requires it: remove it from targets.${target}.requiredTables if it was dropped on purpose, else dbguard restore ${target}`, 'missing-table');
    }
    const accepted = c.lost ?? [];
    const result: AcceptSchemaResult = { target, path: file, changed: false, dryRun: Boolean(opts.dryRun), accepted, record: null, acceptedAt: null };
    if (!accepted.length || opts.dryRun) return result;
    if (opts.confirm && !(await opts.confirm(accepted))) throw new UsageError('accept-schema cancelled; nothing was changed', 'run again and confirm, or pass --yes', 'cancelled');
    const acceptedAt = (opts.clock ?? systemClock).now().toISOString();
    const record: SchemaAcceptance = {
      format: ACCEPTED_SCHEMA_FORMAT,
      target,
      acceptedAt,
      covers: repo.list(target).map((e) => e.id),
      tables: c.catalog.tables,
      sequences: c.catalog.sequences,
      dropped: accepted.map(({ kind, schema, name }) => ({ kind, schema, name })),
    };
    try {
      result.record = writeAcceptedSchema(repo.dir, record);
    } catch (err) {
      throw storageErrorFrom(err, acceptedSchemaPath(repo.dir, target), 'writing') ?? err;
    }
    result.changed = true;
    result.acceptedAt = acceptedAt;
    return result;
  } catch (err) {
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, repo.dir, 'accepting the schema in') ?? err;
  } finally {
    lock.release();
  }
}
