/** Real faults for tests: a full disk, a file that cannot be deleted. */
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

/**
 * Makes `file` immutable (`chattr +i`): even root cannot delete or rename it,
 * a real "cannot delete" for rotation and prune. Throws saying what is
 * missing instead of letting the test skip. `undo()` clears the flag (call it
 * before removing the folder).
 */
export function makeImmutable(file: string): { undo(): void } {
  const r = spawnSync('chattr', ['+i', file], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`this test needs a file that cannot be deleted, made with \`chattr +i\` as root on a file system with attributes (ext4, xfs): \`chattr +i ${file}\` failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  return { undo: () => { spawnSync('chattr', ['-i', file]); } };
}
