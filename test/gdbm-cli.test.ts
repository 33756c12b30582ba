/**
 * A GDBM target (Flower's state file) end to end through the built CLI:
 * check, backup, list, verify, restore, repair (needs recovery, "corrupted
 * data" with and without a backup), guard --wait-for and the daemon. Files are
 * made and damaged with gdbmtool itself.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BackupRepository } from '../src/storage/repository';
import { hasStackTrace, runCli, startCli } from './helpers/cli';
import { exitOf, freePort, get, Spawned, waitFor, YEARLY } from './helpers/daemon';
import { sha256, tempDir } from './helpers/db';
import { createGdbm, gdbmCount, gdbmKeys, killWriterMidStore, requireGdbmtool } from './helpers/gdbm';

const spawned = new Spawned();
let t: ReturnType<typeof tempDir>;
let db: string;
const setup = (extra: Record<string, unknown> = {}) => {
  fs.writeFileSync(path.join(t.dir, 'dbguard.config.json'), JSON.stringify({ backupDir: 'backups', targets: { flower: { path: 'data/flower.db', engine: 'gdbm' } }, ...extra }));
};
const cli = (...args: string[]) => runCli(args, { cwd: t.dir });

beforeAll(() => requireGdbmtool());
beforeEach(() => {
  t = tempDir('dbguard-gdbm-cli-');
  fs.mkdirSync(path.join(t.dir, 'data'));
  db = path.join(t.dir, 'data', 'flower.db');
  createGdbm(db, 200);
  setup();
});
afterEach(() => { spawned.killAll(); t.cleanup(); });

test('check, backup, list, verify: a .db backup with a gdbm manifest, the source unchanged', () => {
  const before = sha256(db);
  const plain = cli('check', 'flower');
  expect(plain.stdout).toMatch(/healthy {2}full read in /); // GDBM has no block checksums to scrub
  const c = cli('check', 'flower', '--json');
  expect(c.code).toBe(0);
  expect(c.json.targets[0].engine ?? 'gdbm').toBe('gdbm');
  expect(c.json.targets[0].tables).toEqual([{ schema: 'main', name: 'keys', rows: 200, status: 'ok' }]);
  const b = cli('backup', 'flower', '--json');
  expect(b.code).toBe(0);
  const file = b.json.backups[0].file as string;
  expect(path.basename(file)).toMatch(/^flower_data_\d{8}_\d{6}\.db$/);
  expect(sha256(file)).toBe(before);
  expect(sha256(db)).toBe(before);
  const manifest = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8'));
  expect(manifest.engine).toMatchObject({ name: 'gdbm' });
  expect(manifest.tables).toEqual([expect.objectContaining({ name: 'keys', rows: 200 })]);
  expect(manifest.validation.status).toBe('valid');
  expect(gdbmCount(file)).toBe(200);
  expect(cli('list', 'flower', '--json').json.backups).toEqual([expect.objectContaining({ status: 'valid' })]);
  const v = cli('verify', 'flower', '--json');
  expect(v.code).toBe(0);
  expect(v.json.results[0].ok).toBe(true);
});

test('needs recovery after a killed writer: check exit 4 with the hint, backup refuses, repair recovers every key from a copy', async () => {
  const keys = gdbmKeys(db);
  await killWriterMidStore(db);
  const damaged = sha256(db);
  const c = cli('check', 'flower', '--json');
  expect(c.code).toBe(4);
  expect(c.json.targets[0].findings).toEqual([expect.objectContaining({ code: 'gdbm-needs-recovery', hint: expect.stringContaining('dbguard repair flower') })]);
  const b = cli('backup', 'flower');
  expect(b.code).toBe(4);
  expect(b.stderr).toContain('needs recovery');
  expect(hasStackTrace(b.stderr)).toBe(false);
  expect(fs.readdirSync(path.join(t.dir, 'backups')).filter((n) => !n.startsWith('.'))).toEqual([]);

  const r = cli('repair', 'flower', '--yes', '--json');
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ ok: true, strategy: 'salvage' });
  // the damaged file is in quarantine, byte for byte
  const q = r.json.quarantine as string;
  expect(sha256(path.join(q, 'flower.db'))).toBe(damaged);
  const after = gdbmKeys(db);
  for (const k of keys) expect(after).toContain(k);
  expect(cli('check', 'flower').code).toBe(0);
});

test('"corrupted data" over the file: repair restores the newest verified backup; without one it recreates an empty database, loudly', () => {
  expect(cli('backup', 'flower').code).toBe(0);
  fs.writeFileSync(db, 'corrupted data');
  const c = cli('check', 'flower');
  expect(c.code).toBe(4);
  expect(c.stdout).toContain('is a text file ("corrupted data"), not a GDBM database');
  const r = cli('repair', 'flower', '--yes', '--json');
  expect(r.json).toMatchObject({ ok: true, strategy: 'restore' });
  expect(gdbmCount(db)).toBe(200);
  expect(fs.readFileSync(path.join(r.json.quarantine, 'flower.db'), 'utf8')).toBe('corrupted data');

  fs.rmSync(path.join(t.dir, 'backups'), { recursive: true });
  fs.writeFileSync(db, 'corrupted data');
  const lost = cli('repair', 'flower', '--yes');
  expect(lost.code).toBe(0);
  expect(lost.stdout).toMatch(/DATA IS GONE: .*recreated as an EMPTY GDBM database: every key it held is lost/);
  expect(gdbmCount(db)).toBe(0);
  expect(fs.readdirSync(path.join(t.dir, 'backups', 'quarantine')).length).toBe(1);
});

test('restore puts the backup back and keeps the replaced file in pre-restore/', () => {
  expect(cli('backup', 'flower').code).toBe(0);
  createGdbm(db, 5, { start: 1000 });
  expect(gdbmCount(db)).toBe(205);
  const r = cli('restore', 'flower', '--yes', '--json');
  expect(r.code).toBe(0);
  expect(gdbmCount(db)).toBe(200);
  expect(gdbmCount(path.join(r.json.safetyCopy, 'flower.db'))).toBe(205);
});

test('guard --wait-for HOST:PORT repairs the empty file, waits for the server, then runs the command with its exit code', async () => {
  fs.truncateSync(db, 0);
  const port = await freePort();
  const guard = startCli(['guard', 'flower', '--wait-for', `127.0.0.1:${port}`, '--wait-timeout', '60s', '--', 'sh', '-c', 'gdbmtool -N -q -r data/flower.db count; exit 7'], { cwd: t.dir });
  await guard.stderrIncludes('guard: waiting for service');
  expect(guard.child.exitCode).toBeNull(); // the service is not started before the server answers
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const g = await guard.done;
  server.close();
  expect(g.code).toBe(7);
  expect(g.stdout).toContain('There are 0 items in the database.');
  expect(g.stderr + g.stdout).toMatch(/repaired by recreate/);
});

test('the daemon backs up a GDBM target on its schedule', async () => {
  const port = await freePort();
  setup({ schedule: { backup: '*/2 * * * * *', check: YEARLY, timezone: 'local' }, http: { host: '127.0.0.1', port } });
  const d = spawned.start(t.dir);
  const repo = new BackupRepository(path.join(t.dir, 'backups'));
  await waitFor('a scheduled GDBM backup', () => repo.list('flower').some((e) => e.status === 'valid'), 40000, 100);
  const health = await get(`http://127.0.0.1:${port}/health`);
  expect(Object.keys(health.json.targets)).toEqual(['flower']);
  d.child.kill('SIGTERM');
  expect(await exitOf(d)).toEqual({ code: 0, signal: null });
  const valid = repo.list('flower').filter((e) => e.status === 'valid');
  expect(gdbmCount(valid[0]!.file)).toBe(200);
}, 60000);

test('gdbmtool missing: check and repair exit 6 with the apt-get line, and repair moves nothing', () => {
  const env = { DBGUARD_GDBMTOOL: path.join(t.dir, 'no-gdbmtool') };
  const before = sha256(db);
  const c = runCli(['check', 'flower'], { cwd: t.dir, env });
  expect(c.code).toBe(6);
  expect(c.stderr).toContain('gdbmtool is not installed');
  expect(c.stderr).toContain('apt-get install gdbmtool');
  const r = runCli(['repair', 'flower', '--yes'], { cwd: t.dir, env });
  expect(r.code).toBe(6);
  expect(r.stderr).toContain('apt-get install gdbmtool');
  expect(sha256(db)).toBe(before);
  expect(fs.existsSync(path.join(t.dir, 'backups', 'quarantine'))).toBe(false);
});
