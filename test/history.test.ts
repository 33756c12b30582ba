/**
 * The daemon's job history (issue 5): an append-only JSON-lines file in the
 * backup folder that keeps the newest 10,000 records, skips a torn last line,
 * survives new instances, and summarises the latest state of each run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HISTORY_FILE, JobHistory, summarize, type JobRecord } from '../src/daemon/history';
import { tempDir } from './helpers/db';

const t = tempDir('dbguard-history-');
afterAll(() => t.cleanup());
let n = 0;
const dir = () => path.join(t.dir, `b${++n}`);

const rec = (i: number, extra: Partial<JobRecord> = {}): JobRecord => ({
  id: `run-${i}`, target: 'production', kind: 'backup', state: 'succeeded', attempt: 1,
  at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), ...extra,
});

test('the file lives in the backup folder (mode 0600) and is read back by a new instance', () => {
  const d = dir();
  new JobHistory(d).append(rec(1));
  const file = path.join(d, HISTORY_FILE);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.statSync(d).mode & 0o777).toBe(0o700);
  expect(new JobHistory(d).read()).toEqual([rec(1)]);
  expect(new JobHistory(dir()).read()).toEqual([]);
});

test('compaction keeps the newest 10,000 records, in order', () => {
  const d = dir();
  const h = new JobHistory(d);
  const total = 12001;
  for (let i = 0; i < total; i++) h.append(rec(i));
  const kept = new JobHistory(d).read();
  expect(kept.length).toBeLessThanOrEqual(10000);
  expect(kept.length).toBeGreaterThanOrEqual(1);
  expect(kept[kept.length - 1]!.id).toBe(`run-${total - 1}`);
  // contiguous newest records
  const first = Number(kept[0]!.id.slice(4));
  expect(kept.map((r) => r.id)).toEqual(Array.from({ length: kept.length }, (_, i) => `run-${first + i}`));
  // an explicit compaction leaves exactly the newest 10,000 when there were more
  const h2 = new JobHistory(d);
  for (let i = total; i < total + 500; i++) h2.append(rec(i));
  h2.compact();
  const after = h2.read();
  const expectedLen = Math.min(10000, kept.length + 500);
  expect(after).toHaveLength(expectedLen);
  expect(after[after.length - 1]!.id).toBe(`run-${total + 499}`);
  expect(fs.readFileSync(path.join(d, HISTORY_FILE), 'utf8').trim().split('\n')).toHaveLength(expectedLen);
});

test('a new instance on a file of 12,000 records compacts on its next append', () => {
  const d = dir();
  fs.mkdirSync(d, { recursive: true });
  const lines = Array.from({ length: 12000 }, (_, i) => JSON.stringify(rec(i))).join('\n') + '\n';
  fs.writeFileSync(path.join(d, HISTORY_FILE), lines);
  const h = new JobHistory(d);
  h.append(rec(12000));
  const kept = h.read();
  expect(kept).toHaveLength(10000);
  expect(kept[0]!.id).toBe('run-2001');
  expect(kept[9999]!.id).toBe('run-12000');
});

test('a torn last line (power cut mid-append) is skipped and the next append still lands', () => {
  const d = dir();
  const h = new JobHistory(d);
  h.append(rec(1));
  fs.appendFileSync(h.file, '{"id":"run-2","tar');
  expect(h.read().map((r) => r.id)).toEqual(['run-1']);
  new JobHistory(d).append(rec(3));
  expect(new JobHistory(d).read().map((r) => r.id)).toEqual(['run-1', 'run-3']);
});

test('latestRuns and summarize: the last state of each run, newest first', () => {
  const d = dir();
  const h = new JobHistory(d);
  h.append(rec(1, { id: 'a', kind: 'check', state: 'running' }));
  h.append(rec(2, { id: 'a', kind: 'check', state: 'failed', healthy: false, findings: ['text-file'] }));
  h.append(rec(3, { id: 'b', kind: 'backup', state: 'running' }));
  h.append(rec(4, { id: 'b', kind: 'backup', state: 'succeeded', backupId: 'production_data_20240101_000004' }));
  h.append(rec(5, { id: 'c', target: 'staging', kind: 'backup', state: 'retrying' }));
  const runs = h.latestRuns();
  expect(runs.map((r) => `${r.id}:${r.state}`)).toEqual(['c:retrying', 'b:succeeded', 'a:failed']);
  const p = summarize(runs, 'production');
  expect(p.lastCheck).toMatchObject({ id: 'a', healthy: false });
  expect(p.lastBackupRun).toMatchObject({ id: 'b', backupId: 'production_data_20240101_000004' });
  expect(p.lastFailure?.id).toBe('a');
  expect(p.running).toEqual([]);
  expect(summarize(runs, 'staging').running.map((r) => r.id)).toEqual(['c']);
});
