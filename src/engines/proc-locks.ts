import * as fs from 'node:fs';

/**
 * Who holds a file, read from Linux's /proc/locks: the one parser of it for
 * every engine (DuckDB and SQLite take fcntl locks, gdbm takes flock locks).
 * Nothing here opens the file or takes a lock.
 */

/** Major and minor device numbers of a Linux `st_dev` (glibc's gnu_dev_major/minor). Pure. */
function majorMinor(dev: number): [number, number] {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
  return [major, minor >>> 0];
}

/** Which locks count: `write` only, or any (`read` too). POSIX, OFD and flock locks are all listed. */
export interface LockQuery {
  access: 'write' | 'any';
}

// "1: POSIX  ADVISORY  WRITE 24129 fe:00:2261030 0 EOF", "2: FLOCK  ADVISORY  WRITE 20629 fe:00:2147261 0 EOF";
// "1: -> POSIX …" lines are blocked waiters, which hold nothing
const LINE = /^\d+:\s+(POSIX|OFDLCK|FLOCK)\s+\S+\s+(READ|WRITE)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/;

/**
 * The PID of another process (not this one) holding a lock on `file` that
 * matches `query`, from /proc/locks. Undefined when none is listed, the file
 * is missing, or this cannot be told (not Linux, no /proc/locks): callers then
 * find out by trying. Never throws.
 */
export function lockHolder(file: string, query: LockQuery): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const st = fs.statSync(file);
    const [major, minor] = majorMinor(st.dev);
    for (const line of fs.readFileSync('/proc/locks', 'latin1').split('\n')) {
      const m = LINE.exec(line);
      if (!m) continue;
      if (query.access === 'write' && m[2] !== 'WRITE') continue;
      const pid = Number(m[3]);
      if (parseInt(m[4]!, 16) === major && parseInt(m[5]!, 16) === minor && Number(m[6]) === st.ino && pid !== process.pid) return pid;
    }
  } catch {
    // no /proc/locks, or the file is gone: the caller finds out by trying
  }
  return undefined;
}

/** The PID of another process holding any lock (read or write) on `file`; see lockHolder. Never throws. */
export function anyLockHolder(file: string): number | undefined {
  return lockHolder(file, { access: 'any' });
}

/** The PID of another process holding a write lock on `file` (DuckDB takes one for every read-write open, gdbm for every writer); see lockHolder. Never throws. */
export function writeLockHolder(file: string): number | undefined {
  return lockHolder(file, { access: 'write' });
}

/** The program of a running process (Linux: /proc/<pid>/exe), or undefined when it cannot be read. Never throws. */
export function programOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}
