import * as fs from 'node:fs';
import type { Finding } from '../core/types';
import type { BackupEntry } from '../storage/repository';
import { BackupRepository } from '../storage/repository';
import type { StoreCheckResult, StoreSnapshot } from '../storage/store';
import { snapshotManifestKey } from '../storage/store-listing';
import { materialiseEntry } from './backup-source';
import { openLocalStore, snapshotOf, withStoreLock } from './store-access';
import type { ProgressFn } from './progress';
import { contentFindings } from './verify';

const error = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });

/**
 * Checks the store backups among `entries` at once (one pass over the packs
 * they need): every block present in a pack and hashing to its name. Returns
 * each backup's findings by id (an empty list: sound). A damaged or missing
 * pack yields a finding on every backup that depends on it, naming the pack
 * and those backups. Holds the store's shared lock. Throws when the check
 * could not run (StorageError, BusyError), never a finding for that.
 */
export async function checkStoreBackups(backupDir: string, entries: BackupEntry[], opts: { signal?: AbortSignal; waitMs?: number } = {}): Promise<Map<string, Finding[]>> {
  const out = new Map<string, Finding[]>();
  const snaps = entries.map((e) => snapshotOf(e)).filter((s): s is StoreSnapshot => s !== undefined);
  if (!snaps.length) return out;
  const store = await openLocalStore(backupDir);
  const result = await withStoreLock(store, 'shared', 'verify', () => store.check({ snapshots: snaps, readData: true, signal: opts.signal }), opts);
  return findingsOfCheck(result, snaps);
}

/** A store check's result as findings per backup id (each damaged or missing pack named in every backup it affects). Pure. */
export function findingsOfCheck(result: StoreCheckResult, snaps: StoreSnapshot[]): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  for (const s of snaps) out.set(s.id, []);
  const add = (id: string, f: Finding) => out.get(id)?.push(f);
  const what = { missing: 'is missing', damaged: 'is damaged', 'no-index': 'has no index' } as const;
  for (const p of result.packs) {
    const ids = p.snapshots.map((s) => s.id);
    for (const s of p.snapshots) {
      add(s.id, error(`pack-${p.problem}`, `${s.id}: store pack ${p.pack} ${what[p.problem]} (${p.detail}); it holds blocks of ${ids.length} backup(s): ${ids.join(', ')}`,
        `these backups cannot be restored from the store; restore one that does not need this pack (dbguard verify ${s.target} --all says which), and run dbguard backup ${s.target} to store the blocks again`));
    }
  }
  // what the snapshot's own check found beyond its packs (a missing or altered block list, a block in no index)
  for (const s of result.snapshots) {
    if (s.ok || !out.has(s.id)) continue;
    const known = out.get(s.id)!;
    for (const f of s.findings) {
      if (f.pack && known.some((k) => k.message.includes(f.pack!))) continue;
      add(s.id, { severity: f.severity, code: f.code, message: f.message.includes(s.id) ? f.message : `${s.id}: ${f.message}`, hint: f.hint });
    }
  }
  return out;
}

/**
 * `verify --read-data` for a store backup: materialises it into a temporary
 * file in the backup folder (named like a backup's temporary file, so a
 * killed run's leftover is cleaned by the next backup), reads it back in full
 * in the engine's process against the manifest, and removes it. Returns the
 * findings (a bad block is one, never a throw); throws when it could not run.
 */
export async function readStoreBackup(backupDir: string, entry: BackupEntry, opts: { signal?: AbortSignal; waitMs?: number; onProgress?: ProgressFn } = {}): Promise<Finding[]> {
  const tmp = new BackupRepository(backupDir).tempOf(entry.id);
  try {
    await materialiseEntry(backupDir, entry, tmp, { signal: opts.signal, waitMs: opts.waitMs });
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode === 4) return [error('blocks-damaged', `${entry.id}: ${(err as Error).message}`, `restore an older backup of ${entry.target}`)];
    throw err;
  }
  try {
    return await contentFindings(entry, tmp, { signal: opts.signal, onProgress: opts.onProgress });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Records `verifiedAt` in a store backup's manifest (an atomic put of the same object, nothing else changed). */
export async function recordVerified(backupDir: string, snap: StoreSnapshot, at: string): Promise<void> {
  const store = await openLocalStore(backupDir);
  const manifest = { ...snap.manifest, verifiedAt: at };
  await store.backend.put(snapshotManifestKey(snap.target, snap.fileName), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
}
