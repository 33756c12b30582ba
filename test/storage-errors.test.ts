/**
 * Storage failures on the write paths are reported, never swallowed: a folder
 * fsync that fails (EIO) is a StorageError naming the folder; only a platform
 * that cannot fsync a folder at all may skip it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError } from '../src/core/errors';
import { fsyncDir, writeFileAtomic } from '../src/storage/atomic';
import { tempDir } from './helpers/db';

// The real file system, with fsyncSync wrapped so a test can make one call fail (EIO cannot be provoked for real).
jest.mock('node:fs', () => {
  const real = jest.requireActual('node:fs');
  return { ...real, fsyncSync: jest.fn(real.fsyncSync) };
});
const fsyncMock = fs.fsyncSync as jest.MockedFunction<typeof fs.fsyncSync>;

const failing = (code: string) => () => { throw Object.assign(new Error(`${code}: injected, fsync`), { code }); };

describe('fsyncDir', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => { t = tempDir('dbguard-fsync-'); });
  afterEach(() => { fsyncMock.mockReset(); fsyncMock.mockImplementation(jest.requireActual('node:fs').fsyncSync); t.cleanup(); });

  it('flushes a real folder without error', () => {
    expect(() => fsyncDir(t.dir)).not.toThrow();
  });

  it('throws a StorageError naming the folder when the fsync fails with EIO, keeping the cause', () => {
    fsyncMock.mockImplementation(failing('EIO'));
    let caught: unknown;
    try { fsyncDir(t.dir); } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(StorageError);
    expect((caught as StorageError).exitCode).toBe(6);
    expect((caught as StorageError).message).toContain(t.dir);
    expect((caught as StorageError).message).toContain('EIO');
    expect(((caught as Error).cause as NodeJS.ErrnoException).code).toBe('EIO');
  });

  it('throws for a folder that does not exist', () => {
    expect(() => fsyncDir(path.join(t.dir, 'gone'))).toThrow(StorageError);
  });

  it.each(['EINVAL', 'ENOTSUP', 'EISDIR'])('skips only where the platform cannot fsync a folder (%s)', (code) => {
    fsyncMock.mockImplementation(failing(code));
    expect(() => fsyncDir(t.dir)).not.toThrow();
  });

  it('a publish whose folder fsync fails is reported, and the file is the complete new content', () => {
    const file = path.join(t.dir, 'm.json');
    fs.writeFileSync(file, 'old');
    // the file's fsync succeeds, the folder's (the second call) fails
    fsyncMock.mockImplementationOnce(jest.requireActual('node:fs').fsyncSync).mockImplementationOnce(failing('EIO'));
    expect(() => writeFileAtomic(file, 'new')).toThrow(/could not flush folder .*EIO/);
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(fs.readdirSync(t.dir)).toEqual(['m.json']);
  });
});
