/**
 * DuckDB's block checksum: 5381 XOR (XOR over the little-endian u64 words w of
 * w * 0xbf58476d1ce4e5b9 mod 2^64). BigInt is ~50× too slow for a scrub, so
 * the 64-bit product is assembled from 32-bit halves with exact double math.
 */
const K_LO = 0x1ce4e5b9;
const K_HI = 0xbf58476d;
const K_LO_HI16 = K_LO >>> 16;
const K_LO_LO16 = K_LO & 0xffff;

/** Checksum of `len` bytes (a multiple of 8) of `buf` from `start`, as [hi, lo] u32 halves. */
export function checksumWords(buf: Buffer, start: number, len: number): [number, number] {
  let accHi = 0;
  let accLo = 5381;
  // a Uint32Array view needs a 4-byte aligned offset; copy the rare unaligned slice
  const aligned = (buf.byteOffset + start) % 4 === 0;
  const src = aligned ? buf : new Uint8Array(buf.subarray(start, start + len)); // fresh copy at offset 0
  const view = new Uint32Array(src.buffer, src.byteOffset + (aligned ? start : 0), len >>> 2);
  for (let i = 0; i < view.length; i += 2) {
    const lo = view[i]!;
    const hi = view[i + 1]!;
    // high 32 bits of lo * K_LO, exact: every intermediate stays below 2^53
    const a1 = lo >>> 16;
    const a0 = lo & 0xffff;
    const mid = a1 * K_LO_LO16 + a0 * K_LO_HI16;
    const low = a0 * K_LO_LO16 + (mid % 65536) * 65536;
    const carry = a1 * K_LO_HI16 + Math.floor(mid / 65536) + Math.floor(low / 4294967296);
    const pHi = (Math.imul(hi, K_LO) + Math.imul(lo, K_HI) + carry) | 0;
    const pLo = Math.imul(lo, K_LO);
    accHi ^= pHi;
    accLo ^= pLo;
  }
  return [accHi >>> 0, accLo >>> 0];
}

/** True when the u64 stored at `at` equals the checksum of the `len` bytes that follow it. */
export function checksumMatches(buf: Buffer, at: number, len: number): boolean {
  const [hi, lo] = checksumWords(buf, at + 8, len);
  return buf.readUInt32LE(at) === lo && buf.readUInt32LE(at + 4) === hi;
}
