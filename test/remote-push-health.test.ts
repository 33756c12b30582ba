/**
 * remote.auto and the off-site health against a real S3-compatible server:
 * the CLI's backup pushes what it made (a failed push keeps the backup and
 * exits 6), status shows the last push and the newest off-site backup, the
 * daemon records push runs in its history, /metrics has the push series,
 * /health the off-site state (degraded past remote.maxAge), and a push that
 * fails after its retries is alerted. No secret appears anywhere.
 */
import { runCliAsync } from './helpers/cli';
import { baseUrl, Daemons, get, Sandbox, startRecorder, waitFor } from './helpers/daemon';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

const BUCKET = 'health-test';
const ENV = { ...S3_TEST_ENV, DBGUARD_TEST_REMOTE_FAST: '1' };
const box = new Sandbox('dbguard-remote-health-');
const daemons = new Daemons();
let s3: TestS3;
beforeAll(async () => { s3 = await startS3([BUCKET]); });
afterEach(async () => { s3.clearFaults(); await daemons.stopAll(); });
afterAll(async () => { await s3?.close(); box.cleanup(); });

const remote = (prefix: string, extra: Record<string, unknown> = {}) => ({ url: `s3://${BUCKET}/${prefix}`, endpoint: s3.endpoint, forcePathStyle: true, auto: true, ...extra });

test('backup with remote.auto pushes what it made; a failed push keeps the backup, exits 6 and shows in status', async () => {
  const site = await box.site({ remote: remote('cli', { maxAge: '1h' }) });
  let r = await runCliAsync(['backup', 'production', '--json'], { cwd: site.dir, env: ENV });
  expect(r.code).toBe(0);
  const made = r.json.backups[0].id;
  expect(r.json.push[0]).toMatchObject({ target: 'production', ok: true });
  expect(r.json.push[0].pushed.map((x: any) => x.id)).toEqual([made]);

  r = await runCliAsync(['status', 'production', '--json'], { cwd: site.dir, env: ENV });
  const t = r.json.targets[0];
  expect(t.offsite).toMatchObject({ lastPush: { ok: true }, newest: { id: made }, stale: false, maxAgeSeconds: 3600 });

  s3.answer({ times: 1000, status: 500, code: 'InternalError', method: 'PUT' });
  r = await runCliAsync(['backup', 'production'], { cwd: site.dir, env: ENV });
  expect(r.code).toBe(6);
  expect(r.stderr).toContain('the backup is published locally, but the push to the remote failed');
  s3.clearFaults();
  r = await runCliAsync(['list', 'production', '--json'], { cwd: site.dir, env: ENV });
  const newest = r.json.backups[0];
  expect(newest.status).toBe('valid');
  expect(newest.id).not.toBe(made);
  r = await runCliAsync(['status', 'production', '--json'], { cwd: site.dir, env: ENV });
  expect(r.json.targets[0].offsite.lastPush.ok).toBe(false);
  expect(r.json.targets[0].offsite.newest.id).toBe(made);
  const pushes = site.history().filter((x) => x.kind === 'push' && ['succeeded', 'failed'].includes(x.state)).map((x) => x.state);
  expect(pushes).toEqual(['succeeded', 'failed']);
  expect(JSON.stringify(site.history())).not.toContain('S3RVER');
});

test('the daemon pushes after each backup, records the run, and shows it in /metrics and /health; a push failing after retries is alerted', async () => {
  const hook = await startRecorder();
  try {
    const site = await box.site({ remote: remote('daemon', { maxAge: '2d' }), alerts: { webhook: { url: `${hook.url}/h` } }, retry: { attempts: 2, baseDelayMs: 20, factor: 2, maxDelayMs: 100 } });
    const d = await daemons.start(site.config(), { env: ENV });
    const backup = await d.trigger('production', 'backup', 'test');
    expect(backup?.state).toBe('succeeded');
    const pushed = await waitFor('a finished push run', () => site.history().find((x) => x.kind === 'push' && x.state === 'succeeded'));
    expect(pushed.backupId).toBe(backup!.backupId);
    expect(pushed.bytes).toBeGreaterThan(0);

    const metrics = (await get(`${baseUrl(d)}/metrics`)).body;
    expect(metrics).toMatch(/dbguard_last_push_success_timestamp_seconds\{target="production"\} \d+/);
    expect(metrics).toMatch(/dbguard_push_uploaded_bytes_total\{target="production"\} [1-9]\d*/);
    expect(metrics).toMatch(/dbguard_push_failures_total\{target="production"\} 0/);
    const health = (await get(`${baseUrl(d)}/health`)).json;
    expect(health.targets.production.offsite).toMatchObject({ newest: { id: backup!.backupId }, stale: false, last_push: { ok: true } });

    s3.answer({ times: 1000, status: 500, code: 'InternalError', method: 'PUT' });
    await d.trigger('production', 'backup', 'test');
    const alert = await waitFor('the push failure alert', () => hook.requests.find((q) => q.body.includes('push failed after')));
    expect(alert.body).toContain('production');
    expect(site.history().some((x) => x.kind === 'push' && x.state === 'failed')).toBe(true);
    const after = (await get(`${baseUrl(d)}/metrics`)).body;
    expect(after).toMatch(/dbguard_push_failures_total\{target="production"\} [1-9]/);
    for (const text of [after, JSON.stringify((await get(`${baseUrl(d)}/health`)).json), ...hook.requests.map((q) => q.body)]) expect(text).not.toContain('S3RVER');
  } finally {
    await hook.close();
  }
});

test('an off-site copy older than remote.maxAge degrades /health and is alerted once', async () => {
  const hook = await startRecorder();
  try {
    const site = await box.site({ remote: remote('stale', { maxAge: '1ms' }), alerts: { webhook: { url: `${hook.url}/h` } } });
    const d = await daemons.start(site.config(), { env: ENV });
    await d.trigger('production', 'backup', 'test');
    await waitFor('a finished push run', () => site.history().find((x) => x.kind === 'push' && x.state === 'succeeded'));
    const alert = await waitFor('the maxAge alert', () => hook.requests.find((q) => q.body.includes('older than remote.maxAge')));
    expect(alert.body).toContain('production');
    const health = (await get(`${baseUrl(d)}/health`)).json;
    expect(health.targets.production).toMatchObject({ status: 'degraded', offsite: { stale: true } });
    expect(health.targets.production.reason).toContain('remote.maxAge');
    // still stale after the next push: not alerted again
    await d.trigger('production', 'backup', 'test');
    await waitFor('a second push run', () => site.history().filter((x) => x.kind === 'push' && x.state === 'succeeded').length >= 2);
    expect(hook.requests.filter((q) => q.body.includes('older than remote.maxAge'))).toHaveLength(1);
  } finally {
    await hook.close();
  }
});
