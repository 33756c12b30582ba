import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusyError, CouldNotCheckError, IntegrityError } from '../src/core/errors';
import { ExitCode } from '../src/core/exit-codes';
import { EngineFailed, type CopyResult } from '../src/engines/engine';
import { gdbmEngine, gdbmBackupExtension } from '../src/engines/gdbm';
import { detectFile, engineNamed } from '../src/engines/registry';
import { checkGdbmFile } from '../src/engines/gdbm/check';
import { classifyGdbmBytes, readGdbmKind } from '../src/engines/gdbm/magic';
import { createEmptyGdbm, recoverCopy } from '../src/engines/gdbm/recover';
import { snapshotGdbm } from '../src/engines/gdbm/snapshot';
import { sha256, tempDir } from './helpers/db';
import { createGdbm, gdbmCount, gdbmKeys, holdForWriting, killWriterMidStore, requireGdbmtool, writeOver } from './helpers/gdbm';

let t: ReturnType<typeof tempDir>;
let file: string;
beforeAll(() => requireGdbmtool());
beforeEach(() => {
  t = tempDir('dbguard-gdbm-');
  file = path.join(t.dir, 'flower.db');
  createGdbm(file, 300);
});
afterEach(() => t.cleanup());

describe('detection', () => {
  test('real files: the magic at offset 0, standard and numsync formats, and what is not GDBM', () => {
    const numsync = path.join(t.dir, 'n.db');
    createGdbm(numsync, 3, { numsync: true });
    expect(readGdbmKind(file)).toMatchObject({ kind: 'gdbm', format: 'standard', byteSwapped: false });
    expect(readGdbmKind(numsync)).toMatchObject({ kind: 'gdbm', format: 'numsync' });
    expect(gdbmEngine.detect(fs.readFileSync(file).subarray(0, 64))).toBe(true);
    const swapped = Buffer.from(fs.readFileSync(file).subarray(0, 64));
    swapped.writeUInt32BE(swapped.readUInt32LE(0), 0);
    expect(classifyGdbmBytes(swapped)).toMatchObject({ kind: 'gdbm', byteSwapped: true });
    expect(classifyGdbmBytes(Buffer.alloc(0))).toEqual({ kind: 'empty' });
    expect(classifyGdbmBytes(Buffer.from('corrupted data'))).toMatchObject({ kind: 'text' });
    expect(gdbmEngine.detect(Buffer.from('SQLite format 3\0'))).toBe(false);
  });

  test('backups keep the source extension, else .gdbm; no side files', () => {
    expect(gdbmBackupExtension('/data/flower.db')).toBe('.db');
    expect(gdbmBackupExtension('/data/flower')).toBe('.gdbm');
    expect(gdbmEngine.isSideFile('flower.db', 'flower.db-wal')).toBe(false);
    expect(gdbmBackupExtension('/data/flower.GDBM')).toBe('.gdbm');
  });
});

describe('check', () => {
  test('a healthy file: every key read, one pseudo-table "keys", the file unchanged', async () => {
    const before = sha256(file);
    const r = await checkGdbmFile(file, 'flower');
    expect(r.findings).toEqual([]);
    expect(r.tables).toEqual([{ schema: 'main', name: 'keys', rows: 300 }]);
    expect(sha256(file)).toBe(before);
  });

  test('"corrupted data" written over the whole file (the case that broke Flower) is named a text file', async () => {
    fs.writeFileSync(file, 'corrupted data');
    const r = await checkGdbmFile(file, 'flower');
    expect(r.findings).toEqual([expect.objectContaining({ code: 'not-gdbm', hint: expect.stringContaining('dbguard repair flower') })]);
    expect(r.findings[0]!.message).toContain('text file');
  });

  test('"corrupted data" written over the buckets: the unreadable keys are found by the full read', async () => {
    writeOver(file, 'corrupted data '.repeat(40), 8200);
    const r = await checkGdbmFile(file, 'flower');
    expect(r.findings.map((f) => f.code)).toEqual(['gdbm-unreadable']);
    expect(r.findings[0]!.hint).toContain('dbguard repair flower');
  });

  test('truncated and empty files', async () => {
    fs.truncateSync(file, 9000);
    expect((await checkGdbmFile(file, 'flower')).findings.map((f) => f.code)).toEqual(['truncated']);
    fs.truncateSync(file, 0);
    const empty = await checkGdbmFile(file, 'flower');
    expect(empty.findings).toEqual([expect.objectContaining({ code: 'empty-file', message: expect.stringContaining('empty (0 bytes)') })]);
  });

  test('"needs recovery" after a writer was killed mid-store is its own finding, hint dbguard repair', async () => {
    await killWriterMidStore(file);
    const r = await checkGdbmFile(file, 'flower');
    expect(r.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'gdbm-needs-recovery', hint: expect.stringMatching(/^dbguard repair flower/) })]);
  });

  test('a file held open by a writer is busy, not damaged', async () => {
    const held = await holdForWriting(file);
    try {
      const r = await checkGdbmFile(file, 'flower');
      expect(r.busy?.message).toContain('open for writing');
      expect(r.findings).toEqual([]);
    } finally {
      await held.release();
    }
  });

  test('a missing gdbmtool is "could not check" (exit 6) naming the Debian package', async () => {
    process.env.DBGUARD_GDBMTOOL = path.join(t.dir, 'no-such-gdbmtool');
    try {
      const e = await checkGdbmFile(file, 'flower').catch((x) => x);
      expect(e).toBeInstanceOf(CouldNotCheckError);
      expect(e.exitCode).toBe(ExitCode.storage);
      expect(e.hint).toContain('apt-get install gdbmtool');
      expect(await gdbmEngine.doctor()).toEqual([expect.objectContaining({ ok: false, hint: expect.stringContaining('apt-get install gdbmtool') })]);
      const viaEngine = await gdbmEngine.inspect(file).catch((x) => x);
      expect(viaEngine).toBeInstanceOf(EngineFailed);
      expect(viaEngine.failure).toMatchObject({ kind: 'not-started', message: expect.stringContaining('gdbmtool is not installed'), hint: expect.stringContaining('apt-get install gdbmtool') });
    } finally {
      delete process.env.DBGUARD_GDBMTOOL;
    }
  });
});

describe('snapshot and validation', () => {
  test('a copy under the reader lock: same bytes, keys counted, validated in a new process', async () => {
    const dest = path.join(t.dir, 'copy.db');
    const before = sha256(file);
    const s = await snapshotGdbm(file, dest, 'flower');
    expect(s.keys).toBe(300);
    expect(sha256(dest)).toBe(before);
    expect(sha256(file)).toBe(before);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o600);
    const made = (keys: number) => ({ catalog: { tables: [{ schema: 'main', name: 'keys', rows: keys }] } }) as unknown as CopyResult;
    expect((await gdbmEngine.validate(dest, made(s.keys))).tables).toEqual([{ schema: 'main', name: 'keys', rows: 300 }]);
    const wrong = await gdbmEngine.validate(dest, made(301)).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(EngineFailed);
    expect((wrong as EngineFailed).failure).toMatchObject({ kind: 'corrupt', message: `${dest} holds 300 keys; the source had 301 when it was copied` });
    expect(sha256(dest)).toBe(before);
  });

  test('a writer holding the file makes the copy busy (exit 5) and leaves no copy', async () => {
    const dest = path.join(t.dir, 'copy.db');
    const held = await holdForWriting(file);
    try {
      const e = await snapshotGdbm(file, dest, 'flower').catch((x) => x);
      expect(e).toBeInstanceOf(BusyError);
      expect(fs.existsSync(dest)).toBe(false);
    } finally {
      await held.release();
    }
  });

  test('a source that needs recovery is refused with the repair hint', async () => {
    await killWriterMidStore(file);
    const dest = path.join(t.dir, 'copy.db');
    const e = await snapshotGdbm(file, dest, 'flower').catch((x) => x);
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.code).toBe('gdbm-needs-recovery');
    expect(e.hint).toContain('dbguard repair flower');
    expect(fs.existsSync(dest)).toBe(false);
  });

  test('validation finds a damaged copy', async () => {
    const dest = path.join(t.dir, 'copy.db');
    const s = await snapshotGdbm(file, dest, 'flower');
    writeOver(dest, 'corrupted data '.repeat(40), 8200);
    const v = await gdbmEngine.validate(dest, undefined).catch((e: unknown) => e);
    expect(v).toBeInstanceOf(EngineFailed);
    expect((v as EngineFailed).failure.message).toMatch(new RegExp(`^only \\d+ of ${s.keys} keys can be read`));
  });
});

describe('recover and recreate', () => {
  test('gdbmtool recover on a copy of a file that needs recovery gets every key back; the damaged file is untouched', async () => {
    const keysBefore = gdbmKeys(file);
    await killWriterMidStore(file);
    const damaged = sha256(file);
    const dest = path.join(t.dir, 'recovered.db');
    const r = await recoverCopy(file, dest);
    expect(r.recovery).toMatchObject({ complete: true, failedKeys: 0, failedBuckets: 0 });
    expect(sha256(file)).toBe(damaged);
    const keysAfter = gdbmKeys(dest);
    for (const k of keysBefore) expect(keysAfter).toContain(k);
    expect(r.recovery!.keys).toBe(gdbmCount(dest));
  });

  test('a file recover cannot read whole is reported incomplete or failed, never complete', async () => {
    fs.truncateSync(file, 9000);
    const r = await recoverCopy(file, path.join(t.dir, 'recovered.db'));
    expect(r.recovery?.complete ?? false).toBe(false);
  });

  test('a text file cannot be recovered: a failure, and no copy left behind', async () => {
    fs.writeFileSync(file, 'corrupted data');
    const dest = path.join(t.dir, 'recovered.db');
    const r = await recoverCopy(file, dest);
    expect(r.failure).toBeDefined();
    expect(fs.existsSync(dest)).toBe(false);
  });

  test('recreate makes an empty database that opens, and refuses to overwrite', async () => {
    const dest = path.join(t.dir, 'new.db');
    await createEmptyGdbm(dest);
    expect(gdbmCount(dest)).toBe(0);
    expect((await checkGdbmFile(dest, 'flower')).findings).toEqual([]);
    await expect(createEmptyGdbm(dest)).rejects.toThrow('already exists');
  });
});

describe('through the Engine interface', () => {
  test('registered as "gdbm" and detected from the file', () => {
    expect(engineNamed('gdbm')).toBe(gdbmEngine);
    expect(detectFile(file)).toBe(gdbmEngine);
    fs.writeFileSync(path.join(t.dir, 'text.db'), 'corrupted data');
    expect(detectFile(path.join(t.dir, 'text.db'))).toBeUndefined();
  });

  test('readHeader stops on an empty or text file and names it', () => {
    fs.writeFileSync(file, 'corrupted data');
    expect(gdbmEngine.readHeader(file, 'flower')).toMatchObject({ stop: true, findings: [expect.objectContaining({ code: 'not-gdbm' })] });
    fs.writeFileSync(file, '');
    expect(gdbmEngine.readHeader(file, 'flower')).toMatchObject({ stop: true, findings: [expect.objectContaining({ code: 'empty-file' })] });
  });

  test('copy, validate and stamp: the pseudo-table keys holds the key count at copy time', async () => {
    const dest = path.join(t.dir, 'copy.db');
    const made = await gdbmEngine.copy(file, dest, { target: 'flower', waitMs: 0, live: true });
    expect(made).toMatchObject({ consistency: 'locked', sideFilesCopied: false, catalog: { tables: [{ schema: 'main', name: 'keys', rows: 300 }] } });
    const v = await gdbmEngine.validate(dest, made);
    expect(v.tables).toEqual([{ schema: 'main', name: 'keys', rows: 300 }]);
    expect(gdbmEngine.stamp(dest, v)).toEqual({ name: 'gdbm', library: expect.stringMatching(/^gdbmtool 1\.\d+/), storageVersion: null });
    createGdbm(dest, 1, { start: 1000 });
    await expect(gdbmEngine.validate(dest, made)).rejects.toThrow('the source had 300');
  });

  test('copy waits for a writer (--wait) and copies once it closed the file', async () => {
    const held = await holdForWriting(file);
    const dest = path.join(t.dir, 'copy.db');
    await expect(gdbmEngine.copy(file, dest, { target: 'flower', waitMs: 0, live: true })).rejects.toBeInstanceOf(BusyError);
    const copying = gdbmEngine.copy(file, dest, { target: 'flower', waitMs: 30000, live: true });
    const released = held.release();
    const made = await copying;
    await released;
    expect(made.catalog.tables[0]!.rows).toBe(300);
  });

  test('scan of a damaged file reports the unreadable keys as the table error; failureFinding of needs-recovery', async () => {
    writeOver(file, 'corrupted data '.repeat(40), 8200);
    const s = await gdbmEngine.scan(file);
    expect(s.tables[0]!.error?.kind).toBe('corrupt');
    expect(s.tables[0]!.rows).toBeLessThan(300);
    expect(gdbmEngine.failureFinding(file, 'flower', { kind: 'needs-recovery', message: 'Database needs recovery' })).toMatchObject({ code: 'gdbm-needs-recovery', hint: expect.stringContaining('dbguard repair flower') });
  });

  test('salvage of a file that needs recovery is lossless; of a file cut before its buckets rejects and leaves nothing', async () => {
    await killWriterMidStore(file);
    const r = await gdbmEngine.salvage(file, path.join(t.dir, 'salvaged.db'));
    expect(r.lossless).toBe(true);
    expect(r.tables[0]!.copiedRows).toBeGreaterThanOrEqual(300);
    const other = path.join(t.dir, 'other.db');
    createGdbm(other, 300);
    fs.truncateSync(other, 9000);
    await expect(gdbmEngine.salvage(other, path.join(t.dir, 'salvaged2.db'))).rejects.toThrow('brought back no key');
    expect(fs.existsSync(path.join(t.dir, 'salvaged2.db'))).toBe(false);
  });

  test('recreate makes an empty database; probeBusy sees a writer', async () => {
    const dest = path.join(t.dir, 'fresh.db');
    await gdbmEngine.recreate(dest, '');
    expect(gdbmCount(dest)).toBe(0);
    expect(await gdbmEngine.probeBusy(file)).toBeUndefined();
    const held = await holdForWriting(file);
    try {
      expect(await gdbmEngine.probeBusy(file)).toMatchObject({ message: expect.stringContaining('open for writing') });
    } finally {
      await held.release();
    }
  });
});
