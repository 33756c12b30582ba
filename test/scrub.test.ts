/**
 * The offline engine pieces that read DuckDB files without DuckDB: block
 * checksum (against a BigInt reference), file header, free list and the block
 * scrub, on real files made by the installed DuckDB.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checksumMatches, checksumWords } from '../src/engines/duckdb/checksum';
import { readFreeList } from '../src/engines/duckdb/free-list';
import { headerFindings, scrubFindings } from '../src/engines/duckdb/findings';
import { BLOCKS_START, readFileHeader } from '../src/engines/duckdb/header';
import { openDuckdb, queryRows } from '../src/engines/duckdb/open';
import { scrubBlocks } from '../src/engines/duckdb/scrub';
import { blockStart, flipByte, layoutOf, makeSqliteDb, overwrite, type Layout } from './helpers/damage';
import { createMusicDb, execSql, sha256, tempDir } from './helpers/db';

const MASK = (1n << 64n) - 1n;
const K = 0xbf58476d1ce4e5b9n;

/** DuckDB's checksum written the obvious way, with BigInt. */
function referenceChecksum(buf: Buffer, start: number, len: number): bigint {
  let acc = 5381n;
  for (let i = 0; i < len; i += 8) acc ^= (buf.readBigUInt64LE(start + i) * K) & MASK;
  return acc;
}

const asBigInt = ([hi, lo]: [number, number]) => (BigInt(hi) << 32n) | BigInt(lo);

describe('checksum', () => {
  test('an empty range is 5381', () => {
    expect(asBigInt(checksumWords(Buffer.alloc(8), 0, 0))).toBe(5381n);
  });

  test('edge words: 0, all ones, and each single bit', () => {
    const words = [0n, MASK, 1n, 1n << 31n, 1n << 32n, 1n << 63n, 0xffffffffn, 0xffffffff00000000n];
    for (let b = 0n; b < 64n; b++) words.push(1n << b);
    for (const w of words) {
      const buf = Buffer.alloc(8);
      buf.writeBigUInt64LE(w);
      expect([w, asBigInt(checksumWords(buf, 0, 8))]).toEqual([w, referenceChecksum(buf, 0, 8)]);
    }
  });

  test('equals the BigInt reference on random buffers of random lengths', () => {
    for (let i = 0; i < 300; i++) {
      const len = 8 * (1 + crypto.randomInt(600));
      const buf = crypto.randomBytes(len + 64);
      const start = 8 * crypto.randomInt(8);
      expect(asBigInt(checksumWords(buf, start, len))).toBe(referenceChecksum(buf, start, len));
    }
  });

  test('equals the reference on a full 256 KiB block of random bytes', () => {
    const buf = crypto.randomBytes(262144);
    expect(asBigInt(checksumWords(buf, 8, 262144 - 8))).toBe(referenceChecksum(buf, 8, 262144 - 8));
  });

  test('works on a slice that is not 4-byte aligned in its memory', () => {
    const backing = crypto.randomBytes(4096 + 3);
    const slice = backing.subarray(3); // byteOffset 3
    expect(asBigInt(checksumWords(slice, 8, 4000))).toBe(referenceChecksum(slice, 8, 4000));
    expect(asBigInt(checksumWords(slice, 1, 800))).toBe(referenceChecksum(slice, 1, 800));
  });

  test('checksumMatches: a stored checksum matches until one bit changes', () => {
    const buf = crypto.randomBytes(4096);
    buf.writeBigUInt64LE(referenceChecksum(buf, 8, 4088), 0);
    expect(checksumMatches(buf, 0, 4088)).toBe(true);
    buf[2000] ^= 0x10;
    expect(checksumMatches(buf, 0, 4088)).toBe(false);
    buf[2000] ^= 0x10;
    buf[3] ^= 0x01; // the stored checksum itself
    expect(checksumMatches(buf, 0, 4088)).toBe(false);
  });
});

const t = tempDir('dbguard-scrub-');
let music: string;
let layout: Layout;

beforeAll(async () => {
  music = path.join(t.dir, 'music.duckdb');
  await createMusicDb(music);
  layout = await layoutOf(music);
}, 60000);
afterAll(() => t.cleanup());

const copyOf = (name: string) => {
  const f = path.join(t.dir, name);
  fs.copyFileSync(music, f);
  return f;
};

describe('file header', () => {
  test('a DuckDB file: magic, storage version, library, active header and block geometry', () => {
    const h = readFileHeader(music);
    expect(h.kind).toBe('duckdb');
    expect(h.fileSize).toBe(fs.statSync(music).size);
    expect(h.storageVersion).toBe(64);
    expect(h.library).toBe(`v${require('@duckdb/node-api/package.json').version.replace(/-.*$/, '')}`);
    expect(h.mainChecksumOk).toBe(true);
    expect(h.headers.map((x) => [x.offset, x.checksumOk])).toEqual([[4096, true], [8192, true]]);
    expect(h.active).toBeDefined();
    expect(h.active!.blockAllocSize).toBe(262144);
    expect(h.fileSize).toBe(BLOCKS_START + h.active!.blockCount * 262144);
    expect(headerFindings(music, h, 'production')).toEqual({ findings: [], stop: false });
  });

  test('the active header is the valid one with the higher iteration', () => {
    const f = copyOf('iter.duckdb');
    const before = readFileHeader(f);
    const active = before.active!.offset;
    const other = active === 4096 ? 8192 : 4096;
    overwrite(f, active + 100, Buffer.from('damage'));
    const after = readFileHeader(f);
    expect(after.headers.find((x) => x.offset === active)!.checksumOk).toBe(false);
    expect(after.active?.offset).toBe(other);
    expect(after.active!.iteration).toBeLessThan(before.active!.iteration);
  });

  test('foreign files are classified without DuckDB', () => {
    const empty = path.join(t.dir, 'empty.duckdb');
    fs.writeFileSync(empty, '');
    expect(readFileHeader(empty).kind).toBe('empty');
    const text = path.join(t.dir, 'text.duckdb');
    fs.writeFileSync(text, 'corrupted data\n');
    expect(readFileHeader(text).kind).toBe('text');
    const lite = path.join(t.dir, 'lite.duckdb');
    makeSqliteDb(lite);
    expect(readFileHeader(lite).kind).toBe('sqlite');
    const junk = path.join(t.dir, 'junk.duckdb');
    fs.writeFileSync(junk, crypto.randomBytes(20000));
    expect(readFileHeader(junk).kind).toBe('unknown');
  });
});

describe('free list', () => {
  test('a freshly written file has no free blocks', () => {
    expect(layout.free.size).toBe(0);
  });

  test('after a DROP TABLE it lists exactly the blocks DuckDB counts as free', async () => {
    const f = path.join(t.dir, 'freed.duckdb');
    await execSql(f, `CREATE TABLE scratch AS SELECT i, 'row ' || i AS s FROM range(0, 200000) t(i);
      CREATE TABLE keep AS SELECT i FROM range(0, 1000) t(i); CHECKPOINT; DROP TABLE scratch;`);
    const h = readFileHeader(f);
    const fd = fs.openSync(f, 'r');
    let free: Set<number> | undefined;
    try {
      free = readFreeList(fd, h.active!, h.fileSize);
    } finally {
      fs.closeSync(fd);
    }
    const db = await openDuckdb(f);
    let duck: Record<string, unknown>;
    let keepBlocks: number[];
    try {
      [duck] = (await queryRows(db.conn, 'SELECT total_blocks, free_blocks FROM pragma_database_size()')) as [Record<string, unknown>];
      keepBlocks = (await queryRows(db.conn, "SELECT block_id FROM pragma_storage_info('keep') WHERE block_id >= 0")).map((r) => Number(r.block_id));
    } finally {
      db.close();
    }
    expect(free).toBeDefined();
    expect(free!.size).toBeGreaterThan(0);
    expect(free!.size).toBe(Number(duck.free_blocks));
    expect(Number(duck.total_blocks)).toBe(h.active!.blockCount);
    for (const b of keepBlocks) expect(free!.has(b)).toBe(false);
    for (const b of free!) expect(b).toBeLessThan(h.active!.blockCount);
  });
});

describe('scrubBlocks', () => {
  test('a healthy file: every block checked, none bad, the file unchanged', async () => {
    const before = sha256(music);
    const h = readFileHeader(music);
    let progress = 0;
    const s = await scrubBlocks(music, h.active!, (bytes) => (progress = bytes));
    expect(s).toMatchObject({ blockCount: layout.blockCount, checked: layout.blockCount, badBlocks: [], badFreeBlocks: [], missingBlocks: [], freeListKnown: true });
    expect(s.bytesRead).toBe(h.fileSize - BLOCKS_START);
    expect(progress).toBe(s.bytesRead);
    expect(scrubFindings(music, s, 'production')).toEqual([]);
    expect(sha256(music)).toBe(before);
  });

  test('each block of a real file carries the checksum the reference computes', () => {
    const buf = fs.readFileSync(music);
    for (let id = 0; id < layout.blockCount; id++) {
      const at = blockStart(id);
      expect([id, buf.readBigUInt64LE(at)]).toEqual([id, referenceChecksum(buf, at + 8, 262144 - 8)]);
    }
  });

  test('one flipped byte in an index block is found, named, and nothing else is', async () => {
    const f = copyOf('index-flip.duckdb');
    const block = layout.indexBlocks[layout.indexBlocks.length - 1]!;
    flipByte(f, blockStart(block) + 200000);
    const s = await scrubBlocks(f, readFileHeader(f).active!);
    expect(s.badBlocks).toEqual([block]);
    expect(s.missingBlocks).toEqual([]);
    const [finding] = scrubFindings(f, s, 'production');
    expect(finding).toMatchObject({ severity: 'error', code: 'bad-blocks' });
    expect(finding!.hint).toMatch(/^dbguard repair production/);
  });

  test('several damaged blocks are all listed', async () => {
    const f = copyOf('multi-flip.duckdb');
    const blocks = [layout.tableBlocks.tracks![0]!, ...layout.indexBlocks.slice(0, 2)].sort((a, b) => a - b);
    for (const b of blocks) flipByte(f, blockStart(b) + 4242);
    const s = await scrubBlocks(f, readFileHeader(f).active!);
    expect(s.badBlocks).toEqual(blocks);
    expect(scrubFindings(f, s, 'production')[0]!.message).toContain(`${blocks.length} block(s) in use fail their checksum (block ${blocks.join(', ')})`);
  });

  test('a file cut at a block boundary: the blocks beyond the end are missing, the rest check out', async () => {
    const f = copyOf('cut.duckdb');
    const keep = layout.blockCount - 3;
    fs.truncateSync(f, blockStart(keep));
    const s = await scrubBlocks(f, readFileHeader(f).active!);
    expect(s.missingBlocks).toEqual([keep, keep + 1, keep + 2]);
    expect(s.checked).toBe(keep);
    expect(s.badBlocks).toEqual([]);
    expect(scrubFindings(f, s, 'production').map((x) => x.code)).toEqual(['truncated']);
  });

  test('a file cut inside a block: that block is missing too', async () => {
    const f = copyOf('cut-mid.duckdb');
    const cut = layout.blockCount - 2;
    fs.truncateSync(f, blockStart(cut) + 1000);
    const h = readFileHeader(f);
    const s = await scrubBlocks(f, h.active!);
    expect(s.missingBlocks).toEqual([cut, cut + 1]);
    expect(headerFindings(f, h, 'production').findings.map((x) => x.code)).toEqual(['truncated']);
  });
});
