/**
 * The per-target run lock (busy vs stale takeover, exactly one winner among
 * concurrent processes) and the --wait machinery (retryWhileBusy, durations).
 */
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError, InterruptedError, StorageError } from '../src/core/errors';
import { backoffDelay, parseDuration, retryWhileBusy } from '../src/core/retry';
import { acquireLock } from '../src/storage/lock';
import { deadPid } from './helpers/backup';
import { tempDir } from './helpers/db';

const DIST_LOCK = path.resolve(__dirname, '../dist/storage/lock.js');

describe('acquireLock', () => {
  const t = tempDir('dbguard-lock-');
  afterAll(() => t.cleanup());
  const lockFile = path.join(t.dir, '.production.lock');
  const writeLock = (info: object | string) => fs.writeFileSync(lockFile, typeof info === 'string' ? info : JSON.stringify(info));
  afterEach(() => fs.rmSync(lockFile, { force: true }));

  test('records PID, host, command and start time in <dir>/.<target>.lock, mode 0600; release removes it', () => {
    const lock = acquireLock(t.dir, 'production', 'backup');
    expect(lock.file).toBe(lockFile);
    expect(lock.tookOverFrom).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toEqual({ pid: process.pid, host: os.hostname(), command: 'backup', startedAt: expect.any(String) });
    expect(fs.statSync(lockFile).mode & 0o777).toBe(0o600);
    lock.release();
    lock.release(); // idempotent
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(fs.readdirSync(t.dir)).toEqual([]);
  });

  test('the private .new file a run killed inside lock creation left is removed by the next run; a live run\'s is kept', () => {
    const dead = deadPid();
    const orphan = `${lockFile}.${dead}.new`;
    const live = `${lockFile}.${process.ppid}.new`;
    fs.writeFileSync(orphan, '{"pid":1}');
    fs.writeFileSync(live, '{"pid":1}');
    try {
      const lock = acquireLock(t.dir, 'production', 'backup');
      lock.release();
      expect(fs.existsSync(orphan)).toBe(false);
      expect(fs.existsSync(live)).toBe(true);
    } finally {
      fs.rmSync(live, { force: true });
    }
  });

  test('a live holder makes the next run busy (exit 5) naming it; other targets are independent', () => {
    const lock = acquireLock(t.dir, 'production', 'backup');
    try {
      let err: unknown;
      try { acquireLock(t.dir, 'production', 'verify'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(BusyError);
      expect(err).toMatchObject({ exitCode: 5, code: 'locked', pid: process.pid });
      expect((err as Error).message).toContain(`backup, PID ${process.pid} on ${os.hostname()}`);
      expect((err as BusyError).hint).toContain(lockFile);
      const staging = acquireLock(t.dir, 'staging', 'backup');
      staging.release();
    } finally {
      lock.release();
    }
    acquireLock(t.dir, 'production', 'verify').release();
  });

  test('the lock of a dead process on this host is taken over and reported', () => {
    const stale = { pid: deadPid(), host: os.hostname(), command: 'backup', startedAt: '2024-01-01T00:00:00.000Z' };
    writeLock(stale);
    const lock = acquireLock(t.dir, 'production', 'backup');
    expect(lock.tookOverFrom).toEqual(stale);
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(t.dir)).toEqual([]);
  });

  test('an unreadable lock file is taken over; a lock of another host is not (its PID means nothing here)', () => {
    writeLock('{"pid": 12');
    const lock = acquireLock(t.dir, 'production', 'backup');
    expect(lock.tookOverFrom).toBeUndefined();
    lock.release();
    writeLock({ pid: deadPid(), host: 'some-other-host', command: 'backup', startedAt: '2024-01-01T00:00:00.000Z' });
    expect(() => acquireLock(t.dir, 'production', 'backup')).toThrow(/some-other-host/);
  });

  test('release leaves a lock that is no longer ours', () => {
    const lock = acquireLock(t.dir, 'production', 'backup');
    const other = { pid: 1, host: os.hostname(), command: 'backup', startedAt: 'x' };
    writeLock(other);
    lock.release();
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toEqual(other);
  });

  test('a missing folder is a storage error (exit 6), not a crash', () => {
    let err: unknown;
    try { acquireLock(path.join(t.dir, 'missing'), 'production', 'backup'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toContain(path.join(t.dir, 'missing'));
  });

  test('many processes finding the same stale lock at once: exactly one gets it', async () => {
    const host = os.hostname();
    for (let round = 0; round < 3; round++) {
      writeLock({ pid: deadPid(), host, command: 'backup', startedAt: '2024-01-01T00:00:00.000Z' });
      const startAt = Date.now() + 1000; // every child tries at the same moment
      const code = `
        const { acquireLock } = require(${JSON.stringify(DIST_LOCK)});
        setTimeout(() => {
          let lock;
          try { lock = acquireLock(${JSON.stringify(t.dir)}, 'production', 'backup'); process.stdout.write('got\\n'); }
          catch (e) { process.stdout.write(String(e.exitCode) + '\\n'); }
          process.stdin.on('end', () => { lock?.release(); process.exit(0); });
          process.stdin.resume();
        }, ${startAt} - Date.now());`;
      const children = Array.from({ length: 8 }, () => spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const answers = await Promise.all(children.map((c) => new Promise<string>((resolve) => {
        let out = '';
        c.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.trim()); });
        c.on('exit', () => resolve(out.trim() || 'exited'));
      })));
      const exits = children.map((c) => new Promise((resolve) => c.on('exit', resolve)));
      for (const c of children) c.stdin!.end();
      await Promise.all(exits);
      expect(answers.sort()).toEqual(['5', '5', '5', '5', '5', '5', '5', 'got']);
      expect(fs.readdirSync(t.dir)).toEqual([]);
    }
  });
});

describe('retryWhileBusy (--wait)', () => {
  const busy = () => new BusyError('busy', 'wait');

  test('runs once and returns when there is nothing to wait for', async () => {
    const fn = jest.fn(() => 'ok');
    await expect(retryWhileBusy(fn, 0)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  test('retries a busy operation with backoff until it succeeds, leaving no listener on the signal', async () => {
    let n = 0;
    const controller = new AbortController();
    const t0 = Date.now();
    const r = await retryWhileBusy(() => { if (++n < 3) throw busy(); return 'done'; }, 10000, controller.signal);
    expect(r).toBe('done');
    expect(n).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250 + 500 - 20);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('with waitMs 0 a busy operation fails at once; after waitMs it gives up with the last BusyError', async () => {
    let n = 0;
    await expect(retryWhileBusy(() => { n++; throw busy(); }, 0)).rejects.toBeInstanceOf(BusyError);
    expect(n).toBe(1);
    const t0 = Date.now();
    await expect(retryWhileBusy(() => { throw busy(); }, 600)).rejects.toBeInstanceOf(BusyError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(580);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('other errors are not retried', async () => {
    const fn = jest.fn(() => { throw new Error('disk on fire'); });
    await expect(retryWhileBusy(fn, 10000)).rejects.toThrow('disk on fire');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  test('an abort while waiting ends the wait at once with InterruptedError (exit 130)', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    // abort as the first wait begins (the event), not after a guessed delay
    const err = await retryWhileBusy(() => { throw busy(); }, 60000, controller.signal, () => controller.abort()).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(130);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('backoff doubles and is capped', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(a, 250, 2, 10000))).toEqual([250, 500, 1000, 2000, 10000]);
  });

  test.each([
    ['30s', 30000], ['5m', 300000], ['1h', 3600000], ['500ms', 500], ['10', 10000], ['1.5s', 1500], [' 2M ', 120000], ['2d', 172800000],
  ])('parseDuration(%j) = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', 'soon', '5 minutes', '-1s', '1w', 's'])('parseDuration(%j) is invalid', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
