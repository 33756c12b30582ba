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

describe('worker failure classification', () => {
  const { classifyDuckdbError } = jest.requireActual('../src/engines/duckdb/classify') as typeof import('../src/engines/duckdb/classify');
  const { notRunError } = jest.requireActual('../src/ops/worker-errors') as typeof import('../src/ops/worker-errors');
  const { WorkerFailed } = jest.requireActual('../src/engines/duckdb/client') as typeof import('../src/engines/duckdb/client');
  const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

  it.each([
    ['Node ENOSPC while copying', 'disk-full', errno('ENOSPC', 'ENOSPC: no space left on device, copyfile')],
    ['DuckDB FATAL checkpoint on a full disk', 'disk-full', new Error('FATAL Error: Failed to create checkpoint because of error: Could not write file "x": No space left on device')],
    ['DuckDB WAL write on a full disk', 'disk-full', new Error('IO Error: Could not write file "x.wal": No space left on device')],
    ['EIO', 'storage', errno('EIO', 'EIO: i/o error, read')],
    ['DuckDB out of memory', 'no-memory', new Error('Out of Memory Error: failed to allocate data of size 2.0 GiB')],
    ['a checksum failure', 'corrupt', new Error('IO Error: Corrupt database file: computed checksum 1 does not match stored checksum 2 in block 3')],
  ])('%s is %s', (_what, kind, err) => {
    expect(classifyDuckdbError(err).kind).toBe(kind);
  });

  it('a full disk, a failed fork and a SIGKILLed worker are exit-6 errors; a segfault on a file is not', () => {
    expect(notRunError(new WorkerFailed({ kind: 'disk-full', message: 'x' }), 'copying f')).toMatchObject({ exitCode: 6, code: 'disk-full' });
    expect(notRunError(new WorkerFailed({ kind: 'not-started', message: 'could not start the DuckDB worker: spawn ENOENT' }), 'checking f')).toMatchObject({ exitCode: 6, code: 'could-not-check' });
    expect(notRunError(new WorkerFailed({ kind: 'crash', message: 'DuckDB stopped with signal SIGKILL', signal: 'SIGKILL' }), 'checking f')?.message).toMatch(/out of memory\?/);
    expect(notRunError(new WorkerFailed({ kind: 'crash', message: 'DuckDB stopped with signal SIGSEGV', signal: 'SIGSEGV' }), 'checking f')).toBeUndefined();
    expect(notRunError(new WorkerFailed({ kind: 'corrupt', message: 'checksum' }), 'checking f')).toBeUndefined();
  });
});
