import * as fs from 'node:fs';
import * as path from 'node:path';
import { storageErrorFrom } from '../core/errors';
import type { ChunkPlan } from '../engines/engine';
import { MANIFEST_FORMAT, type Manifest } from './manifest';
import { parseBackupName, type ParsedFileName } from './naming';

/**
 * The local store's published backups, read synchronously so that the
 * repository's listing (used by status, health, the daemon, engineOf…) can
 * stay synchronous. It reads only the documented publication objects of
 * dbguard-store/1 (`snapshots/<target>/<id><ext>.json`, README "Store
 * format"); everything else about the store goes through the `Store` facade.
 */

/** The `store` member of a manifest published in the store (see README "Store format"). */
export interface StoreManifestRef {
  blocks: string;
  blocksSha256: string;
  blockCount: number;
  chunking: ChunkPlan;
}

/** One published store backup (structurally the store's `StoreSnapshot`). */
export interface ListedSnapshot {
  target: string;
  id: string;
  fileName: string;
  manifest: Manifest & { store: StoreManifestRef };
  name: ParsedFileName;
}

/** `<backupDir>/store`: where the local store lives. */
export const localStoreRoot = (backupDir: string) => path.join(backupDir, 'store');

/** The manifest object of a store backup, relative to the local store root. */
export const snapshotManifestKey = (target: string, fileName: string) => `snapshots/${target}/${fileName}.json`;

function readDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw storageErrorFrom(err, dir, 'listing') ?? err;
  }
}

/**
 * The backups published in the local store under `backupDir` (of `target`,
 * or of every target): manifests that parse, are of our format, and whose
 * id, target and name agree with where they lie. Anything else (a `.blocks`
 * without manifest, a manifest being written) is not a backup and is skipped.
 * Read-only; throws StorageError only when a folder exists but cannot be listed.
 */
export function listStoreSnapshots(backupDir: string, target?: string): ListedSnapshot[] {
  const root = path.join(localStoreRoot(backupDir), 'snapshots');
  const targets = target ? [target] : readDir(root);
  const out: ListedSnapshot[] = [];
  for (const t of targets) {
    for (const n of readDir(path.join(root, t))) {
      if (!n.endsWith('.json')) continue;
      const fileName = n.slice(0, -'.json'.length);
      const name = parseBackupName(fileName);
      if (!name || name.target !== t) continue;
      let manifest: ListedSnapshot['manifest'];
      try {
        manifest = JSON.parse(fs.readFileSync(path.join(root, t, n), 'utf8'));
      } catch {
        continue;
      }
      if (manifest?.format !== MANIFEST_FORMAT || manifest.id !== name.id || manifest.target !== t || !manifest.validation || !manifest.store) continue;
      out.push({ target: t, id: name.id, fileName, manifest, name });
    }
  }
  return out;
}

/** True when the local store holds a published manifest of backup `id` with one of `extensions`. */
export function storeHas(backupDir: string, id: string, target: string, extensions: readonly string[]): boolean {
  return extensions.some((ext) => fs.existsSync(path.join(localStoreRoot(backupDir), snapshotManifestKey(target, `${id}${ext}`))));
}
