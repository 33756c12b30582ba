import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError } from '../core/errors';

/** What RECOVERY.json says about the repair that made a quarantine folder. */
export type RepairState = 'in-progress' | 'done' | 'failed' | 'interrupted' | 'unknown';

export interface QuarantineFolder {
  dir: string;
  /** From RECOVERY.json; `unknown` when it is missing or unreadable (a repair killed before writing it). */
  state: RepairState;
  files: string[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The quarantine folders of `target` under `<backupDir>/quarantine/`, oldest
 * first (by name, which holds the stamp). A missing quarantine folder means
 * none; any other read failure throws StorageError naming the folder.
 */
export function quarantineFolders(backupDir: string, target: string): QuarantineFolder[] {
  const parent = path.join(backupDir, 'quarantine');
  const pattern = new RegExp(`^${escape(target)}_\\d{8}_\\d{6}(_\\d+)?$`);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StorageError(`cannot read the quarantine folder ${parent}: ${(err as Error).message}`, `check the permissions of ${parent}`, 'readdir-failed').because(err);
  }
  const stampOf = (n: string) => n.slice(target.length + 1).split('_').map((x) => x.padStart(8, '0')).join('_');
  return names.filter((n) => pattern.test(n)).sort((a, b) => stampOf(a).localeCompare(stampOf(b))).flatMap((n) => {
    const dir = path.join(parent, n);
    let files: string[];
    try { files = fs.readdirSync(dir); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw new StorageError(`cannot read the quarantine folder ${dir}: ${(err as Error).message}`, `check the permissions of ${dir}`, 'readdir-failed').because(err);
    }
    let state: RepairState = 'unknown';
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(dir, 'RECOVERY.json'), 'utf8')) as { state?: RepairState; ok?: boolean };
      // records written before `state` existed were written when the repair ended
      state = rec.state ?? (rec.ok ? 'done' : 'failed');
    } catch { /* no record: the repair died before it could write one */ }
    return [{ dir, state, files }];
  });
}

/**
 * Quarantine folders left by repairs of `target` that never finished (killed
 * or interrupted before they wrote their final RECOVERY.json), newer than the
 * last repair that did finish.
 */
export function unfinishedRepairs(backupDir: string, target: string): QuarantineFolder[] {
  const all = quarantineFolders(backupDir, target);
  const lastDone = all.map((q) => q.state).lastIndexOf('done');
  return all.slice(lastDone + 1).filter((q) => q.state === 'in-progress' || q.state === 'unknown' || q.state === 'interrupted');
}

/** The newest quarantine folder of `target` that holds a file named `basename`, if any. */
export function quarantineHolding(backupDir: string, target: string, basename: string): string | undefined {
  return quarantineFolders(backupDir, target).reverse().find((q) => q.files.includes(basename))?.dir;
}
