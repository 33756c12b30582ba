import * as fs from 'node:fs';

/** Major and minor device numbers of a Linux `st_dev` (glibc's gnu_dev_major/minor). */
function majorMinor(dev: number): [number, number] {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
  return [major, minor >>> 0];
}

/**
 * The PID of another process holding a write (fcntl) lock on `file`, read from
 * Linux's /proc/locks without opening the file or taking any lock; DuckDB takes
 * one for every read-write open. Undefined when no such lock is listed, and
 * also when this cannot be told (no /proc/locks, not Linux): callers then
 * find out by trying. Never throws.
 */
export function writeLockHolder(file: string): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const st = fs.statSync(file);
    const [major, minor] = majorMinor(st.dev);
    const want = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
    for (const line of fs.readFileSync('/proc/locks', 'latin1').split('\n')) {
      // "1: POSIX  ADVISORY  WRITE 24129 fe:00:2261030 0 EOF"; "->" lines are blocked waiters
      const m = /^\d+:\s+(?:POSIX|OFDLCK)\s+\S+\s+WRITE\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s/.exec(line);
      if (!m) continue;
      const [maj, min, ino] = m[2]!.split(':');
      const same = `${parseInt(maj!, 16).toString(16).padStart(2, '0')}:${parseInt(min!, 16).toString(16).padStart(2, '0')}:${ino}`;
      if (same === want && Number(m[1]) !== process.pid) return Number(m[1]);
    }
  } catch {
    // no /proc/locks, or the file is gone: let the caller find out by trying
  }
  return undefined;
}

/** The program of a running process (Linux: /proc/<pid>/exe), or undefined when it cannot be read. */
export function programOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}
