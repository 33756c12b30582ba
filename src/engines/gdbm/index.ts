import * as path from 'node:path';
import { checkGdbmFile } from './check';
import { isGdbmHeader } from './magic';
import { createEmptyGdbm, recoverCopy } from './recover';
import { snapshotGdbm } from './snapshot';
import { gdbmtoolVersion, GDBMTOOL_INSTALL, GDBMTOOL_PACKAGE } from './tool';
import { validateGdbmCopy } from './validate';

/**
 * File extension of backups of `source`: the source's own when it has one
 * (`flower.db` → `.db`), else `.gdbm`.
 */
export function gdbmBackupExtension(source: string): string {
  const ext = path.extname(source);
  return ext && ext.length <= 8 ? ext : '.gdbm';
}

/**
 * Everything dbguard knows about GDBM, in one place. gdbm 1.23 keeps a
 * database in one file (no side files: crash tolerance's snapshot files exist
 * only when an application asks for them with gdbm_failure_atomic, and are not
 * part of the database), so `sideFiles` is always empty.
 */
export const gdbmEngine = {
  name: 'gdbm' as const,
  detect: isGdbmHeader,
  sideFiles: (_file: string): string[] => [],
  backupExtension: gdbmBackupExtension,
  check: checkGdbmFile,
  snapshot: snapshotGdbm,
  validate: validateGdbmCopy,
  recover: recoverCopy,
  recreate: createEmptyGdbm,
  /** For doctor: what is installed, or how to install it. */
  requirement: () => {
    const version = gdbmtoolVersion();
    return version
      ? { ok: true, detail: version }
      : { ok: false, detail: 'gdbmtool is not installed (GDBM targets cannot be checked, backed up or repaired)', fix: `${GDBMTOOL_INSTALL} (Debian package ${GDBMTOOL_PACKAGE})` };
  },
};
