import * as fs from 'node:fs';
import { checksumMatches } from './checksum';

/** Offsets of DuckDB's single-file layout (DESIGN.md §4). */
export const MAIN_HEADER_SIZE = 4096;
export const DB_HEADER_OFFSETS = [4096, 8192] as const;
export const BLOCKS_START = 12288;
export const BLOCK_HEADER_SIZE = 8;

/** Storage versions this release of dbguard knows, with the DuckDB releases that write them. */
export const STORAGE_VERSIONS: Record<number, string> = { 64: 'v0.9–v1.1', 65: 'v1.2', 66: 'v1.3', 67: 'v1.4', 68: 'v1.5' };

export interface DatabaseHeader {
  offset: number;
  checksumOk: boolean;
  iteration: bigint;
  metaBlock: bigint;
  freeList: bigint;
  blockCount: number;
  blockAllocSize: number;
}

export type FileKind = 'duckdb' | 'empty' | 'sqlite' | 'text' | 'unknown';

export interface FileHeader {
  kind: FileKind;
  fileSize: number;
  /** First bytes as printable text, for messages about foreign files. */
  preview: string;
  storageVersion?: number;
  library?: string;
  mainChecksumOk?: boolean;
  headers: DatabaseHeader[];
  /** The valid database header with the highest iteration; undefined when neither is valid. */
  active?: DatabaseHeader;
}

const cString = (b: Buffer) => {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('latin1');
};

function classifyForeign(head: Buffer): FileKind {
  if (head.subarray(0, 16).toString('latin1') === 'SQLite format 3\0') return 'sqlite';
  const sample = head.subarray(0, Math.min(head.length, 512));
  let printable = 0;
  for (const c of sample) if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0xc0) printable++;
  return sample.length > 0 && printable / sample.length > 0.95 ? 'text' : 'unknown';
}

function parseDbHeader(buf: Buffer, offset: number): DatabaseHeader {
  return {
    offset,
    checksumOk: checksumMatches(buf, offset, 4096 - 8),
    iteration: buf.readBigUInt64LE(offset + 8),
    metaBlock: buf.readBigUInt64LE(offset + 16),
    freeList: buf.readBigUInt64LE(offset + 24),
    blockCount: Number(buf.readBigUInt64LE(offset + 32)),
    blockAllocSize: Number(buf.readBigUInt64LE(offset + 40)),
  };
}

/**
 * Reads and classifies a file's header without DuckDB: magic bytes, storage
 * version, creating library, both database headers and their checksums.
 * Reads at most 12 KiB; never writes. Throws only on I/O errors.
 */
export function readFileHeader(file: string): FileHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(BLOCKS_START);
    const n = fs.readSync(fd, buf, 0, BLOCKS_START, 0);
    const head = buf.subarray(0, n);
    const preview = head.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    if (fileSize === 0) return { kind: 'empty', fileSize, preview, headers: [] };
    if (n < 12 || head.subarray(8, 12).toString('latin1') !== 'DUCK') return { kind: classifyForeign(head), fileSize, preview, headers: [] };
    const header: FileHeader = { kind: 'duckdb', fileSize, preview, headers: [] };
    if (n >= 60) header.storageVersion = Number(head.readBigUInt64LE(12));
    if (n >= 84) header.library = cString(head.subarray(52, 84));
    if (n >= MAIN_HEADER_SIZE) header.mainChecksumOk = checksumMatches(head, 0, MAIN_HEADER_SIZE - 8);
    for (const off of DB_HEADER_OFFSETS) if (n >= off + 4096) header.headers.push(parseDbHeader(head, off));
    header.active = header.headers.filter((h) => h.checksumOk).sort((a, b) => (a.iteration > b.iteration ? -1 : 1))[0];
    return header;
  } finally {
    fs.closeSync(fd);
  }
}
