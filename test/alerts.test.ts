/**
 * Daemon alerts (issue 5) against real local servers: a JSON or Slack webhook
 * POST, an email through an SMTP server that requires the password from
 * DBGUARD_SMTP_PASSWORD, healthchecks-style ping URLs after good and failed
 * runs, a recovery alert, and delivery retries.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Alerter } from '../src/daemon/alerts';
import { Daemons, Sandbox, startRecorder, startSmtp, waitFor } from './helpers/daemon';

const box = new Sandbox('dbguard-alerts-');
const daemons = new Daemons();
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await daemons.stopAll();
  while (closers.length) await closers.pop()!();
});
afterAll(() => box.cleanup());

async function recorder(respond?: Parameters<typeof startRecorder>[0]) {
  const r = await startRecorder(respond);
  closers.push(r.close);
  return r;
}

const PASSWORD = 'smtp-password-from-env-7x';

test('a damaged target: webhook POST (JSON), email with the password from the environment, failure ping; then success ping and recovery', async () => {
  const hook = await recorder();
  const pings = await recorder();
  const smtp = await startSmtp('dbguard', PASSWORD);
  closers.push(smtp.close);
  const site = await box.site({
    alerts: {
      webhook: { url: `${hook.url}/hooks/T0KEN123` },
      email: { host: '127.0.0.1', port: smtp.port, secure: false, user: 'dbguard', from: 'dbguard@example.test', to: ['ops@example.test', 'dba@example.test'] },
      ping: { success: `${pings.url}/ping/ok`, failure: `${pings.url}/ping/fail` },
    },
  });
  const d = await daemons.start(site.config(), { env: { DBGUARD_SMTP_PASSWORD: PASSWORD } });
  const good = fs.readFileSync(site.db('production'));
  fs.writeFileSync(site.db('production'), 'corrupted data\n');

  const before = Date.now();
  const rec = await d.trigger('production', 'check', 'schedule');
  expect(rec!.state).toBe('failed');
  await d.alerter.flush(10000);

  expect(hook.requests).toHaveLength(1);
  const post = hook.requests[0]!;
  expect(post.method).toBe('POST');
  expect(post.path).toBe('/hooks/T0KEN123');
  expect(post.headers['content-type']).toMatch(/application\/json/);
  expect(post.json).toMatchObject({ target: 'production', event: 'damage', kind: 'check', host: os.hostname() });
  expect(post.json.message).toMatch(/\S/);
  expect(Date.parse(post.json.time)).toBeGreaterThanOrEqual(before - 1000);

  expect(smtp.authFailures).toBe(0);
  expect(smtp.mails).toHaveLength(1);
  const mail = smtp.mails[0]!;
  expect(mail.user).toBe('dbguard');
  expect(mail.from).toBe('dbguard@example.test');
  expect(mail.to.sort()).toEqual(['dba@example.test', 'ops@example.test']);
  expect(mail.data).toMatch(/^Subject: .*damage.*production/m);
  expect(mail.data).toContain('target: production');

  expect(pings.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /ping/fail']);

  // a good run of another target: the success ping, no alert
  expect((await d.trigger('staging', 'check', 'schedule'))!.state).toBe('succeeded');
  await d.alerter.flush(10000);
  expect(pings.requests.map((r) => r.path)).toEqual(['/ping/fail', '/ping/ok']);
  expect(hook.requests).toHaveLength(1);

  // the first success after failures is a recovery
  fs.writeFileSync(site.db('production'), good);
  expect((await d.trigger('production', 'check', 'schedule'))!.state).toBe('succeeded');
  await d.alerter.flush(10000);
  expect(hook.requests.map((r) => r.json.event)).toEqual(['damage', 'recovery']);
  expect(hook.requests[1]!.json.target).toBe('production');
  expect(smtp.mails).toHaveLength(2);
  expect(pings.requests.map((r) => r.path)).toEqual(['/ping/fail', '/ping/ok', '/ping/ok']);
});

test('a damaged source found by a backup alerts at once, without retries', async () => {
  const hook = await recorder();
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/h` } }, retry: { attempts: 3, baseDelayMs: 50, factor: 2, maxDelayMs: 1000 } });
  const d = await daemons.start(site.config());
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  const rec = await d.trigger('staging', 'backup', 'schedule');
  expect(rec).toMatchObject({ state: 'failed', attempt: 1 });
  await d.alerter.flush(10000);
  expect(hook.requests.map((r) => [r.json.target, r.json.event, r.json.kind])).toEqual([['staging', 'damage', 'backup']]);
});

test('the same damage found by two checks in a row is alerted once', async () => {
  const hook = await recorder();
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/h` } } });
  const d = await daemons.start(site.config());
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  expect(await d.trigger('staging', 'check', 'schedule')).toMatchObject({ state: 'failed' });
  expect(await d.trigger('staging', 'check', 'schedule')).toMatchObject({ state: 'failed' });
  await d.alerter.flush(10000);
  expect(hook.requests.filter((r) => r.json.event === 'damage').map((r) => r.json.target)).toEqual(['staging']);
});

test('format "slack" posts {text}', async () => {
  const hook = await recorder();
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/slack`, format: 'slack' } } });
  const d = await daemons.start(site.config());
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  await d.trigger('staging', 'check', 'schedule');
  await d.alerter.flush(10000);
  expect(hook.requests).toHaveLength(1);
  expect(Object.keys(hook.requests[0]!.json)).toEqual(['text']);
  expect(hook.requests[0]!.json.text).toContain('staging');
  expect(hook.requests[0]!.json.text).toContain('damage');
});

test('a failed delivery is retried; one that keeps failing never blocks or fails the run', async () => {
  const hook = await recorder((_r, n) => (n === 1 ? 500 : 200));
  const site = await box.site({ alerts: { webhook: { url: `${hook.url}/h` }, ping: { failure: 'http://127.0.0.1:9/never' } } });
  const d = await daemons.start(site.config());
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  const rec = await d.trigger('staging', 'check', 'schedule');
  expect(rec!.state).toBe('failed');
  await waitFor('the retried webhook', () => hook.requests.length >= 2, 10000);
  await d.alerter.flush(10000);
  expect(hook.requests).toHaveLength(2);
  expect(hook.requests[1]!.json).toEqual(hook.requests[0]!.json);
});

test('the SMTP password comes only from DBGUARD_SMTP_PASSWORD: without it the daemon refuses to start', async () => {
  const site = await box.site({ alerts: { email: { host: '127.0.0.1', port: 2525, user: 'dbguard', from: 'a@example.test', to: 'b@example.test' } } });
  await expect(daemons.start(site.config(), { env: {} })).rejects.toThrow(/DBGUARD_SMTP_PASSWORD/);
});

test('a wrong password is refused by the server and reported only in the log, never thrown', async () => {
  const smtp = await startSmtp('dbguard', PASSWORD);
  closers.push(smtp.close);
  const site = await box.site({ alerts: { email: { host: '127.0.0.1', port: smtp.port, user: 'dbguard', from: 'a@example.test', to: 'b@example.test' } } });
  const warnings: unknown[] = [];
  const log = { debug() {}, info() {}, warn: (o: unknown) => warnings.push(o), error: (o: unknown) => warnings.push(o) } as never;
  const alerter = new Alerter(site.config(), log, { DBGUARD_SMTP_PASSWORD: 'wrong' }, 20);
  alerter.notify('production', 'failure', 'backup', 'test');
  await alerter.flush(10000);
  expect(smtp.mails).toHaveLength(0);
  expect(smtp.authFailures).toBe(3);
  expect(JSON.stringify(warnings)).not.toContain('wrong');
  expect(warnings.length).toBeGreaterThanOrEqual(3);
});

test('flush() leaves no timer behind (a stopped daemon must not keep its process alive)', async () => {
  const site = await box.site();
  const alerter = new Alerter(site.config(), undefined, {}, 20);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await alerter.flush(60000);
  expect(timers()).toBe(before);
});

test('autoRepair: a check that finds damage repairs the database (from the backup) and alerts damage, then repair', async () => {
  const hook = await recorder();
  const site = await box.site({ autoRepair: true, alerts: { webhook: { url: `${hook.url}/h` } } });
  const d = await daemons.start(site.config());
  fs.writeFileSync(site.db('production'), 'corrupted data\n');
  const rec = await d.trigger('production', 'check', 'schedule');
  expect(rec).toMatchObject({ state: 'succeeded', healthy: true });
  await d.alerter.flush(10000);
  expect(hook.requests.map((r) => r.json.event)).toEqual(['damage', 'repair']);
  expect(hook.requests[1]!.json.message).toMatch(/restore/);
  expect(fs.readFileSync(site.db('production')).subarray(8, 12).toString()).toBe('DUCK');
});
