import * as fs from 'node:fs';
import { inUseError, IntegrityError, InterruptedError } from '../core/errors';
import { EngineFailed, type Engine } from '../engines/engine';
import { notRunError } from './worker-errors';

/** Free space needed for a copy of `bytes`: the copy plus 10% and 16 MiB of headroom. */
export const spaceNeeded = (bytes: number) => Math.ceil(bytes * 1.1) + 16 * 1024 * 1024;

/** The error for a failed engine worker during a backup: interrupted (130), busy (5), not run (6) or an unreadable source (4). */
export function workerError(err: unknown, target: string, file: string, engine: Engine): Error {
  if (!(err instanceof EngineFailed)) return err as Error;
  const f = err.failure;
  // Ctrl-C on a terminal signals the whole process group: the worker dies of it too.
  if (f.kind === 'crash' && /\bsignal SIG(INT|TERM|HUP)\b/.test(f.message)) return new InterruptedError(`backup of ${target} interrupted`).because(err);
  if (f.kind === 'lock') {
    return inUseError(file, f, 'stop that process, or retry with --wait 5m; dbguard needs a shared (read-only) open for a consistent copy', ', which holds it read-write').because(err);
  }
  // A full disk while copying or checkpointing the copy is the backup folder's problem, never the source's.
  const notRun = notRunError(err, `backing up ${target} (${file})`);
  if (notRun) return notRun;
  return new IntegrityError(`${target}: ${engine.label} cannot read ${file}: ${f.message}`, `run dbguard check ${target}, then dbguard repair ${target}`).because(err);
}

/** Free bytes for an unprivileged user on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The refusal (exit 4) to back up a damaged source, naming its first finding. */
export function refuse(target: string, damage: string[]): IntegrityError {
  return new IntegrityError(
    `${target}: refusing to back up a damaged database: ${damage[0]}${damage.length > 1 ? ` (and ${damage.length - 1} more finding(s))` : ''}`,
    `run dbguard check ${target} for details and dbguard repair ${target}; backing up damage would rotate good backups away (--allow-damaged stores the copy as invalid)`,
    'source-damaged',
  );
}

