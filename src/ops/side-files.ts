import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Engine } from '../engines/engine';

/**
 * The side files of `file` (as `engine` names them: a WAL, a journal) that
 * exist now, sorted; [] when the folder cannot be read. Read-only; never throws.
 */
export function sideFilesOf(file: string, engine: Engine): string[] {
  const base = path.basename(file);
  try {
    return fs.readdirSync(path.dirname(file)).filter((n) => n !== base && engine.isSideFile(base, n)).map((n) => path.join(path.dirname(file), n)).sort();
  } catch {
    return [];
  }
}

/**
 * Removes a temporary copy dbguard made (never a user's database) and its
 * side files. Idempotent; never throws: a leftover is recognised and removed
 * by the next run (BackupRepository.leftovers).
 */
export function removeWithSideFiles(file: string, engine: Engine): void {
  for (const f of [file, ...sideFilesOf(file, engine)]) {
    try { fs.rmSync(f, { force: true }); } catch { /* the next run removes it */ }
  }
}
