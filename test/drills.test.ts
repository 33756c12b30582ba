/**
 * Restore drills (issue 13): `schedule.verify` re-verifies the newest backup
 * of each target in full; success is the "last proven restorable" time in
 * /health, /metrics, `status` and the dashboard; a failed drill is alerted as
 * damage; a drill overdue for two periods is alerted once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { drillOverdue, lastProvenRestorable } from '../src/daemon/drills';
import type { BackupEntry } from '../src/storage/repository';
import { runCli } from './helpers/cli';
import { baseUrl, Daemons, get, Sandbox, startRecorder, validBackups, waitFor } from './helpers/daemon';

jest.setTimeout(120000);

const box = new Sandbox('dbguard-drills-');
const daemons = new Daemons();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await daemons.stopAll();
  while (closers.length) await closers.pop()!();
});
afterAll(() => box.cleanup());

const DAY = 86400 * 1000;
const entry = (createdAt: string, verifiedAt?: string, status: BackupEntry['status'] = 'valid') =>
  ({ status, createdAt: new Date(createdAt), manifest: verifiedAt ? { verifiedAt } : {} }) as unknown as BackupEntry;

describe('drill deadlines (pure)', () => {
  const now = new Date('2024-03-01T00:00:00Z');
  const start = new Date('2024-02-28T00:00:00Z');
  test('last proven restorable is the newest verifiedAt of a valid backup', () => {
    expect(lastProvenRestorable([entry('2024-01-01', '2024-02-01T00:00:00Z'), entry('2024-01-02', '2024-02-10T00:00:00Z'), entry('2024-01-03', '2024-02-20T00:00:00Z', 'invalid')])?.toISOString()).toBe('2024-02-10T00:00:00.000Z');
    expect(lastProvenRestorable([entry('2024-01-01')])).toBeNull();
  });
  test('overdue after two periods since the last proof, or since the daemon started when there is none; never without a valid backup', () => {
    expect(drillOverdue([entry('2024-01-01', '2024-02-20T00:00:00Z')], 7 * DAY, now, start)).toBe(false);
    expect(drillOverdue([entry('2024-01-01', '2024-02-10T00:00:00Z')], 7 * DAY, now, start)).toBe(true);
    expect(drillOverdue([entry('2024-01-01')], 7 * DAY, now, start)).toBe(false);
    expect(drillOverdue([entry('2024-01-01')], 7 * DAY, now, new Date('2024-02-01T00:00:00Z'))).toBe(true);
    expect(drillOverdue([], 7 * DAY, now, new Date('2020-01-01'))).toBe(false);
  });
});

test('a scheduled drill proves the newest backup restorable (health, metrics, status, dashboard); a damaged backup fails the next drill and alerts', async () => {
  const hook = await startRecorder();
  closers.push(hook.close);
  const site = await box.site({
    schedule: { backup: '0 0 1 1 *', check: '0 0 1 1 *', verify: '* * * * * *', timezone: 'local' },
    targets: { production: { path: 'data/production.duckdb' } },
    alerts: { webhook: { url: `${hook.url}/hook` } },
  });
  const d = await daemons.start(site.config());
  const drill = await waitFor('a successful drill', () => site.history().find((r) => r.kind === 'verify' && r.state === 'succeeded'), 60000);
  const newest = validBackups(site.backupDir, 'production')[0]!;
  expect(drill).toMatchObject({ target: 'production', reason: 'schedule', backupId: newest.id });
  const proven = newest.manifest!.verifiedAt!;
  expect(Date.parse(proven)).toBeGreaterThan(0);

  const health = (await get(`${baseUrl(d)}/health`)).json.targets.production;
  expect(health.last_verified).not.toBeNull();
  expect(health.drill_overdue).toBe(false);
  expect(health.next_runs.verify).toEqual(expect.any(String));
  const metrics = (await get(`${baseUrl(d)}/metrics`)).body;
  expect(metrics).toMatch(/^dbguard_last_verified_timestamp_seconds\{target="production"\} \d{10}$/m);
  const card = (await get(`${baseUrl(d)}/api/state`)).json.targets[0];
  expect(card.lastVerified).toEqual(expect.any(String));
  const status = runCli(['status', '--json'], { cwd: site.dir });
  expect(status.json.targets[0].lastVerified).toEqual(expect.any(String));

  // bit rot in the stored backup: the next drill fails and says so
  const fd = fs.openSync(newest.file, 'r+');
  const b = Buffer.alloc(1);
  const at = Math.floor(fs.statSync(newest.file).size / 2);
  fs.readSync(fd, b, 0, 1, at);
  fs.writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, at);
  fs.closeSync(fd);
  const failed = await waitFor('a failed drill', () => site.history().find((r) => r.kind === 'verify' && r.state === 'failed'), 60000);
  expect(failed.error).toMatchObject({ code: 'drill-failed', exitCode: 4 });
  const alert = await waitFor('the drill alert', () => hook.requests.find((r) => r.json?.kind === 'verify'));
  expect(alert.json).toMatchObject({ target: 'production', event: 'damage', kind: 'verify' });
  expect(alert.json.message).toMatch(/restore drill failed: .*sha256/);
  expect(path.basename(newest.file)).toContain(failed.backupId);
  const h2 = (await get(`${baseUrl(d)}/health`)).json.targets.production;
  expect(h2.status).toBe('degraded');
  expect(h2.reason).toMatch(/restore drill failed/);
});

test('a drill overdue for two schedule.verify periods is alerted once and shown as degraded', async () => {
  const hook = await startRecorder();
  closers.push(hook.close);
  const site = await box.site({
    schedule: { backup: '0 0 1 1 *', check: '0 0 1 1 *', verify: '0 3 * * 0', timezone: 'local' },
    alerts: { webhook: { url: `${hook.url}/hook` } },
  });
  // the daemon's drill clock three weeks ahead: nothing proven since it started
  const ahead = () => new Date(Date.now() + 21 * DAY);
  const d = await daemons.start(site.config(), { now: ahead });
  const alerts = await waitFor('two overdue alerts', () => (hook.requests.length >= 2 ? hook.requests : undefined));
  expect(alerts.map((r) => [r.json.target, r.json.event, r.json.kind]).sort()).toEqual([['production', 'drill-overdue', 'verify'], ['staging', 'drill-overdue', 'verify']]);
  const h = (await get(`${baseUrl(d)}/health`)).json.targets.production;
  expect(h).toMatchObject({ drill_overdue: true, status: 'degraded' });
  expect(h.reason).toMatch(/restore drill/);
  await d.alerter.flush(5000);
  expect(hook.requests).toHaveLength(2);
});
