import * as fs from 'node:fs';
import type { Finding, TableCount } from '../../core/types';
import { readGdbmKind, type GdbmFileKind } from './magic';
import type { GdbmFailure } from './failure';
import { countKeys, readAllRecords } from './read';

/**
 * GDBM has no tables: its catalog is one pseudo-table `keys` (schema `main`)
 * whose row count is the number of keys, so required-table and row-count
 * rules apply to it like to any table.
 */
export const GDBM_TABLE = { schema: 'main', name: 'keys' } as const;

export interface GdbmCheck {
  findings: Finding[];
  /** `[{ schema: 'main', name: 'keys', rows }]` when the keys could be counted. */
  tables: TableCount[];
  keys?: number;
  format?: string;
  bytes?: number;
  /** Another process holds the file for writing: nothing could be checked (exit 5). */
  busy?: { message: string };
}

const err = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });

/** Findings from the first bytes of the file; `stop` when gdbm must not be asked to open it. */
export function gdbmHeaderFindings(file: string, k: GdbmFileKind, target: string): { findings: Finding[]; stop: boolean } {
  const repair = `dbguard repair ${target}`;
  switch (k.kind) {
    case 'empty':
      return { stop: true, findings: [err('empty-file', `${file} is empty (0 bytes), not a GDBM database`, `${repair} (restores the newest valid backup, else recreates an empty database)`)] };
    case 'text':
      return { stop: true, findings: [err('not-gdbm', `${file} is a text file ("${k.preview.trim().slice(0, 30)}"), not a GDBM database`, `${repair} (the file is moved to quarantine, not deleted)`)] };
    case 'other':
      return { stop: true, findings: [err('bad-magic', `${file} has no GDBM magic number at offset 0 (found 0x${k.magic.toString(16).padStart(8, '0')}): the header was overwritten or this is not a GDBM file`, repair)] };
    case 'gdbm':
      if (k.byteSwapped) return { stop: true, findings: [err('gdbm-byte-swapped', `${file} is a GDBM database written on a machine of the other byte order; gdbm cannot open it here`, `export it with gdbmtool on a machine of that byte order, or dbguard restore ${target}`)] };
      return { stop: false, findings: [] };
  }
}

/** The finding for a failure gdbm reported while opening or reading `file`. */
export function gdbmFailureFinding(file: string, f: GdbmFailure, target: string): Finding {
  const repair = `dbguard repair ${target}`;
  switch (f.kind) {
    case 'needs-recovery':
      return err('gdbm-needs-recovery', `${file}: Database needs recovery (a writer stopped in the middle of an update, e.g. killed or out of disk)`, `${repair} (runs gdbmtool recover on a copy; the original is kept in quarantine)`);
    case 'empty':
      return err('empty-file', `${file} is empty, not a GDBM database`, repair);
    case 'byte-swapped':
      return err('gdbm-byte-swapped', `${file}: ${f.message}`, `dbguard restore ${target}`);
    default:
      return err('gdbm-unreadable', `gdbm cannot read ${file}: ${f.message}`, `${repair} (recovers the readable keys, or restores the newest valid backup)`);
  }
}

/**
 * Checks a GDBM file without modifying it: the magic number, a read-only open
 * and key count, then (unless `quick`) a read of every key and value. A file
 * held by a writer is `busy`, not damaged. Throws only when gdbmtool cannot run
 * (CouldNotCheckError, exit 6), on abort (InterruptedError) and for
 * file-system errors other than a missing file.
 */
export async function checkGdbmFile(file: string, target: string, opts: { quick?: boolean; signal?: AbortSignal } = {}): Promise<GdbmCheck> {
  let bytes: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return { tables: [], findings: [err('not-a-file', `${file} is not a regular file`, `point targets.${target}.path at the database file, then dbguard check ${target}`)] };
    bytes = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return { tables: [], findings: [err('missing', `database file ${file} does not exist`, `dbguard restore ${target} to put the newest valid backup in place, or fix targets.${target}.path`)] };
  }
  const kind = readGdbmKind(file);
  const head = gdbmHeaderFindings(file, kind, target);
  const format = kind.kind === 'gdbm' ? kind.format : undefined;
  if (head.stop) return { tables: [], findings: head.findings, bytes, format };

  const truncated = kind.kind === 'gdbm' && kind.nextBlock !== undefined && kind.nextBlock > bytes;
  const cut = truncated ? [err('truncated', `${file} is truncated: ${bytes} bytes, but its header says gdbm has used ${(kind as { nextBlock: number }).nextBlock}`, `dbguard repair ${target}`)] : [];
  const counted = await countKeys(file, opts.signal);
  if (counted.failure) {
    if (truncated && counted.failure.kind === 'corrupt') return { tables: [], findings: cut, bytes, format };
    if (counted.failure.kind === 'busy') return { tables: [], findings: [], bytes, format, busy: { message: `${file} is open for writing by another process (${counted.failure.message})` } };
    return { tables: [], findings: [gdbmFailureFinding(file, counted.failure, target)], bytes, format };
  }
  const keys = counted.keys!;
  const tables = [{ ...GDBM_TABLE, rows: keys }];
  if (opts.quick) return { tables, findings: [], keys, bytes, format };

  const read = await readAllRecords(file, opts.signal);
  if (read.failure?.kind === 'busy') return { tables, findings: [], keys, bytes, format, busy: { message: `${file} was opened for writing by another process during the check (${read.failure.message})` } };
  if (read.failure) {
    const f = gdbmFailureFinding(file, read.failure, target);
    if (f.code === 'gdbm-unreadable') f.message = `only ${read.records} of ${keys} keys of ${file} can be read: ${read.failure.message}`;
    return { tables, findings: [f], keys, bytes, format };
  }
  if (read.records !== keys) {
    return { tables, findings: [err('gdbm-unreadable', `${file}: gdbm counts ${keys} keys but a full read returned ${read.records}`, `dbguard repair ${target}`)], keys, bytes, format };
  }
  return { tables, findings: [], keys, bytes, format };
}
