import * as fs from 'node:fs';
import { BLOCKS_START, readFileHeader } from './header';

/**
 * What a live copy is fenced by: the active database header's iteration (a
 * checkpoint ends by writing the other header with iteration + 1), the
 * identity of the main file, and the identity and length of its WAL.
 */
export interface Fence {
  /** Active header iteration; undefined when neither header is valid. */
  iteration?: bigint;
  ino: number;
  dev: number;
  size: number;
  storageVersion?: number;
  /** The WAL (`<file>.wal`) as it was when read; undefined when there is none. */
  wal?: { ino: number; size: number };
  /** `<file>.wal.checkpoint` exists: a checkpoint is running (DuckDB 1.5 writes new commits there meanwhile). */
  checkpointRunning: boolean;
}

const statOrUndefined = (file: string): fs.Stats | undefined => {
  try {
    return fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
};

/**
 * Reads the fence of a DuckDB file without DuckDB and without any lock: 12 KiB
 * of headers and three stat calls. Never writes. Throws the file-system error
 * when the file cannot be read (EBUSY on Windows, EACCES, ENOENT).
 */
export function readFence(file: string): Fence {
  const st = fs.statSync(file);
  const h = st.size >= BLOCKS_START ? readFileHeader(file) : undefined;
  const wal = statOrUndefined(`${file}.wal`);
  return {
    iteration: h?.active?.iteration,
    ino: st.ino,
    dev: st.dev,
    size: st.size,
    storageVersion: h?.storageVersion,
    wal: wal ? { ino: wal.ino, size: wal.size } : undefined,
    checkpointRunning: statOrUndefined(`${file}.wal.checkpoint`) !== undefined,
  };
}

/**
 * Why a copy taken between `before` and `after` (and whose own header says
 * `copyIteration`) cannot be trusted, or undefined when the fence held: same
 * iteration before, after and in the copy, same main file, and a WAL that
 * neither vanished, was replaced nor shrank.
 */
export function fenceBroken(before: Fence, after: Fence, copyIteration: bigint | undefined): string | undefined {
  if (before.ino !== after.ino || before.dev !== after.dev) return 'the database file was replaced during the copy';
  if (before.iteration === undefined) return 'the database header could not be read (is a checkpoint writing it?)';
  if (after.iteration !== before.iteration) return `a checkpoint ran during the copy (header iteration ${before.iteration} became ${after.iteration ?? 'unreadable'})`;
  if (copyIteration !== before.iteration) return `the copied header has iteration ${copyIteration ?? 'unreadable'}, the source ${before.iteration}`;
  if (before.wal) {
    if (!after.wal) return 'the WAL vanished during the copy';
    if (after.wal.ino !== before.wal.ino) return 'the WAL was replaced during the copy';
    if (after.wal.size < before.wal.size) return `the WAL shrank during the copy (${before.wal.size} to ${after.wal.size} bytes)`;
  }
  if (after.checkpointRunning) return 'a checkpoint was running (a .wal.checkpoint file exists)';
  return undefined;
}
