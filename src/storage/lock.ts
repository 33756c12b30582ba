import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError, StorageError, storageErrorFrom } from '../core/errors';

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

/** True when `pid` runs on this host (EPERM: it runs, as another user). */
export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The LockInfo in a lock file's text, or undefined when unreadable. */
export function parseLock(text: string | undefined): LockInfo | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as LockInfo;
    return typeof v?.pid === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Creates `file` with `text` only if it does not exist, so that the file is
 * never seen empty or half-written: the content goes to a private temporary
 * file first and is hard-linked into place (link fails if the name exists).
 * Falls back to an O_EXCL create where hard links are not supported.
 * Returns false when the file already exists.
 */
export function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.new`;
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (err) {
      if (code(err) === 'EEXIST') return false;
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL'].includes(code(err) ?? '')) throw err;
    }
    try {
      fs.writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if (code(err) === 'EEXIST') return false;
      throw err;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes the `<file>.<pid>.new` files that runs killed inside
 * `createExclusive` left behind (the window is a few microseconds, but a
 * kill -9 can land in it). Only files of dead processes go, so a run that is
 * creating its lock right now is never disturbed. Best effort by design: a
 * leftover costs a few bytes, never a lock, so a failure here is ignored.
 */
function sweepDeadTemps(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)\.new$/.exec(name.slice(prefix.length)) : null;
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // left for the next run: it holds no lock and no data
    }
  }
}

/**
 * Removes the stale lock `file` whose content was `staleText`, unless it
 * changed meanwhile. A short-lived `<file>.takeover` mutex makes sure only
 * one run removes it, so a lock that another run created after the stale one
 * was removed is never deleted by a slower run (several runs may find the
 * same stale lock at once). Returns without removing anything while another
 * run holds the mutex.
 */
export function removeStale(file: string, staleText: string | undefined): void {
  const mutex = `${file}.takeover`;
  if (!createExclusive(mutex, String(process.pid))) {
    // Another run is taking over right now. Only if it died inside this
    // window of microseconds does its mutex stay: then remove that.
    const owner = Number(readText(mutex));
    if (owner > 0 && !alive(owner)) fs.rmSync(mutex, { force: true });
    return;
  }
  try {
    if (readText(file) === staleText) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(mutex, { force: true });
  }
}

/**
 * Takes the per-target run lock `<dir>/.<target>.lock` (created exclusively
 * and complete, recording PID, host, command and start time). A lock whose
 * process is dead on this host, or whose content is unreadable, is taken
 * over and reported in `tookOverFrom`; when several runs find the same stale
 * lock, exactly one of them gets it. Throws BusyError (exit 5) naming the
 * holder when a live run holds it, StorageError (exit 6) when the folder
 * cannot be written. Never waits; wrap it in `retryWhileBusy` for `--wait`.
 */
export function acquireLock(dir: string, target: string, command: string): HeldLock {
  const file = path.join(dir, `.${target}.lock`);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), command, startedAt: new Date().toISOString() };
  let tookOverFrom: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let created: boolean;
    try {
      created = createExclusive(file, JSON.stringify(me));
    } catch (err) {
      if (code(err) === 'ENOENT') throw new StorageError(`cannot create the lock file ${file}: the folder ${dir} does not exist`, 'create it, or fix backupDir in the config', 'no-folder').because(err);
      throw storageErrorFrom(err, file, 'creating the lock file') ?? err;
    }
    if (created) {
      sweepDeadTemps(file);
      let released = false;
      return {
        file,
        tookOverFrom,
        release() {
          if (released) return;
          released = true;
          if (parseLock(readText(file))?.pid === me.pid) fs.rmSync(file, { force: true });
        },
      };
    }
    const text = readText(file);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parseLock(text);
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
    try {
      removeStale(file, text);
    } catch (err) {
      throw storageErrorFrom(err, file, 'removing the stale lock file') ?? err;
    }
  }
  throw new BusyError(`could not take the lock of ${target} at ${file}`, 'another run is taking it over; try again, or use --wait 5m', undefined, 'locked');
}
