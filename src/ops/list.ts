import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { BackupRepository, type BackupEntry } from '../storage/repository';

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
  /** How the copy was made consistent ("locked" or "live"); null without a manifest. Manifests from before live backups count as locked. */
  consistency: 'locked' | 'live' | null;
  attempts: number | null;
}

/** The backups of each selected target, newest first. Read-only: never opens a database. */
export function listBackups(config: Config, selector: string | undefined, env: NodeJS.ProcessEnv = process.env): { targets: string[]; backups: ListedBackup[] } {
  const targets = selectTargets(config, selector, env.ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const backups = targets.flatMap((t) =>
    repo.list(t).map((e) => ({
      target: e.target,
      id: e.id,
      file: e.file,
      createdAt: e.createdAt.toISOString(),
      bytes: e.bytes,
      status: e.status,
      tables: e.manifest ? e.manifest.tables.length : null,
      rows: e.manifest ? e.manifest.tables.reduce((n, t) => n + t.rows, 0) : null,
      verifiedAt: e.manifest?.verifiedAt ?? null,
      consistency: e.manifest ? e.manifest.consistency ?? 'locked' : null,
      attempts: e.manifest ? e.manifest.attempts ?? 1 : null,
    })),
  );
  return { targets, backups };
}
