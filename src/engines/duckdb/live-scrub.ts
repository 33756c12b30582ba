import * as fs from 'node:fs';
import { checksumMatches } from './checksum';
import { readFence } from './fence';
import { BLOCK_HEADER_SIZE, BLOCKS_START, type DatabaseHeader } from './header';
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
function blockPasses(file: string, header: DatabaseHeader, id: number): boolean {
  const size = header.blockAllocSize;
  const buf = Buffer.alloc(size);
  const fd = fs.openSync(file, 'r');
  try {
    const n = fs.readSync(fd, buf, 0, size, BLOCKS_START + id * size);
    return n === size && checksumMatches(buf, 0, size - BLOCK_HEADER_SIZE);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Block scrub of a database file that another process holds read-write and
 * may be writing. A block that fails its checksum is read again (a checkpoint
 * may have been writing it); only a block that fails twice while the active
 * header iteration stayed the same is reported in `badBlocks`. Free blocks are
 * the writer's to fill, so their checksums are not judged. Reads only; takes
 * no lock. Throws the file-system error of a failed read.
 */
export async function scrubLive(file: string, header: DatabaseHeader, onProgress?: (bytes: number) => void): Promise<LiveScrubResult> {
  const first = await scrubBlocks(file, header, onProgress);
  const suspects = [...first.badBlocks, ...first.missingBlocks];
  const bad: number[] = [];
  const unjudged: number[] = [];
  for (const id of suspects) {
    if (blockPasses(file, header, id)) continue;
    if (readFence(file).iteration === header.iteration) bad.push(id);
    else unjudged.push(id);
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
