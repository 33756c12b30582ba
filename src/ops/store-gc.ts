import type { Config } from '../config/load';
import { DbguardError, storageErrorFrom } from '../core/errors';
import type { CollectResult } from '../storage/store';
import { retryWhileBusy } from '../core/retry';
import { localStoreExists, openLocalStore } from './store-access';

/**
 * The garbage collection of `prune`: under the store's EXCLUSIVE lock (it
 * never runs while a backup ingests or a restore reads), removes packs and
 * indexes no backup references and repacks packs whose live share fell
 * below the threshold (Store.collect: new pack and index are put before
 * old ones are deleted, so a kill loses nothing). With `dryRun`, says what
 * it would remove. Undefined when there is no store. Waits `waitMs` for
 * the lock, then BusyError (5) naming the holder; StorageError (6).
 */
export async function collectLocalStore(config: Config, opts: { dryRun?: boolean; waitMs?: number; signal?: AbortSignal } = {}): Promise<CollectResult | undefined> {
  if (!localStoreExists(config.backupDir)) return undefined;
  try {
    const store = await openLocalStore(config.backupDir);
    // collect takes the exclusive lock itself; waiting here is for a busy one
    return await retryWhileBusy(() => store.collect({ dryRun: opts.dryRun, signal: opts.signal }), opts.waitMs ?? 0, opts.signal);
  } catch (err) {
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, config.backupDir, 'collecting unreferenced packs in the store under') ?? err;
  }
}
