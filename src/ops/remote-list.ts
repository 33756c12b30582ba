import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import type { Finding } from '../core/types';
import { futureBackupsFinding, listedOf, type ListedBackup, type StoreUsage } from './list';
import { remoteEntries, withRemoteStore } from './remote-store';

/**
 * `list --remote`: the backups on the remote of each selected target, newest
 * first (location `remote`), and the remote store's usage. Read-only: opens
 * the remote without creating it. Throws ConfigError (no remote, refused
 * credentials, wrong key), StorageError (unreachable, another tool's
 * objects, no store yet).
 */
export async function listRemote(config: Config, selector: string | undefined, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<{ targets: string[]; backups: ListedBackup[]; warnings: (Finding & { target: string })[]; remote: StoreUsage & { where: string } }> {
  const targets = selectTargets(config, selector, env.ENVIRONMENT);
  return withRemoteStore(config, env, { signal }, async ({ store, where }) => {
    const now = new Date();
    const warnings: (Finding & { target: string })[] = [];
    const backups: ListedBackup[] = [];
    for (const t of targets) {
      const entries = await remoteEntries(store, config.backupDir, t, now);
      const w = futureBackupsFinding(t, entries, now);
      if (w) warnings.push({ target: t, ...w });
      backups.push(...entries.map((e) => ({ ...listedOf(e), location: 'remote' as const })));
    }
    const stats = await store.stats();
    return { targets, backups, warnings, remote: { where, ...stats, dedupRatio: stats.storedBytes > 0 ? stats.logicalBytes / stats.storedBytes : null } };
  });
}
