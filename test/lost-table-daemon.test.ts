/**
 * Issue 8, item 1 in the daemon: its scheduled check applies the same rules
 * as `dbguard check`, so a table lost since the newest valid backup is
 * damage (failed run, /health 503, a damage alert naming that backup); with
 * autoRepair the database is left alone (repair refuses to restore over it)
 * and a scheduled backup refuses it. Real DuckDB files, real HTTP on 127.0.0.1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execSql, sha256 } from './helpers/db';
import { baseUrl, Daemons, get, Sandbox, startRecorder, validBackups } from './helpers/daemon';

const box = new Sandbox('dbguard-lost-daemon-');
const daemons = new Daemons();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await daemons.stopAll();
  while (closers.length) await closers.pop()!();
});
afterAll(() => box.cleanup());

test('a scheduled check flags a dropped table, alerts naming the backup that has it, and autoRepair changes nothing', async () => {
  const hook = await startRecorder();
  closers.push(hook.close);
  const site = await box.site({ autoRepair: true, alerts: { webhook: { url: `${hook.url}/h` } } });
  const [first] = validBackups(site.backupDir, 'production');
  const db = site.db('production');
  await execSql(db, 'DROP TABLE tracks');
  const droppedSha = sha256(db);
  const d = await daemons.start(site.config());

  const rec = await d.trigger('production', 'check', 'schedule');
  expect(rec).toMatchObject({ state: 'failed', healthy: false, error: { exitCode: 4 } });
  expect(rec!.findings).toContain('table-missing-since-backup');
  await d.alerter.flush(10000);
  const damage = hook.requests.find((r) => r.json?.event === 'damage');
  expect(damage?.json).toMatchObject({ target: 'production', kind: 'check' });
  expect(damage!.json.message).toContain(`table tracks is missing from ${db}; backup ${first!.id} still has it`);
  // autoRepair tried and refused: no quarantine, same bytes, and it says why
  const failure = hook.requests.find((r) => r.json?.event === 'failure');
  expect(failure!.json.message).toMatch(/automatic repair failed: .*lacks table tracks/);
  expect(fs.existsSync(path.join(site.backupDir, 'quarantine'))).toBe(false);
  expect(sha256(db)).toBe(droppedSha);

  const h = await get(`${baseUrl(d)}/health`);
  expect(h.status).toBe(503);
  expect(h.json.targets.production).toMatchObject({ healthy: false, last_check: { ok: false } });
  expect(h.json.targets.staging.healthy).toBe(true);

  // the scheduled backup refuses it too (damage is not retried) and rotation has nothing to act on
  const backup = await d.trigger('production', 'backup', 'schedule');
  expect(backup).toMatchObject({ state: 'failed', error: { exitCode: 4, code: 'schema-lost' } });
  expect(validBackups(site.backupDir, 'production').map((b) => b.id)).toEqual([first!.id]);
}, 120000);
