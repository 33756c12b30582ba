/**
 * The daemon's job runner (issue 5) with stand-in jobs: per-target runs never
 * overlap (a second trigger while one runs is skipped), `concurrency` bounds
 * how many targets run at once, retryable errors back off, others do not,
 * cancellation, and a runner that never throws even when its history or its
 * listener does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusyError, IntegrityError, StorageError } from '../src/core/errors';
import { JobHistory, type JobRecord } from '../src/daemon/history';
import { JobRunner, type JobFn } from '../src/daemon/runner';
import { tempDir } from './helpers/db';
import { waitFor } from './helpers/daemon';

const t = tempDir('dbguard-runner-');
afterAll(() => t.cleanup());
let n = 0;
const history = () => new JobHistory(path.join(t.dir, `h${++n}`));
const NO_RETRY = { attempts: 1, baseDelayMs: 0, factor: 2, maxDelayMs: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A job that runs until `finish()` is called; `running` resolves when it has started. */
function gate() {
  let finish!: () => void;
  let begun!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const running = new Promise<void>((r) => (begun = r));
  let started = 0;
  const fn: JobFn = async () => { started++; begun(); await done; return {}; };
  return { fn, finish, running, get started() { return started; } };
}

test('a second trigger for a target+kind that is queued or running is skipped; afterwards a new one runs', async () => {
  const h = history();
  const runner = new JobRunner(h, NO_RETRY, 1);
  const g = gate();
  const first = runner.submit('production', 'backup', 'schedule', g.fn);
  await g.running;
  expect(g.started).toBe(1);
  // skipped at once: it resolves while the first run is still held by its gate
  const second = runner.submit('production', 'backup', 'schedule', g.fn);
  expect(await second).toBeUndefined();
  expect(g.started).toBe(1);
  g.finish();
  const rec = await first;
  expect(rec).toMatchObject({ state: 'succeeded', target: 'production', kind: 'backup', reason: 'schedule', attempt: 1 });
  expect(new Set(h.read().map((r) => r.id)).size).toBe(1);
  const again = await runner.submit('production', 'backup', 'schedule', async () => ({ backupId: 'x' }));
  expect(again).toMatchObject({ state: 'succeeded', backupId: 'x' });
  expect(new Set(h.read().map((r) => r.id)).size).toBe(2);
});

test('runs of one target never overlap, even of different kinds', async () => {
  const runner = new JobRunner(history(), NO_RETRY, 4);
  let active = 0;
  let most = 0;
  const job: JobFn = async () => { active++; most = Math.max(most, active); await sleep(40); active--; return {}; };
  await Promise.all([runner.submit('production', 'backup', 'x', job), runner.submit('production', 'check', 'x', job)]);
  expect(most).toBe(1);
});

test('concurrency 1 runs targets one at a time; concurrency 2 runs two at once', async () => {
  for (const [concurrency, expected] of [[1, 1], [2, 2]] as const) {
    const runner = new JobRunner(history(), NO_RETRY, concurrency);
    const spans: Record<string, [number, number]> = {};
    let active = 0;
    let most = 0;
    let started = 0;
    // A job holds until `concurrency` jobs run at once (or it is the last one): no
    // timing decides whether they overlapped; a runner that ran fewer at once would hang.
    const waiting: (() => void)[] = [];
    const job = (target: string): JobFn => async () => {
      active++;
      started++;
      most = Math.max(most, active);
      const start = Date.now();
      if (active < concurrency && started < 3) await new Promise<void>((r) => waiting.push(r));
      else waiting.splice(0).forEach((r) => r());
      spans[target] = [start, Date.now()];
      active--;
      return {};
    };
    const recs = await Promise.all(['a', 'b', 'c'].map((x) => runner.submit(x, 'backup', 'x', job(x))));
    expect(recs.map((r) => r!.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(most).toBe(expected);
    if (concurrency === 1) {
      const sorted = Object.values(spans).sort((p, q) => p[0] - q[0]);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThanOrEqual(sorted[i - 1]![1]);
    }
  }
});

test('busy and storage errors are retried with growing delays; the history shows every step', async () => {
  const h = history();
  const runner = new JobRunner(h, { attempts: 4, baseDelayMs: 100, factor: 2, maxDelayMs: 250 }, 1);
  const starts: number[] = [];
  const rec = await runner.submit('production', 'backup', 'x', async (_signal, attempt) => {
    starts.push(Date.now());
    if (attempt === 1) throw new BusyError('held', 'wait');
    if (attempt < 4) throw new StorageError('disk full', 'free space');
    return { backupId: 'b1' };
  });
  expect(rec).toMatchObject({ state: 'succeeded', attempt: 4, backupId: 'b1' });
  expect(h.read().map((r) => `${r.state}:${r.attempt}`)).toEqual([
    'pending:0', 'running:1', 'retrying:1', 'running:2', 'retrying:2', 'running:3', 'retrying:3', 'running:4', 'succeeded:4',
  ]);
  // delays 100, 200, then capped at 250 (lower bounds only)
  expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(95);
  expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(195);
  expect(starts[3]! - starts[2]!).toBeGreaterThanOrEqual(245);
  const retrying = h.read().filter((r) => r.state === 'retrying');
  expect(retrying.map((r) => r.error?.code)).toEqual(['busy', 'storage', 'storage']);
});

test('damage and internal errors are not retried', async () => {
  const h = history();
  const runner = new JobRunner(h, { attempts: 5, baseDelayMs: 10, factor: 2, maxDelayMs: 100 }, 1);
  let calls = 0;
  const damaged = await runner.submit('a', 'check', 'x', async () => { calls++; throw new IntegrityError('damaged', 'repair'); });
  const bug = await runner.submit('b', 'check', 'x', async () => { calls++; throw new TypeError('oops'); });
  expect(calls).toBe(2);
  expect(damaged).toMatchObject({ state: 'failed', attempt: 1, error: { code: 'integrity', exitCode: 4 } });
  expect(bug).toMatchObject({ state: 'failed', attempt: 1, error: { code: 'internal', exitCode: 1, message: 'oops' } });
});

test('close() cancels queued runs; cancelAll() aborts a running one and records it as cancelled', async () => {
  const h = history();
  const runner = new JobRunner(h, { attempts: 5, baseDelayMs: 60000, factor: 2, maxDelayMs: 60000 }, 1);
  // attempt 1 fails as busy, then the runner waits a minute: cancellation must cut the wait short
  const running = runner.submit('a', 'backup', 'x', async (signal) => {
    if (signal.aborted) throw new Error('should not run again');
    throw new BusyError('held', 'wait');
  });
  const queued = runner.submit('b', 'backup', 'x', async () => ({}));
  await waitFor('the first attempt to fail and back off', () => h.read().some((r) => r.target === 'a' && r.state === 'retrying'));
  runner.close();
  expect(await runner.drain(50)).toBe(false);
  const t0 = Date.now();
  await runner.cancelAll();
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(await running).toMatchObject({ state: 'cancelled', attempt: 1 });
  expect(await queued).toMatchObject({ state: 'cancelled', attempt: 0 });
  expect(runner.active).toBe(0);
  expect(await runner.drain(10)).toBe(true);
});

test('a listener that throws does not turn a success into a failure or a retry', async () => {
  const h = history();
  const finished: JobRecord[] = [];
  const runner = new JobRunner(h, { attempts: 3, baseDelayMs: 10, factor: 2, maxDelayMs: 100 }, 1, undefined, (rec) => {
    finished.push(rec);
    throw new StorageError('metrics could not read the folder', 'x');
  });
  let calls = 0;
  const rec = await runner.submit('a', 'backup', 'x', async () => { calls++; return { backupId: 'b' }; });
  expect(rec).toMatchObject({ state: 'succeeded', attempt: 1 });
  expect(calls).toBe(1);
  expect(finished).toHaveLength(1);
  expect(h.read().map((r) => r.state)).toEqual(['pending', 'running', 'succeeded']);
});

test('a history that cannot be written does not make the runner throw', async () => {
  const dir = path.join(t.dir, 'blocked');
  fs.writeFileSync(dir, 'a file where the backup folder should be');
  const runner = new JobRunner(new JobHistory(dir), NO_RETRY, 1);
  const rec = await runner.submit('a', 'backup', 'x', async () => ({ backupId: 'b' }));
  expect(rec).toMatchObject({ state: 'succeeded', backupId: 'b' });
});
