import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Mounts a small tmpfs at `dir` (created if needed) for a real full disk:
 * `options` such as `size=2m` (bytes) or `nr_inodes=3` (files). Needs root
 * and mount permission; throws an Error saying so instead of letting the test
 * skip. `cleanup()` unmounts (lazily, so an open handle cannot block it).
 */
export function mountTmpfs(dir: string, options: string): { dir: string; cleanup(): void } {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`this test makes a real full disk with a small tmpfs and needs root with permission to mount: \`mount -t tmpfs -o ${options} tmpfs ${dir}\` failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  return { dir, cleanup: () => { spawnSync('umount', ['-l', dir]); } };
}
