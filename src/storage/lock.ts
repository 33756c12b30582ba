import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError, storageErrorFrom } from '../core/errors';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export interface HeldLock {
  file: string;
  /** Set when a lock of a dead process was taken over. */
  tookOverFrom?: LockInfo;
  release(): void;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * Takes the per-target run lock `<dir>/.<target>.lock` (created with O_EXCL,
 * recording PID and host). A lock whose process is dead on this host is taken
 * over and reported in `tookOverFrom`. Throws BusyError (exit 5) naming the
 * holder when a live run holds it. Never waits; see `acquireLockWaiting`.
 */
export function acquireLock(dir: string, target: string, command: string): HeldLock {
  const file = path.join(dir, `.${target}.lock`);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), command, startedAt: new Date().toISOString() };
  let tookOverFrom: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        file,
        tookOverFrom,
        release() {
          if (released) return;
          released = true;
          if (readLock(file)?.pid === me.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageErrorFrom(err, file, 'creating the lock file') ?? err;
    }
    const holder = readLock(file);
    const stale = holder ? holder.host === me.host && !alive(holder.pid) : true;
    if (!stale) {
      throw new BusyError(
        `another dbguard run (${holder!.command}, PID ${holder!.pid} on ${holder!.host}, since ${holder!.startedAt}) holds the lock of ${target}`,
        `wait for it to finish, or use --wait 5m; if no such process exists, remove ${file}`,
        holder!.pid,
        'locked',
      );
    }
    if (holder) tookOverFrom = holder;
    // Rename-then-remove so two runs taking over the same stale lock cannot both succeed.
    const grave = `${file}.stale.${process.pid}`;
    try {
      fs.renameSync(file, grave);
      fs.rmSync(grave, { force: true });
    } catch { /* someone else took it over first; try again */ }
  }
  throw new BusyError(`could not take the lock of ${target} at ${file}`, 'another run is taking it over; try again');
}
