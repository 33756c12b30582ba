import * as fs from 'node:fs';
import * as path from 'node:path';
import { fenceBroken, readFence, type Fence } from './fence';
import { readFileHeader } from './header';

/** One fenced copy of a database that another process holds read-write. */
export interface LiveCopyAttempt {
  /** Undefined when the fence held; otherwise why the copy was discarded. */
  broken?: string;
  iteration?: bigint;
  storageVersion?: number;
  /** Bytes of the main file and of the WAL that were copied. */
  bytes: number;
  walBytes: number;
  walCopied: boolean;
  copyMs: number;
}

export interface LiveCopyHooks {
  signal?: AbortSignal;
  /** 1-based attempt number, passed to the test hook. */
  attempt?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Test-only switches, read from the environment so the built CLI can be
 * driven by the test suite. Never set them in production:
 * - DBGUARD_TEST_LIVE_ORDER=main-first copies the main file before the WAL
 *   (the order that gives torn copies), to prove validation catches them;
 * - DBGUARD_TEST_LIVE_PAUSE=<dir> pauses between the two copy steps of
 *   attempt n: it creates <dir>/paused.<n> and waits for <dir>/resume.<n>.
 */
const testOrder = () => process.env.DBGUARD_TEST_LIVE_ORDER === 'main-first';

async function testPause(attempt: number, signal?: AbortSignal): Promise<void> {
  const dir = process.env.DBGUARD_TEST_LIVE_PAUSE;
  if (!dir) return;
  fs.writeFileSync(path.join(dir, `paused.${attempt}`), String(process.pid));
  const resume = path.join(dir, `resume.${attempt}`);
  const end = Date.now() + 120000;
  while (!fs.existsSync(resume) && !signal?.aborted && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function copyFile(src: string, dest: string): Promise<number> {
  // FICLONE: on a file system with reflinks the copy is one atomic snapshot of the extents.
  await fs.promises.copyFile(src, dest, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
  return (await fs.promises.stat(dest)).size;
}

/**
 * Copies `source` (held read-write by another process) and its WAL to `dest`
 * and `dest.wal` without DuckDB and without any lock: the WAL first, then the
 * main file, because a WAL entry of a big append points at blocks written
 * into the main file before its commit. The copy is fenced by the active
 * header iteration read before, after and from the copy, by the main file's
 * inode and by the WAL's inode and length. When the fence broke, `broken` says
 * why and the caller must discard the copy. Never writes the source; leaves
 * `dest` and `dest.wal` for the caller to keep or remove. Throws the
 * file-system error of a failed read or write (ENOSPC, EBUSY, EACCES).
 */
export async function copyLive(source: string, dest: string, hooks: LiveCopyHooks = {}): Promise<LiveCopyAttempt> {
  const started = Date.now();
  const before: Fence = readFence(source);
  const destWal = `${dest}.wal`;
  let walBytes = 0;
  let walMissing = false;
  let bytes = 0;
  let walCopied = false;
  const copyWal = async () => {
    try {
      walBytes = await copyFile(`${source}.wal`, destWal);
      walCopied = true;
    } catch (err) {
      // no WAL, or a checkpoint that finished since the stat removed it (the fence reports that)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      walMissing = before.wal !== undefined;
    }
  };
  const copyMain = async () => {
    bytes = await copyFile(source, dest);
    hooks.onProgress?.(bytes + walBytes, before.size + (before.wal?.size ?? 0));
  };
  const [first, second] = testOrder() ? [copyMain, copyWal] : [copyWal, copyMain];
  await first();
  await testPause(hooks.attempt ?? 1, hooks.signal);
  await second();
  const after = readFence(source);
  const copied = readFileHeader(dest);
  let broken = fenceBroken(before, after, copied.active?.iteration);
  if (!broken && walMissing) broken = 'the WAL vanished during the copy';
  return {
    broken,
    iteration: before.iteration,
    storageVersion: before.storageVersion,
    bytes,
    walBytes,
    walCopied,
    copyMs: Date.now() - started,
  };
}
