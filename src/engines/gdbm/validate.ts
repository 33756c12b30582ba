import type { Finding } from '../../core/types';
import { gdbmFailureFinding } from './check';
import { countKeys, readAllRecords } from './read';

export interface GdbmValidation {
  ok: boolean;
  keys?: number;
  findings: Finding[];
}

/**
 * Reopens a copy (`file`) in a fresh gdbmtool process, reads every record and
 * compares the key count with `expectedKeys` (the count taken under the lock
 * at copy time; omit it to only require a full read). Read-only. Throws only
 * when gdbmtool cannot run or on abort.
 */
export async function validateGdbmCopy(file: string, target: string, expectedKeys?: number, signal?: AbortSignal): Promise<GdbmValidation> {
  const counted = await countKeys(file, signal);
  if (counted.failure) return { ok: false, findings: [gdbmFailureFinding(file, counted.failure, target)] };
  const read = await readAllRecords(file, signal);
  if (read.failure) return { ok: false, keys: counted.keys, findings: [{ ...gdbmFailureFinding(file, read.failure, target), message: `only ${read.records} of ${counted.keys} keys of ${file} can be read: ${read.failure.message}` }] };
  const findings: Finding[] = [];
  if (read.records !== counted.keys) findings.push({ severity: 'error', code: 'gdbm-unreadable', message: `${file}: gdbm counts ${counted.keys} keys but a full read returned ${read.records}`, hint: `dbguard backup ${target}` });
  if (expectedKeys !== undefined && counted.keys !== expectedKeys) {
    findings.push({ severity: 'error', code: 'count-mismatch', message: `${file} holds ${counted.keys} keys; the source had ${expectedKeys} when it was copied`, hint: `dbguard backup ${target} again` });
  }
  return { ok: findings.length === 0, keys: counted.keys, findings };
}
