/**
 * `dbguard daemon` as a real process (issue 5): a 2-second schedule backs up
 * both targets and rotation holds; SIGTERM stops it gracefully (exit 0, no
 * temporary files, no lock); SIGTERM during a long backup lets it finish or,
 * with a tiny shutdownTimeoutMs, cancels it cleanly; a second signal exits
 * 130 without a half-published backup; an open bind without a token is exit 3.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupRepository } from '../src/storage/repository';
import { runCli } from './helpers/cli';
import { createBigDb, exitOf, freePort, get, leftovers, runRecords, Sandbox, Spawned, validBackups, waitFor, YEARLY } from './helpers/daemon';

const box = new Sandbox('dbguard-daemon-cli-');
const spawned = new Spawned();
afterEach(() => spawned.killAll());
afterAll(() => box.cleanup());

test('a 2-second schedule backs up both targets, rotation keeps 2, SIGTERM exits 0 leaving no temporary or lock files', async () => {
  const port = await freePort();
  const site = await box.site({ keep: 2, schedule: { backup: '*/2 * * * * *', check: YEARLY, timezone: 'local' }, http: { host: '127.0.0.1', port } });
  const d = spawned.start(site.dir);
  const succeeded = (target: string) => site.history().filter((r) => r.target === target && r.kind === 'backup' && r.state === 'succeeded');
  // four scheduled backups per target with keep 2 (plus the template's one): several rotations happened
  await waitFor('four scheduled backups per target', () => ['production', 'staging'].every((t) => succeeded(t).length >= 4), 50000, 100);

  const health = await get(`http://127.0.0.1:${port}/health`);
  expect([200, 503]).toContain(health.status);
  expect(Object.keys(health.json.targets).sort()).toEqual(['production', 'staging']);
  expect((await get(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

  d.child.kill('SIGTERM');
  const exit = await exitOf(d);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(d.stderr()).toMatch(/daemon stopped/);

  for (const target of ['production', 'staging']) {
    const runs = succeeded(target);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.every((r) => r.reason === 'schedule' || r.reason === 'catch-up')).toBe(true);
    // rotation: every backup file on disk is one of at most 2 valid ones, the newest run's among them
    const all = new BackupRepository(site.backupDir).list(target);
    expect(all.length).toBeLessThanOrEqual(2);
    expect(all.every((e) => e.status === 'valid')).toBe(true);
    expect(all.map((e) => e.id)).toContain(runs[runs.length - 1]!.backupId);
  }
  expect(leftovers(site.backupDir)).toEqual([]);
  // every run that started has ended (succeeded or cancelled): nothing left "running"
  const last = new Map(site.history().map((r) => [r.id, r.state]));
  expect([...last.values()].filter((s) => s === 'running' || s === 'retrying')).toEqual([]);
}, 60000);

test('a non-loopback http.host without a token: exit 3, naming the setting; with DBGUARD_HTTP_TOKEN the endpoints need it', async () => {
  const site = await box.site({ http: { host: '0.0.0.0', port: 0 } });
  const r = runCli(['daemon'], { cwd: site.dir, timeout: 20000 });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/http\.host/);
  expect(r.stderr).toMatch(/DBGUARD_HTTP_TOKEN/);

  const port = await freePort();
  site.rewrite({ http: { host: '127.0.0.1', port } });
  const d = spawned.start(site.dir, { DBGUARD_HTTP_TOKEN: 'tok-123' });
  await waitFor('the daemon to answer', async () => (await get(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200, 20000, 50);
  expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(401);
  expect((await get(`http://127.0.0.1:${port}/health`, { authorization: 'Bearer tok-123' })).status).toBe(200);
  d.child.kill('SIGINT');
  expect((await exitOf(d)).code).toBe(0);
});

describe('stopping during a long backup', () => {
  let big: string;
  beforeAll(async () => {
    big = path.join(box.root, 'big.duckdb');
    await createBigDb(big);
  }, 120000);

  /** A site whose only target is the big database; its backup starts at once (catch-up: there is none yet). */
  async function bigSite(extra: Record<string, unknown> = {}) {
    const site = await box.site({ targets: { production: { path: big } }, ...extra }, { backups: false });
    return site;
  }

  async function startAndWaitForRunning(site: { dir: string; history(): ReturnType<typeof runRecords> }, group = false) {
    const d = spawned.start(site.dir, {}, [], { group });
    const running = await waitFor('a running backup', () => site.history().find((r) => r.kind === 'backup' && r.state === 'running'), 30000, 10);
    return { d, running };
  }

  test('SIGTERM: the daemon lets the running backup finish and exits 0', async () => {
    const site = await bigSite();
    const { d, running } = await startAndWaitForRunning(site);
    const sigtermAt = Date.now();
    d.child.kill('SIGTERM');
    const exit = await exitOf(d, 60000);
    expect(exit).toEqual({ code: 0, signal: null });
    // shutdownTimeoutMs is the default 60 s: the running backup is allowed to finish
    const final = runRecords(site.history(), running.id).pop()!;
    expect(final).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(validBackups(site.backupDir, 'production').map((e) => e.id)).toEqual([final.backupId]);
    expect(Date.parse(final.endedAt!)).toBeGreaterThan(sigtermAt);
    expect(leftovers(site.backupDir)).toEqual([]);
    // the lock is free: a CLI backup runs at once
    expect(runCli(['backup', 'production', '--json'], { cwd: site.dir }).code).toBe(0);
  }, 120000);

  test('Ctrl-C in a terminal (SIGINT to the whole process group) also lets the backup finish', async () => {
    // the DuckDB worker processes get the signal too; they must leave the decision to the daemon
    const site = await bigSite();
    const { d, running } = await startAndWaitForRunning(site, true);
    process.kill(-d.child.pid!, 'SIGINT');
    const exit = await exitOf(d, 60000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(runRecords(site.history(), running.id).pop()).toMatchObject({ state: 'succeeded' });
    expect(d.stderr()).not.toMatch(/"alert"/);
    expect(leftovers(site.backupDir)).toEqual([]);
  }, 60000);

  test('with shutdownTimeoutMs 1 the running backup is cancelled cleanly', async () => {
    const site = await bigSite({ shutdownTimeoutMs: 1 });
    const { d, running } = await startAndWaitForRunning(site);
    d.child.kill('SIGTERM');
    const exit = await exitOf(d, 30000);
    expect(exit).toEqual({ code: 0, signal: null });
    const final = runRecords(site.history(), running.id).pop()!;
    expect(final).toMatchObject({ state: 'cancelled', error: { code: 'interrupted' } });
    expect(d.stderr()).toMatch(/shutdown timeout/);
    expect(fs.readdirSync(site.backupDir).filter((f) => f.includes('.duckdb'))).toEqual([]);
    expect(leftovers(site.backupDir)).toEqual([]);
  }, 60000);

  test('a second signal exits 130 at once, leaving no half-published backup', async () => {
    const site = await bigSite();
    const { d } = await startAndWaitForRunning(site);
    d.child.kill('SIGTERM');
    // signals are not queued: send the second only once the first was handled
    await waitFor('the first signal to be handled', () => d.stderr().includes('stopping: no new runs'));
    d.child.kill('SIGTERM');
    const exit = await exitOf(d, 10000);
    expect(exit.code).toBe(130);
    // a backup file exists only with its manifest (complete and valid), never alone
    const entries = new BackupRepository(site.backupDir).list('production');
    expect(entries.filter((e) => e.status !== 'valid')).toEqual([]);
    // what was left (temporary files, the dead process's lock) is cleaned up by the next run
    const next = runCli(['backup', 'production', '--json'], { cwd: site.dir });
    expect(next.code).toBe(0);
    expect(leftovers(site.backupDir)).toEqual([]);
  }, 60000);
});
