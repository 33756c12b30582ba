import * as fs from 'node:fs';
import { checksumMatches } from './checksum';
import { readFreeList } from './free-list';
import { BLOCK_HEADER_SIZE, BLOCKS_START, type DatabaseHeader } from './header';

export interface ScrubResult {
  /** Blocks the active header says the file has. */
  blockCount: number;
  /** Blocks whose checksum was verified. */
  checked: number;
  /** In-use blocks whose checksum fails: data, metadata or index damage. */
  badBlocks: number[];
  /** Free blocks whose checksum fails: no data lost, reported as a warning. */
  badFreeBlocks: number[];
  /** In-use blocks that lie (partly) beyond the end of the file: truncation. */
  missingBlocks: number[];
  /** False when the free list could not be read and every block was treated as in use. */
  freeListKnown: boolean;
  bytesRead: number;
}

const CHUNK_BLOCKS = 32;

/**
 * Verifies the checksum of every block of a DuckDB file straight from disk,
 * including index and free blocks that no query reads. Streams the file in
 * 8 MiB chunks (constant memory), opens it read-only and never writes.
 * `onProgress` receives bytes read so far.
 */
export async function scrubBlocks(file: string, header: DatabaseHeader, onProgress?: (bytes: number) => void): Promise<ScrubResult> {
  const size = header.blockAllocSize;
  const handle = await fs.promises.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const free = readFreeList(handle.fd, header, fileSize);
    const result: ScrubResult = { blockCount: header.blockCount, checked: 0, badBlocks: [], badFreeBlocks: [], missingBlocks: [], freeListKnown: free !== undefined, bytesRead: 0 };
    const buf = Buffer.alloc(size * CHUNK_BLOCKS);
    for (let first = 0; first < header.blockCount; first += CHUNK_BLOCKS) {
      const count = Math.min(CHUNK_BLOCKS, header.blockCount - first);
      const at = BLOCKS_START + first * size;
      const { bytesRead } = await handle.read(buf, 0, count * size, at);
      result.bytesRead += bytesRead;
      for (let i = 0; i < count; i++) {
        const id = first + i;
        const isFree = free?.has(id) ?? false;
        if ((i + 1) * size > bytesRead) {
          if (!isFree) result.missingBlocks.push(id);
          continue;
        }
        result.checked++;
        if (!checksumMatches(buf, i * size, size - BLOCK_HEADER_SIZE)) (isFree ? result.badFreeBlocks : result.badBlocks).push(id);
      }
      onProgress?.(result.bytesRead);
    }
    return result;
  } finally {
    await handle.close();
  }
}
