import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbguardError, InterruptedError, StorageError, storageErrorFrom } from '../core/errors';
import { writeFileAtomic } from '../storage/atomic';
import { failpoint } from '../storage/failpoint';
import type { RepairState } from '../storage/quarantine';
import type { RepairResult } from './repair';

/**
 * Turns a failure after the quarantine copy into an error that says where
 * every file is and how to put the damaged one back, after recording it in
 * RECOVERY.json. An interruption becomes InterruptedError (130).
 */
export function afterQuarantine(err: unknown, target: string, file: string, quarantine: string, copies: string[], result: RepairResult, signal?: AbortSignal): Error {
  const interrupted = err instanceof InterruptedError || (Boolean(signal?.aborted) && !(err instanceof StorageError));
  const message = (err as Error).message ?? String(err);
  const recorded = writeRecord(quarantine, { ...result, ok: false, error: message } as RepairResult, interrupted ? 'interrupted' : 'failed');
  const where = fs.existsSync(file)
    ? `${file} is still the damaged file; a copy of it is in ${quarantine}`
    : `${file} is missing; the damaged file is in ${quarantine}${copies.length ? `; put it back with: cp -p ${copies.map((c) => `'${c}'`).join(' ')} '${path.dirname(file)}/'` : ''}`;
  const record = recorded ? ` (see ${path.join(quarantine, 'RECOVERY.json')})` : ' (RECOVERY.json could not be written; this message is the only record)';
  if (interrupted) return new InterruptedError(`repair of ${target} interrupted: ${where}${record}`, `run dbguard repair ${target} again`).because(err);
  const base = err instanceof DbguardError ? err : storageErrorFrom(err, file, 'repairing') ?? (err instanceof Error ? err : new Error(message));
  base.message = `${base.message}; ${where}${record}`;
  return base;
}

/**
 * Writes RECOVERY.json in the quarantine folder (atomic): what was found,
 * what was done, what to do next, and `state` (in-progress while the repair
 * runs, so a killed one is recognised). The first write (in-progress) throws
 * StorageError, before anything at the target changed; later writes return
 * false instead, since the repair's outcome matters more than its record.
 */
export function writeRecord(quarantine: string, result: RepairResult, state: RepairState): boolean {
  const { after, ...rest } = result;
  try {
    failpoint('recovery-record', quarantine);
    writeFileAtomic(path.join(quarantine, 'RECOVERY.json'), `${JSON.stringify({ at: new Date().toISOString(), state, ...rest, afterOk: after?.ok ?? null }, null, 2)}\n`);
    return true;
  } catch (err) {
    if (state === 'in-progress') throw storageErrorFrom(err, path.join(quarantine, 'RECOVERY.json'), 'writing') ?? err;
    return false;
  }
}
