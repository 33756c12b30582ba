/**
 * "Could not check" is never "damaged" (DESIGN.md §5, invariant 9): a block
 * scrub that fails with EIO, a DuckDB worker that cannot be forked or is
 * killed (as by the OOM killer) are their own errors (exit 6), never a
 * finding, and repair never acts on them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CouldNotCheckError, StorageError } from '../src/core/errors';
import { scrubBlocks } from '../src/engines/duckdb/scrub';
import { backupTarget } from '../src/ops/backup';
import { checkDatabase } from '../src/ops/check';
import { repair } from '../src/ops/repair';
import { verifyBackup } from '../src/ops/verify';
import { BackupRepository } from '../src/storage/repository';
import { dataBlockOffset, flipByte, makeProject, type Project } from './helpers/backup';
import { sha256 } from './helpers/db';

// The real scrub, wrapped so a test can make it fail the way a failing disk does (EIO cannot be provoked for real).
jest.mock('../src/engines/duckdb/scrub', () => {
  const real = jest.requireActual('../src/engines/duckdb/scrub');
  return { ...real, scrubBlocks: jest.fn(real.scrubBlocks) };
});
// The real fork, which a test can point at a missing node binary (a real failed fork, ENOENT), or
// whose worker for one action it kills with SIGKILL as soon as the request is sent (as the OOM killer would).
let brokenFork: string | undefined;
let killAction: string | undefined;
let killed = 0;
jest.mock('node:child_process', () => {
  const real = jest.requireActual('node:child_process');
  return {
    ...real,
    fork: (m: string, a: string[], o: object) => {
      const child = real.fork(m, a, brokenFork ? { ...o, execPath: brokenFork } : o);
      const send = child.send.bind(child);
      child.send = (msg: { action?: string }, ...rest: unknown[]) => {
        const sent = send(msg, ...rest);
        if (killAction && msg?.action === killAction) { child.kill('SIGKILL'); killed++; }
        return sent;
      };
      return child;
    },
  };
});
const scrubMock = scrubBlocks as jest.MockedFunction<typeof scrubBlocks>;
const eio = () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));

let p: Project;
beforeEach(async () => { p = await makeProject(); });
afterEach(() => { scrubMock.mockImplementation(jest.requireActual('../src/engines/duckdb/scrub').scrubBlocks); p.cleanup(); });

/** Makes every fork of a DuckDB worker fail (ENOENT for the node binary) while `fn` runs. */
async function withBrokenFork<T>(fn: () => Promise<T>): Promise<T> {
  brokenFork = path.join(p.dir, 'no-such-node');
  try { return await fn(); } finally { brokenFork = undefined; }
}

describe('check', () => {
  test('a scrub that rejects (EIO) before the scan ends: both run to completion, exit-6 error naming the file, no finding of damage', async () => {
    scrubMock.mockImplementation(eio);
    const err = await checkDatabase('production', p.db).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).exitCode).toBe(6);
    expect((err as StorageError).message).toContain(p.db);
    expect((err as StorageError).message).toMatch(/I\/O error.*the full read found no damage/);
  });

  test('a scrub that rejects while the full read finds damage: the damage is reported, the scrub failure as a warning', async () => {
    flipByte(p.db, await dataBlockOffset(p.db, 'tracks'));
    scrubMock.mockImplementation(eio);
    const c = await checkDatabase('production', p.db);
    expect(c.ok).toBe(false);
    expect(c.findings.map((f) => `${f.severity}:${f.code}`)).toEqual(expect.arrayContaining(['error:table-unreadable', 'warning:scrub-not-run']));
  });

  test('a worker that cannot start is CouldNotCheckError, not an engine-crash finding', async () => {
    const err = await withBrokenFork(() => checkDatabase('production', p.db)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CouldNotCheckError);
    expect((err as CouldNotCheckError).exitCode).toBe(6);
    expect((err as Error).message).toMatch(/could not start the DuckDB worker/);
  });
});

describe('verify', () => {
  test('a worker that cannot start: CouldNotCheckError, the backup is not called unreadable and its manifest is untouched', async () => {
    await backupTarget(p.config(), 'production');
    const entry = new BackupRepository(p.backups).list('production')[0]!;
    const manifestBefore = fs.readFileSync(`${entry.file}.json`, 'utf8');
    const err = await withBrokenFork(() => verifyBackup(entry)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CouldNotCheckError);
    expect((err as Error).message).toContain(entry.id);
    expect(fs.readFileSync(`${entry.file}.json`, 'utf8')).toBe(manifestBefore);
  });

  test('repair --strategy auto whose verification worker is killed (OOM): stops with exit 6, never skips the backup for a lossy salvage', async () => {
    await backupTarget(p.config(), 'production');
    flipByte(p.db, await dataBlockOffset(p.db, 'tracks'));
    const damagedSha = sha256(p.db);
    // 'validate' is the verification of a stored backup (the checks use 'scan')
    killAction = 'validate';
    killed = 0;
    const err = await repair(p.config(), 'production', { strategy: 'auto' }).then(() => undefined, (e: unknown) => e).finally(() => { killAction = undefined; });
    expect(killed).toBe(1);
    expect(err).toBeInstanceOf(CouldNotCheckError);
    expect((err as Error).message).toMatch(/SIGKILL/);
    // the backup was not skipped for the salvage: no lossy salvage is in place (at most the damaged file put back)
    expect(fs.existsSync(p.db) ? sha256(p.db) : 'no file').toEqual(fs.existsSync(p.db) ? damagedSha : 'no file');
    expect(new BackupRepository(p.backups).list('production').filter((e) => e.status === 'valid')).toHaveLength(1);
  });
});
