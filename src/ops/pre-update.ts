import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { DbguardError } from '../core/errors';
import type { Logger } from '../core/types';
import { backupTarget, type BackupResult } from './backup';
import { checkHealth } from './health';
import type { ProgressFn } from './progress';
import { repair, type RepairResult } from './repair';

export interface PreUpdateTarget {
  target: string;
  ok: boolean;
  /** Health before anything was done. */
  healthyBefore: boolean;
  repair?: Pick<RepairResult, 'strategy' | 'quarantine' | 'details' | 'ok'>;
  backup?: Pick<BackupResult, 'id' | 'file' | 'bytes' | 'status'>;
  error?: { code: string; exitCode: number; message: string; hint: string };
}

/**
 * The deploy hook: for each target, check (full); if healthy, back up; if
 * damaged, repair (auto), check again and back up the recovered database.
 * A target ends ok only when it is healthy with a fresh valid backup.
 * Errors of one target are recorded and the next target still runs.
 */
export async function preUpdate(config: Config, selector: string | undefined, opts: { waitMs?: number; signal?: AbortSignal; onProgress?: ProgressFn; log?: Logger; env?: NodeJS.ProcessEnv } = {}): Promise<PreUpdateTarget[]> {
  const names = selectTargets(config, selector ?? 'both', undefined);
  const out: PreUpdateTarget[] = [];
  for (const target of names) {
    const entry: PreUpdateTarget = { target, ok: false, healthyBefore: false };
    out.push(entry);
    try {
      const before = await checkHealth(config, target, { onProgress: opts.onProgress });
      entry.healthyBefore = before.ok;
      if (!before.ok) {
        const r = await repair(config, target, { strategy: 'auto', waitMs: opts.waitMs, signal: opts.signal, onProgress: opts.onProgress, log: opts.log });
        entry.repair = { strategy: r.strategy, quarantine: r.quarantine, details: r.details, ok: r.ok };
        if (!r.ok) continue;
      }
      const b = await backupTarget(config, target, { live: false, waitMs: opts.waitMs, signal: opts.signal, onProgress: opts.onProgress, log: opts.log });
      entry.backup = { id: b.id, file: b.file, bytes: b.bytes, status: b.status };
      entry.ok = b.status === 'valid';
    } catch (err) {
      if (!(err instanceof DbguardError)) throw err;
      entry.error = { code: err.code, exitCode: err.exitCode, message: err.message, hint: err.hint };
      if (err.exitCode === 130) break;
    }
  }
  return out;
}
