import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import type { Finding } from '../core/types';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { engineOfBackup } from './engine-of';
import { localStoreExists, openLocalStore } from './store-access';

/**
 * The warning for backups dated after the clock: they are listed last and
 * never chosen as "latest" until the clock (or the manifest) is put right.
 * Undefined when there is none. Pure.
 */
export function futureBackupsFinding(target: string, entries: BackupEntry[], now: Date = new Date()): Finding | undefined {
  const future = entries.filter((e) => e.future);
  if (!future.length) return undefined;
  return {
    severity: 'warning',
    code: 'backup-from-future',
    message: `${target}: ${future.length} backup(s) dated in the future (${future.map((e) => `${e.id} at ${e.createdAt.toISOString()}`).join(', ')}; the clock says ${now.toISOString()}): they are never chosen as the latest backup`,
    hint: `check the system clock (timedatectl); restore such a backup only explicitly with dbguard restore ${target} --from ID, or move it out of the backup folder`,
  };
}

export interface ListedBackup {
  target: string;
  id: string;
  file: string;
  createdAt: string;
  bytes: number;
  status: BackupEntry['status'];
  tables: number | null;
  rows: number | null;
  verifiedAt: string | null;
  /** Dated after the clock: listed last and never chosen as "latest". */
  future: boolean;
  /** How the copy was made consistent ("locked" or "live"); null without a manifest. Manifests from before live backups count as locked. */
  consistency: 'locked' | 'live' | null;
  attempts: number | null;
  /** The engine that made the backup (manifest `engine.name`, else told from the file: "duckdb"…); null when unknown. */
  engine: string | null;
  /** `plain` (a file in backupDir), `store` (only in the deduplicated store), `plain+store`, or `remote` (list --remote). */
  location: BackupEntry['location'] | 'remote';
}

/** The local store's real size beside the sum of its backups' logical sizes. */
export interface StoreUsage {
  /** Bytes on disk: packs, indexes, block lists, manifests. */
  storedBytes: number;
  /** Sum of the store backups' file sizes. */
  logicalBytes: number;
  /** logicalBytes ÷ storedBytes (how many times the history would take as plain copies); null for an empty store. */
  dedupRatio: number | null;
  packs: number;
  blocks: number;
  snapshots: number;
}

/** The local store's usage, or null when there is no store under backupDir. Read-only; throws StorageError when the store cannot be read. */
export async function storeUsage(config: Config): Promise<StoreUsage | null> {
  if (!localStoreExists(config.backupDir)) return null;
  const stats = await (await openLocalStore(config.backupDir)).stats();
  return { ...stats, dedupRatio: stats.storedBytes > 0 ? stats.logicalBytes / stats.storedBytes : null };
}

/**
 * The backups of each selected target, newest first by their manifest's
 * `createdAt`, those dated in the future last with a `backup-from-future`
 * warning. Read-only: never opens a database.
 */
export function listBackups(config: Config, selector: string | undefined, env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): { targets: string[]; backups: ListedBackup[]; warnings: (Finding & { target: string })[] } {
  const targets = selectTargets(config, selector, env.ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const warnings: (Finding & { target: string })[] = [];
  const backups = targets.flatMap((t) => {
    const entries = repo.list(t, now);
    const w = futureBackupsFinding(t, entries, now);
    if (w) warnings.push({ target: t, ...w });
    return entries.map((e) => listedOf(e));
  });
  return { targets, backups, warnings };
}

/** One listed backup as `list --json` shows it. Pure. */
export function listedOf(e: BackupEntry): ListedBackup {
  return {
      target: e.target,
      id: e.id,
      file: e.file,
      createdAt: e.createdAt.toISOString(),
      bytes: e.bytes,
      status: e.status,
      tables: e.manifest ? e.manifest.tables.length : null,
      rows: e.manifest ? e.manifest.tables.reduce((n, t) => n + t.rows, 0) : null,
      verifiedAt: e.manifest?.verifiedAt ?? null,
      future: e.future,
      consistency: e.manifest ? e.manifest.consistency ?? 'locked' : null,
      attempts: e.manifest ? e.manifest.attempts ?? 1 : null,
      engine: e.manifest?.engine?.name ?? engineOfBackup(e)?.name ?? null,
      location: e.location,
  };
}
