import * as fs from 'node:fs';

/** Major and minor device numbers of a Linux `st_dev` (glibc's gnu_dev_major/minor). Pure. */
function majorMinor(dev: number): [number, number] {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
  return [major, minor >>> 0];
}

/**
 * The PID of another process holding any POSIX/OFD lock (read or write) on
 * `file`, from Linux's /proc/locks, without opening the file or taking a lock.
 * Undefined when none is listed, the file is missing, or this cannot be told
 * (not Linux). Never throws. (DuckDB's holder.ts reads write locks only; the
 * two could share this reader.)
 */
export function anyLockHolder(file: string): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const st = fs.statSync(file);
    const [major, minor] = majorMinor(st.dev);
    for (const line of fs.readFileSync('/proc/locks', 'latin1').split('\n')) {
      // "1: POSIX  ADVISORY  READ 24129 fe:00:2261030 128 128"; "->" lines are blocked waiters
      const m = /^\d+:\s+(?:POSIX|OFDLCK)\s+\S+\s+(?:READ|WRITE)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (!m) continue;
      if (parseInt(m[2]!, 16) === major && parseInt(m[3]!, 16) === minor && Number(m[4]) === st.ino && Number(m[1]) !== process.pid) return Number(m[1]);
    }
  } catch {
    // no /proc/locks, or the file is gone: the caller finds out by trying
  }
  return undefined;
}
