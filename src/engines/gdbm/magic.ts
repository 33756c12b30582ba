import * as fs from 'node:fs';

/**
 * GDBM's header magic numbers (gdbmconst.h of gdbm 1.23), read as a u32 at
 * offset 0. A file written on this machine has the native little-endian
 * order; the swapped values are a file from a machine of the other byte order,
 * which gdbm refuses to open ("Byte-swapped file").
 */
const MAGICS: Record<number, { format: 'standard' | 'numsync'; offsetBits: 32 | 64 | 0 }> = {
  0x13579ace: { format: 'standard', offsetBits: 0 }, // original (pre-off_t) format
  0x13579acd: { format: 'standard', offsetBits: 32 },
  0x13579acf: { format: 'standard', offsetBits: 64 },
  0x13579ad0: { format: 'numsync', offsetBits: 32 },
  0x13579ad1: { format: 'numsync', offsetBits: 64 },
};

const swap32 = (n: number) => (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;

/** What the first bytes of a file say it is, from a GDBM point of view. */
export type GdbmFileKind =
  | { kind: 'gdbm'; format: 'standard' | 'numsync'; offsetBits: 32 | 64 | 0; byteSwapped: boolean; magic: number; blockSize?: number; nextBlock?: number }
  | { kind: 'empty' }
  | { kind: 'text'; preview: string }
  | { kind: 'other'; magic: number };

/**
 * Block size and `next_block` (the end of the space gdbm has allocated) from
 * a native header: magic u32, block_size i32, dir off_t, dir_size i32,
 * dir_bits i32, bucket_size i32, bucket_elems i32, next_block off_t.
 */
function layout(head: Buffer, bits: 32 | 64 | 0): { blockSize?: number; nextBlock?: number } {
  if (bits === 64 && head.length >= 40) return { blockSize: head.readInt32LE(4), nextBlock: Number(head.readBigInt64LE(32)) };
  if (bits === 32 && head.length >= 28) return { blockSize: head.readInt32LE(4), nextBlock: head.readInt32LE(24) };
  return {};
}

/** Classifies the first bytes of a file. Pure. */
export function classifyGdbmBytes(head: Buffer): GdbmFileKind {
  if (head.length === 0) return { kind: 'empty' };
  if (head.length >= 4) {
    const le = head.readUInt32LE(0);
    const native = MAGICS[le];
    if (native) return { kind: 'gdbm', ...native, byteSwapped: false, magic: le, ...layout(head, native.offsetBits) };
    const swapped = MAGICS[swap32(le)];
    if (swapped) return { kind: 'gdbm', ...swapped, byteSwapped: true, magic: swap32(le) };
  }
  // printable ASCII / UTF-8 with no NUL in the first bytes: someone wrote text over the database
  const sample = head.subarray(0, 512);
  if (!sample.includes(0) && /^[\t\n\r\x20-\x7e\u0080-\uffff]*$/.test(sample.toString('utf8'))) {
    return { kind: 'text', preview: sample.toString('utf8').slice(0, 40) };
  }
  return { kind: 'other', magic: head.length >= 4 ? head.readUInt32LE(0) : 0 };
}

/** Reads the first 512 bytes of `file` and classifies them. Throws the fs error (ENOENT, EACCES…) unchanged. */
export function readGdbmKind(file: string): GdbmFileKind {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return classifyGdbmBytes(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/** True when the bytes at offset 0 are a GDBM magic number (either byte order). Used by engine detection. */
export function isGdbmHeader(head: Buffer): boolean {
  return classifyGdbmBytes(head).kind === 'gdbm';
}
