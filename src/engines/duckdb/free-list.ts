import * as fs from 'node:fs';
import { BLOCK_HEADER_SIZE, BLOCKS_START, type DatabaseHeader } from './header';

const INVALID = 0xffffffffffffffffn;
const METADATA_BLOCKS_PER_BLOCK = 64;

/**
 * Reads the set of free block ids that the active database header points to.
 * The free list lives in metadata sub-blocks (64 per block, each starting with
 * the pointer to the next one). Returns undefined when it cannot be read; a
 * caller then treats every block as in use.
 */
export function readFreeList(fd: number, header: DatabaseHeader, fileSize: number): Set<number> | undefined {
  if (header.freeList === INVALID) return new Set();
  const subSize = Math.floor((header.blockAllocSize - BLOCK_HEADER_SIZE) / METADATA_BLOCKS_PER_BLOCK / 8) * 8;
  const payload = subSize - 8;
  let pointer = header.freeList;
  const chunks: Buffer[] = [];
  let needed = 8; // the count comes first; grow once it is known
  let have = 0;
  const sub = Buffer.alloc(subSize);
  for (let hops = 0; pointer !== INVALID && hops < 100000; hops++) {
    const block = Number(pointer & 0x00ffffffffffffffn);
    const index = Number(pointer >> 56n);
    if (index >= METADATA_BLOCKS_PER_BLOCK) return undefined;
    const at = BLOCKS_START + block * header.blockAllocSize + BLOCK_HEADER_SIZE + index * subSize;
    if (at + subSize > fileSize) return undefined;
    fs.readSync(fd, sub, 0, subSize, at);
    pointer = sub.readBigUInt64LE(0);
    chunks.push(Buffer.from(sub.subarray(8, 8 + payload)));
    have += payload;
    if (chunks.length === 1) {
      const count = Number(chunks[0]!.readBigUInt64LE(0));
      if (count > header.blockCount) return undefined;
      needed = 8 + count * 8;
    }
    if (have >= needed) break;
  }
  if (have < needed) return undefined;
  const data = Buffer.concat(chunks);
  const count = Number(data.readBigUInt64LE(0));
  const free = new Set<number>();
  for (let i = 0; i < count; i++) free.add(Number(data.readBigInt64LE(8 + i * 8)));
  return free;
}
