/**
 * The daemon in-process (issue 5): /ready, /health and /metrics, damage
 * turning /health unhealthy, no secret in any response, the bearer token and
 * the non-loopback refusal, retries with backoff around a held database, no
 * retry for a damaged source, catch-up after downtime, and a job history that
 * survives a restart. Real DuckDB files, real HTTP on 127.0.0.1.
 */
import * as fs from 'node:fs';
import { ConfigError } from '../src/core/errors';
import { Daemon } from '../src/daemon/daemon';
import { readManifest, writeManifest } from '../src/storage/manifest';
import { runCliAsync } from './helpers/cli';
import { blockStart, flipByte, layoutOf } from './helpers/damage';
import { baseUrl, Daemons, get, runRecords, Sandbox, validBackups, waitFor } from './helpers/daemon';
import { holdDatabase, release } from './helpers/hold';
import type { ChildProcess } from 'node:child_process';

const box = new Sandbox('dbguard-daemon-');
const daemons = new Daemons();
const holders: ChildProcess[] = [];

afterEach(async () => {
  await daemons.stopAll();
  while (holders.length) await release(holders.pop()!);
});
afterAll(() => box.cleanup());

const RETRY = { attempts: 3, baseDelayMs: 200, factor: 2, maxDelayMs: 1000 };

describe('HTTP endpoints', () => {
  test('/ready, /health and /metrics answer as specified for a healthy site', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config());
    const url = baseUrl(d);

    const ready = await get(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ ready: true });

    const check = await d.trigger('production', 'check', 'test');
    expect(check).toMatchObject({ state: 'succeeded', healthy: true, attempt: 1 });

    const health = await get(`${url}/health`);
    expect(health.status).toBe(200);
    expect(health.contentType).toMatch(/application\/json/);
    const h = health.json;
    expect(h).toMatchObject({ status: 'healthy', runs: 1, failures: 0, error_rate: 0 });
    expect(typeof h.uptime_seconds).toBe('number');
    expect(Number.isNaN(Date.parse(h.timestamp))).toBe(false);
    expect(Object.keys(h.targets).sort()).toEqual(['production', 'staging']);
    const newest = validBackups(site.backupDir, 'production')[0]!;
    expect(h.targets.production).toMatchObject({
      healthy: true,
      last_backup: { id: newest.id, bytes: newest.bytes, fresh: true },
      last_check: { ok: true, findings: [] },
    });
    expect(h.targets.production.last_backup.age_seconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(h.targets.production.last_check.at)).toBeGreaterThan(0);
    // next runs of the yearly schedule: next 1 January, local time
    const next = new Date(h.targets.production.next_runs.backup);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect([next.getMonth(), next.getDate(), next.getHours(), next.getMinutes()]).toEqual([0, 1, 0, 0]);
    expect(h.targets.production.next_runs.check).toBe(h.targets.production.next_runs.backup);
    expect(h.targets.staging.last_check).toBeNull();

    const backup = await d.trigger('staging', 'backup', 'test');
    expect(backup).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(backup!.backupId).toMatch(/^staging_data_\d{8}_\d{6}(_\d+)?$/);
    expect((await get(`${url}/health`)).json.targets.staging.last_backup.id).toBe(backup!.backupId);

    const metrics = await get(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/text\/plain/);
    const m = metrics.body;
    const stagingNewest = validBackups(site.backupDir, 'staging')[0]!;
    expect(stagingNewest.id).toBe(backup!.backupId);
    expect(m).toContain(`dbguard_last_backup_success_timestamp_seconds{target="staging"} ${Math.floor(stagingNewest.createdAt.getTime() / 1000)}`);
    expect(m).toContain(`dbguard_last_backup_success_timestamp_seconds{target="production"} ${Math.floor(newest.createdAt.getTime() / 1000)}`);
    expect(m).toContain(`dbguard_backup_size_bytes{target="staging"} ${stagingNewest.bytes}`);
    expect(m).toMatch(/dbguard_backup_duration_seconds_count\{target="staging"\} 1/);
    expect(m).toMatch(/dbguard_backup_duration_seconds_bucket\{le="[^"]+",target="staging"\} 1/);
    expect(m).toContain('dbguard_runs_total{target="production",kind="check",result="success"} 1');
    expect(m).toContain('dbguard_runs_total{target="staging",kind="backup",result="success"} 1');
    expect(m).toContain('dbguard_database_healthy{target="production"} 1');
    expect(m).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(m).toMatch(/^process_resident_memory_bytes \d/m);
    expect(m).toMatch(/^nodejs_heap_size_used_bytes \d/m);

    expect((await get(`${url}/nope`)).status).toBe(404);
    const post = await fetch(`${url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();

    await daemons.stop(d);
    expect(d.address()).toBeFalsy();
  });

  test('while stopping, /ready is 503 and a running backup is let finish; new triggers are refused', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config());
    const run = d.trigger('production', 'backup', 'test');
    await waitFor('a running backup', () => site.history().some((r) => r.state === 'running'), 10000, 5);
    const stopping = daemons.stop(d, 30000);
    const ready = await get(`${baseUrl(d)}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json).toEqual({ ready: false });
    expect(await d.trigger('staging', 'backup', 'test')).toBeUndefined();
    expect(await stopping).toEqual({ cancelled: false });
    expect(await run).toMatchObject({ state: 'succeeded' });
    expect(validBackups(site.backupDir, 'production')[0]!.id).toBe((await run)!.backupId);
    expect(site.history().some((r) => r.target === 'staging')).toBe(false);
  });

  test('no backup at all: the catch-up backs up each target at start; a target still without one is unhealthy (503)', async () => {
    // live: never keeps the old behaviour of a held database (busy); live copies are tested in live-daemon.test.ts
    const site = await box.site({ retry: { ...RETRY, attempts: 1 }, targets: { production: { path: 'data/production.duckdb', live: 'never' }, staging: { path: 'data/staging.duckdb' } } }, { backups: false });
    holders.push(await holdDatabase(site.db('production')));
    const d = await daemons.start(site.config());
    const finished = (t: string) => site.history().find((r) => r.target === t && r.reason === 'catch-up' && ['succeeded', 'failed'].includes(r.state));
    await waitFor('both catch-up backups', () => finished('production') && finished('staging'));
    expect(finished('production')!.state).toBe('failed');
    expect(finished('staging')!.state).toBe('succeeded');
    const h = await get(`${baseUrl(d)}/health`);
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: 'unhealthy', runs: 2, failures: 1, error_rate: 0.5 });
    expect(h.json.targets.production).toMatchObject({ healthy: false, last_backup: null, last_failure: { kind: 'backup', code: 'busy' } });
    expect(h.json.targets.staging).toMatchObject({ healthy: true, last_backup: { id: finished('staging')!.backupId, fresh: true } });
  });

  test('a damaged database (text file, flipped data byte) turns /health unhealthy (503) after a check run', async () => {
    const site = await box.site();
    const staging = site.db('staging');
    const layout = await layoutOf(staging);
    const block = layout.tableBlocks.tracks![0]!;
    const d = await daemons.start(site.config());
    const url = baseUrl(d);
    expect((await get(`${url}/health`)).status).toBe(200);

    fs.writeFileSync(site.db('production'), 'corrupted data\n');
    const rec = await d.trigger('production', 'check', 'test');
    expect(rec).toMatchObject({ state: 'failed', healthy: false, attempt: 1, error: { exitCode: 4 } });
    expect(rec!.findings!.length).toBeGreaterThan(0);
    // damage is not retried
    expect(runRecords(site.history(), rec!.id).map((r) => r.state)).toEqual(['pending', 'running', 'failed']);

    let h = await get(`${url}/health`);
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: 'unhealthy', runs: 1, failures: 1, error_rate: 1 });
    expect(h.json.targets.production).toMatchObject({ healthy: false, last_check: { ok: false }, last_failure: { kind: 'check' } });
    expect(h.json.targets.staging.healthy).toBe(true);

    flipByte(staging, blockStart(block) + 1000);
    const rec2 = await d.trigger('staging', 'check', 'test');
    expect(rec2).toMatchObject({ state: 'failed', healthy: false });
    h = await get(`${url}/health`);
    expect(h.status).toBe(503);
    expect(h.json.targets.staging).toMatchObject({ healthy: false, last_check: { ok: false } });
    expect(h.json.error_rate).toBe(1);

    const m = (await get(`${url}/metrics`)).body;
    expect(m).toContain('dbguard_database_healthy{target="production"} 0');
    expect(m).toContain('dbguard_database_healthy{target="staging"} 0');
    expect(m).toContain('dbguard_runs_total{target="production",kind="check",result="failure"} 1');
  });

  test('no secret appears in /health, /metrics, /ready or `dbguard status --json`', async () => {
    const hookToken = 'hooktok-9f8e7d6c5b4a';
    const password = 'smtp-pw-1a2b3c4d5e';
    const httpToken = 'bearer-tok-0a1b2c3d';
    const site = await box.site({
      alerts: {
        webhook: { url: `http://127.0.0.1:9/hooks/${hookToken}`, format: 'json' },
        email: { host: '127.0.0.1', port: 9, secure: false, user: 'dbguard', from: 'dbguard@example.test', to: 'ops@example.test' },
      },
    });
    const env = { DBGUARD_SMTP_PASSWORD: password, DBGUARD_HTTP_TOKEN: httpToken };
    const d = await daemons.start(site.config(), { env });
    // a failure (alerts are attempted against closed ports) puts more into the responses
    fs.writeFileSync(site.db('staging'), 'corrupted data\n');
    await d.trigger('staging', 'check', 'test');
    await d.trigger('production', 'check', 'test');
    const auth = { authorization: `Bearer ${httpToken}` };
    const bodies = [
      (await get(`${baseUrl(d)}/health`, auth)).body,
      (await get(`${baseUrl(d)}/metrics`, auth)).body,
      (await get(`${baseUrl(d)}/ready`)).body,
    ];
    expect(bodies[0]).toContain('"status"');
    expect(bodies[1]).toContain('dbguard_runs_total');
    const r = await runCliAsync(['status', '--json'], { cwd: site.dir, env });
    expect(r.json?.targets).toHaveLength(2);
    bodies.push(r.stdout, r.stderr, fs.readFileSync(`${site.backupDir}/.dbguard-history.jsonl`, 'utf8'));
    for (const b of bodies) {
      for (const secret of [hookToken, password, httpToken, '127.0.0.1:9/']) expect(b).not.toContain(secret);
    }
  });

  test('a non-loopback http.host without a token is refused at start (ConfigError)', async () => {
    for (const host of ['0.0.0.0', '127.evil.example']) {
      const site = await box.site({ http: { host, port: 0 } });
      const d = new Daemon(site.config(), { env: {} });
      await expect(d.start()).rejects.toThrow(ConfigError);
      await expect(d.start()).rejects.toThrow(/http\.host/);
      expect(d.address()).toBeFalsy();
    }
  });

  test('with DBGUARD_HTTP_TOKEN every endpoint but /ready needs the bearer token (401)', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config(), { env: { DBGUARD_HTTP_TOKEN: 's3cret-token' } });
    const url = baseUrl(d);
    for (const p of ['/health', '/metrics', '/nope']) {
      expect((await get(`${url}${p}`)).status).toBe(401);
      expect((await get(`${url}${p}`, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await get(`${url}${p}`, { authorization: 's3cret-token' })).status).toBe(401);
    }
    expect((await get(`${url}/ready`)).status).toBe(200);
    expect((await get(`${url}/health`, { authorization: 'Bearer s3cret-token' })).status).toBe(200);
    expect((await get(`${url}/metrics`, { authorization: 'Bearer s3cret-token' })).status).toBe(200);
  });

  test('a port already in use is a configuration error naming http.port', async () => {
    const site = await box.site();
    const first = await daemons.start(site.config());
    const site2 = await box.site({ http: { host: '127.0.0.1', port: first.address()!.port } });
    const d = new Daemon(site2.config(), { env: {} });
    const err = await d.start().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/http\.port/);
    expect((err as Error).message).toContain(String(first.address()!.port));
  });
});

describe('retries', () => {
  test('a held database is retried with exponential backoff, then fails as busy', async () => {
    const site = await box.site({ retry: RETRY, targets: { production: { path: 'data/production.duckdb', live: 'never' }, staging: { path: 'data/staging.duckdb' } } });
    const d = await daemons.start(site.config());
    holders.push(await holdDatabase(site.db('production')));
    const rec = await d.trigger('production', 'backup', 'test');
    expect(rec).toMatchObject({ state: 'failed', attempt: 3, error: { code: 'busy', exitCode: 5 } });
    const steps = runRecords(site.history(), rec!.id);
    expect(steps.map((r) => `${r.state}:${r.attempt}`)).toEqual(['pending:0', 'running:1', 'retrying:1', 'running:2', 'retrying:2', 'running:3', 'failed:3']);
    const at = (i: number) => Date.parse(steps[i]!.at);
    // the wait after attempt 1 is ≥ 200 ms, after attempt 2 ≥ 400 ms (lower bounds only)
    expect(at(3) - at(2)).toBeGreaterThanOrEqual(195);
    expect(at(5) - at(4)).toBeGreaterThanOrEqual(395);
    expect(validBackups(site.backupDir, 'production')).toHaveLength(1);
    const h = (await get(`${baseUrl(d)}/health`)).json;
    expect(h).toMatchObject({ runs: 1, failures: 1, status: 'degraded' });
    expect(h.targets.production.last_failure).toMatchObject({ kind: 'backup', code: 'busy' });
  });

  test('a held database released during the retries is backed up on a later attempt', async () => {
    const site = await box.site({ retry: RETRY, targets: { production: { path: 'data/production.duckdb', live: 'never' }, staging: { path: 'data/staging.duckdb' } } });
    const d = await daemons.start(site.config());
    const holder = await holdDatabase(site.db('production'));
    holders.push(holder);
    const run = d.trigger('production', 'backup', 'test');
    await waitFor('the first retry', () => site.history().some((r) => r.state === 'retrying'), 10000, 10);
    await release(holder);
    const rec = await run;
    expect(rec).toMatchObject({ state: 'succeeded' });
    expect(rec!.attempt).toBeGreaterThanOrEqual(2);
    const states = runRecords(site.history(), rec!.id).map((r) => r.state);
    expect(states.slice(0, 3)).toEqual(['pending', 'running', 'retrying']);
    expect(states[states.length - 1]).toBe('succeeded');
    expect(validBackups(site.backupDir, 'production')[0]!.id).toBe(rec!.backupId);
  });

  test('a damaged source is not retried: one attempt, failed', async () => {
    const site = await box.site({ retry: RETRY });
    const d = await daemons.start(site.config());
    fs.writeFileSync(site.db('production'), 'corrupted data\n');
    const rec = await d.trigger('production', 'backup', 'test');
    expect(rec).toMatchObject({ state: 'failed', attempt: 1, error: { code: 'source-damaged', exitCode: 4 } });
    expect(runRecords(site.history(), rec!.id).map((r) => r.state)).toEqual(['pending', 'running', 'failed']);
    expect(validBackups(site.backupDir, 'production')).toHaveLength(1);
  });
});

describe('catch-up and restarts', () => {
  /** Makes the newest backup of `target` look as if it was taken on 1 January 2000. */
  const makeOld = (site: { backupDir: string }, target: string) => {
    const entry = validBackups(site.backupDir, target)[0]!;
    const m = readManifest(entry.file)!;
    writeManifest(entry.file, { ...m, createdAt: '2000-01-01T00:00:00.000Z' });
    expect(validBackups(site.backupDir, target)[0]!.createdAt.toISOString()).toBe('2000-01-01T00:00:00.000Z');
  };

  test('a backup older than the last scheduled run is caught up at start, once; a fresh one is not', async () => {
    // "0 0 * * *" last fired at local midnight; the template backups are newer than that
    const site = await box.site({ schedule: { backup: '0 0 * * *', check: '0 0 1 1 *', timezone: 'local' } });
    makeOld(site, 'production');
    const d = await daemons.start(site.config());
    const done = await waitFor('the catch-up backup', () => site.history().find((r) => r.reason === 'catch-up' && r.state === 'succeeded'));
    expect(done).toMatchObject({ target: 'production', kind: 'backup', attempt: 1 });
    expect(validBackups(site.backupDir, 'production')[0]!.id).toBe(done.backupId);
    // nothing else was queued: one catch-up run, none for staging
    const ids = new Set(site.history().map((r) => r.id));
    expect(ids.size).toBe(1);
    expect(site.history().some((r) => r.target === 'staging')).toBe(false);
    expect((await get(`${baseUrl(d)}/health`)).json.status).toBe('healthy');

    // a restart with fresh backups catches up nothing
    await daemons.stop(d);
    const before = site.history().length;
    const d2 = await daemons.start(site.config());
    // start() queues any catch-up run (its "pending" record) before it resolves: nothing to wait for
    expect(site.history()).toHaveLength(before);
    await daemons.stop(d2);
  });

  test('the job history survives a restart and `dbguard status` reads it', async () => {
    const site = await box.site();
    const d1 = await daemons.start(site.config());
    fs.writeFileSync(site.db('staging'), 'corrupted data\n');
    const check = await d1.trigger('staging', 'check', 'test');
    const backup = await d1.trigger('production', 'backup', 'test');
    expect(check!.state).toBe('failed');
    expect(backup!.state).toBe('succeeded');
    await daemons.stop(d1);

    const d2 = await daemons.start(site.config());
    const ids = new Set(d2.history.read().map((r) => r.id));
    expect(ids.has(check!.id)).toBe(true);
    expect(ids.has(backup!.id)).toBe(true);
    // the new daemon knows the damage the old one found
    const h = await get(`${baseUrl(d2)}/health`);
    expect(h.status).toBe(503);
    expect(h.json.targets.staging.last_check).toMatchObject({ ok: false });
    expect(h.json.targets.staging.last_failure).toMatchObject({ kind: 'check' });

    const r = await runCliAsync(['status', '--json'], { cwd: site.dir });
    expect(r.code).toBe(4);
    const staging = r.json.targets.find((t: { target: string }) => t.target === 'staging');
    expect(staging).toMatchObject({ ok: false, healthy: false, lastCheck: { ok: false, source: 'daemon' }, lastFailure: { kind: 'check' } });
    const production = r.json.targets.find((t: { target: string }) => t.target === 'production');
    expect(production).toMatchObject({ ok: true, lastBackup: { id: backup!.backupId } });
  });
});
