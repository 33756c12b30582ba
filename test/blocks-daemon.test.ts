/**
 * The daemon in blocks format (issue 11): scheduled backups go into the store
 * (plain = 0: store only), rotation removes store backups and collects their
 * packs, and the restore drill proves the store backup restorable by reading
 * it back in full (verifiedAt in the store manifest, /health, status).
 */
import * as fs from 'node:fs';
import { runCli } from './helpers/cli';
import { baseUrl, Daemons, get, Sandbox, validBackups, waitFor } from './helpers/daemon';

jest.setTimeout(120000);

const box = new Sandbox('dbguard-blocks-daemon-');
const daemons = new Daemons();
afterEach(() => daemons.stopAll());
afterAll(() => box.cleanup());

test('scheduled backups in blocks format and a drill of a store-only backup', async () => {
  const site = await box.site({
    keep: 1,
    storage: { format: 'blocks', plain: 0 },
    schedule: { backup: '*/2 * * * * *', check: '0 0 1 1 *', verify: '*/3 * * * * *', timezone: 'local' },
    targets: { production: { path: 'data/production.duckdb' } },
  }, { backups: false });
  const d = await daemons.start(site.config());
  const backups = await waitFor('two scheduled backups', () => (site.history().filter((r) => r.kind === 'backup' && r.state === 'succeeded').length >= 2 ? true : undefined), 60000);
  expect(backups).toBe(true);
  const drill = await waitFor('a successful drill', () => site.history().find((r) => r.kind === 'verify' && r.state === 'succeeded'), 60000);
  const health = (await get(`${baseUrl(d)}/health`)).json.targets.production;
  expect(health.last_verified).not.toBeNull();
  await daemons.stop(d);

  // the drilled backup was a scheduled one, and the store holds the backups; keep 1 left one
  const made = site.history().filter((r) => r.kind === 'backup' && r.state === 'succeeded').map((r) => r.backupId);
  expect(made).toContain(drill.backupId);
  expect(fs.readdirSync(site.backupDir).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
  const listed = runCli(['list', 'production', '--json'], { cwd: site.dir }).json;
  expect(listed.backups.map((b: any) => b.location)).toEqual(['store']);
  expect(listed.store.snapshots).toBe(1);
  expect(validBackups(site.backupDir, 'production').map((e) => e.location)).toEqual(['store']);
  const status = runCli(['status', '--json'], { cwd: site.dir });
  expect(status.code).toBe(0);
  expect(status.json.targets[0].lastVerified).toEqual(expect.any(String));
  expect(fs.readdirSync(site.backupDir).filter((n) => n.includes('.tmp'))).toEqual([]);
});
