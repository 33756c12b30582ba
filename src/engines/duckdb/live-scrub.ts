import * as fs from 'node:fs';
import { checksumMatches } from './checksum';
import { readFreeList } from './free-list';
import { BLOCK_HEADER_SIZE, BLOCKS_START, readFileHeader, type DatabaseHeader } from './header';
import { scrubBlocks, type ScrubResult } from './scrub';

export interface LiveScrubResult extends ScrubResult {
  /** The header iteration the scrub was judged against. */
  iteration: bigint;
  /** Blocks that failed once and were read again. */
  reread: number;
  /** Blocks that failed but could not be judged, because a checkpoint moved the header meanwhile. */
  unjudged: number[];
}

/** True when block `id` passes its checksum when read again from disk now. */
function blockPasses(fd: number, size: number, id: number): boolean {
  const buf = Buffer.alloc(size);
  const n = fs.readSync(fd, buf, 0, size, BLOCKS_START + id * size);
  return n === size && checksumMatches(buf, 0, size - BLOCK_HEADER_SIZE);
}

/**
 * Judges a block that failed its checksum in the scrub: "bad" when, under one
 * header iteration (read before and after), it is in use and fails twice;
 * "ok" when it passes or is no longer in use; "unknown" when checkpoints kept
 * moving the header through every try.
 */
function judge(file: string, id: number): 'bad' | 'ok' | 'unknown' {
  const fd = fs.openSync(file, 'r');
  try {
    for (let tries = 0; tries < 5; tries++) {
      const h = readFileHeader(file).active;
      if (!h) continue;
      const free = readFreeList(fd, h, fs.fstatSync(fd).size);
      if (id >= h.blockCount || free?.has(id)) return 'ok';
      if (blockPasses(fd, h.blockAllocSize, id) || blockPasses(fd, h.blockAllocSize, id)) return 'ok';
      if (readFileHeader(file).active?.iteration === h.iteration) return 'bad';
    }
    return 'unknown';
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Block scrub of a database file that another process holds read-write and
 * may be writing. A block that fails its checksum is read again (a checkpoint
 * may have been writing it); only a block that is in use and fails twice while
 * the active header iteration stayed the same is reported in `badBlocks`
 * (tried up to 5 times while checkpoints move the header). Free blocks are
 * the writer's to fill, so their checksums are not judged. Reads only; takes
 * no lock. Throws the file-system error of a failed read.
 */
export async function scrubLive(file: string, header: DatabaseHeader, onProgress?: (bytes: number) => void): Promise<LiveScrubResult> {
  const first = await scrubBlocks(file, header, onProgress);
  const suspects = [...first.badBlocks, ...first.missingBlocks];
  const bad: number[] = [];
  const unjudged: number[] = [];
  for (const id of suspects) {
    const verdict = judge(file, id);
    if (verdict === 'bad') bad.push(id);
    else if (verdict === 'unknown') unjudged.push(id);
  }
  const size = fs.statSync(file).size;
  const beyond = (id: number) => BLOCKS_START + (id + 1) * header.blockAllocSize > size;
  return {
    ...first,
    badBlocks: bad.filter((id) => !beyond(id)),
    missingBlocks: bad.filter(beyond),
    badFreeBlocks: [],
    iteration: header.iteration,
    reread: suspects.length,
    unjudged,
  };
}
