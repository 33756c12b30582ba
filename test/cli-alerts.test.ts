/**
 * Alerts and history from command-line runs (issue 13), as cron runs them:
 * the built CLI, one process per run, against a webhook receiver, an SMTP
 * server and a ping receiver on 127.0.0.1. A failing backup alerts (damage),
 * pings /start then /fail; the next good one sends "recovered" (known only
 * from the history) and pings the plain URL; the runs appear in `status` and
 * on the dashboard; `--no-alerts` records but sends nothing; an alert that
 * cannot be delivered never changes the exit code.
 */
import * as fs from 'node:fs';
import { runCli, runCliAsync } from './helpers/cli';
import { baseUrl, Daemons, freePort, get, Sandbox, startRecorder, startSmtp } from './helpers/daemon';

jest.setTimeout(120000);

const box = new Sandbox('dbguard-cli-alerts-');
const daemons = new Daemons();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await daemons.stopAll();
  while (closers.length) await closers.pop()!();
});
afterAll(() => box.cleanup());

const PASSWORD = 'smtp-pass-cli-9q';

async function receivers() {
  const hook = await startRecorder();
  const pings = await startRecorder();
  const smtp = await startSmtp('dbguard', PASSWORD);
  closers.push(hook.close, pings.close, smtp.close);
  return { hook, pings, smtp };
}

test('cron-style runs: a failing backup alerts by webhook and email and pings /start + /fail; the next success sends "recovered"; status and the dashboard show both', async () => {
  const { hook, pings, smtp } = await receivers();
  const site = await box.site({
    alerts: {
      webhook: { url: `${hook.url}/hook` },
      email: { host: '127.0.0.1', port: smtp.port, user: 'dbguard', from: 'dbguard@example.test', to: 'ops@example.test' },
      ping: { url: `${pings.url}/ping/abc` },
    },
  });
  const env = { DBGUARD_SMTP_PASSWORD: PASSWORD };
  const good = fs.readFileSync(site.db('production'));
  fs.writeFileSync(site.db('production'), 'corrupted data\n');

  const failed = await runCliAsync(['backup', 'production'], { cwd: site.dir, env });
  expect(failed.code).toBe(4);
  expect(hook.requests).toHaveLength(1);
  expect(hook.requests[0]!.json).toMatchObject({ target: 'production', event: 'damage', kind: 'backup' });
  expect(hook.requests[0]!.json.message).toMatch(/production/);
  expect(smtp.mails).toHaveLength(1);
  expect(smtp.mails[0]!.data).toMatch(/Subject: \[dbguard\] damage: production backup/);
  expect(smtp.mails[0]!.data).not.toContain(PASSWORD);
  expect(pings.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /ping/abc/start', 'GET /ping/abc/fail']);

  fs.writeFileSync(site.db('production'), good);
  const ok = await runCliAsync(['backup', 'production', '--json'], { cwd: site.dir, env });
  expect(ok.code).toBe(0);
  expect(hook.requests).toHaveLength(2);
  expect(hook.requests[1]!.json).toMatchObject({ target: 'production', event: 'recovery', kind: 'backup' });
  expect(smtp.mails).toHaveLength(2);
  expect(smtp.mails[1]!.data).toMatch(/Subject: \[dbguard\] recovery: production backup/);
  expect(pings.requests.slice(2).map((r) => r.path)).toEqual(['/ping/abc/start', '/ping/abc']);

  // both runs are in the job history the daemon reads
  const finals = site.history().filter((r) => r.state === 'succeeded' || r.state === 'failed');
  expect(finals.map((r) => [r.kind, r.state, r.source])).toEqual([['backup', 'failed', 'cli'], ['backup', 'succeeded', 'cli']]);
  expect(finals[0]!.error).toMatchObject({ exitCode: 4 });
  expect(finals[1]).toMatchObject({ backupId: ok.json.backups[0].id, bytes: ok.json.backups[0].bytes, rows: expect.any(Number) });

  const status = runCli(['status', 'production', '--json'], { cwd: site.dir });
  expect(status.json.targets[0].lastFailure).toMatchObject({ kind: 'backup', code: finals[0]!.error!.code });
  expect(status.json.targets[0].lastBackup.id).toBe(ok.json.backups[0].id);

  const d = await daemons.start(site.config(), { env });
  const state = (await get(`${baseUrl(d)}/api/state`)).json;
  const rows = state.history.filter((r: any) => r.target === 'production');
  expect(rows.map((r: any) => [r.kind, r.state, r.source])).toEqual([['backup', 'succeeded', 'cli'], ['backup', 'failed', 'cli']]);
  expect(rows[0]).toMatchObject({ bytes: ok.json.backups[0].bytes, attempt: 1, error: null });
  expect(rows[1].error).toMatch(/damaged/);
  expect(state.targets[0].lastFailure).toMatchObject({ kind: 'backup' });
});

test('check, verify, prune and repair record their runs; damage found by an hourly check is alerted once, a repair and the recovery are alerted', async () => {
  const { hook } = await receivers();
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/hook` } } });
  const events = () => hook.requests.map((r) => `${r.json.event}:${r.json.kind}`);

  expect((await runCliAsync(['check', 'production'], { cwd: site.dir })).code).toBe(0);
  expect((await runCliAsync(['verify', 'production'], { cwd: site.dir })).code).toBe(0);
  expect((await runCliAsync(['prune', 'production'], { cwd: site.dir })).code).toBe(0);
  expect((await runCliAsync(['prune', 'production', '--dry-run'], { cwd: site.dir })).code).toBe(0);
  expect(events()).toEqual([]);

  fs.writeFileSync(site.db('production'), 'corrupted data\n');
  expect((await runCliAsync(['check', 'production'], { cwd: site.dir })).code).toBe(4);
  expect((await runCliAsync(['check', 'production'], { cwd: site.dir })).code).toBe(4);
  expect(events()).toEqual(['damage:check']);
  expect((await runCliAsync(['repair', 'production', '--yes'], { cwd: site.dir })).code).toBe(0);
  expect((await runCliAsync(['check', 'production'], { cwd: site.dir })).code).toBe(0);
  expect(events()).toEqual(['damage:check', 'repair:repair', 'recovery:check']);

  const kinds = site.history().filter((r) => r.state !== 'running').map((r) => `${r.kind}:${r.state}`);
  expect(kinds).toEqual(['check:succeeded', 'verify:succeeded', 'prune:succeeded', 'check:failed', 'check:failed', 'repair:succeeded', 'check:succeeded']);
  expect(site.history().every((r) => r.source === 'cli')).toBe(true);
});

test('--no-alerts records the run but sends nothing; an alert that cannot be delivered leaves the exit code alone', async () => {
  const { hook, pings } = await receivers();
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/hook` }, ping: { url: `${pings.url}/p` } } });
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  // async: the receivers run in this process and must be able to answer
  expect((await runCliAsync(['backup', 'staging', '--no-alerts'], { cwd: site.dir })).code).toBe(4);
  expect(hook.requests).toEqual([]);
  expect(pings.requests).toEqual([]);
  expect(site.history().filter((r) => r.state === 'failed')).toHaveLength(1);

  // nothing listens on this port: delivery fails, is logged, and the run still exits 0
  const dead = `http://127.0.0.1:${await freePort()}`;
  site.rewrite({ alerts: { webhook: { url: `${dead}/hook` }, ping: { url: `${dead}/p` } } });
  const r = await runCliAsync(['backup', 'production'], { cwd: site.dir });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/alert delivery failed/);
  expect(r.stderr).not.toMatch(/\/hook|\/p\b/);
});

test('the daemon follows the same ping convention: /start as a run begins, the plain URL when it succeeds, /fail when it fails', async () => {
  const { pings } = await receivers();
  const site = await box.site({ alerts: { ping: { url: `${pings.url}/hc/` } } });
  const d = await daemons.start(site.config());
  expect((await d.trigger('production', 'check', 'test'))!.state).toBe('succeeded');
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  expect((await d.trigger('staging', 'check', 'test'))!.state).toBe('failed');
  await d.alerter.flush(10000);
  expect(pings.requests.map((r) => r.path)).toEqual(['/hc/start', '/hc', '/hc/start', '/hc/fail']);
});
