/**
 * Issue 8, item 1: a table or sequence that the newest valid backup has and
 * the database lacks. The whole story with the built CLI on `init --demo`:
 * check, backup, backup --allow-damaged, rotation, repair, pre-update, guard
 * and accept-schema; a lost sequence; repair --strategy restore picking the
 * backup that has the table. Real DuckDB files, real child processes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupRepository } from '../src/storage/repository';
import { hasStackTrace, runCli, type CliResult } from './helpers/cli';
import { execSql, sha256, tempDir } from './helpers/db';
import { scanFile } from './helpers/damage4';

const t = tempDir('dbguard-lost-table-');
afterAll(() => t.cleanup());

const dbOf = (dir: string, target: string) => path.join(dir, 'data', `${target}.duckdb`);
const ids = (dir: string, target: string) => new BackupRepository(path.join(dir, 'backups')).list(target).map((b) => b.id);
const expectExit = (r: CliResult, code: number) => {
  if (r.code !== code) throw new Error(`exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  expect(hasStackTrace(r.stderr)).toBe(false);
};
const errorOf = (r: CliResult) => JSON.parse(r.stderr.trim().split('\n').pop()!).error;

/** `init --demo` then `backup both` in a fresh folder; returns the folder and production's backup id. */
function demoSite(name: string): { dir: string; first: string } {
  const dir = path.join(t.dir, name);
  fs.mkdirSync(dir);
  expectExit(runCli(['init', '--demo', '-q'], { cwd: dir }), 0);
  expectExit(runCli(['backup', 'both', '-q'], { cwd: dir }), 0);
  return { dir, first: ids(dir, 'production')[0]! };
}

test('DROP TABLE tracks: check, backup, pre-update, repair and guard all say 4 until accept-schema; rotation keeps the backup that has it', async () => {
  const { dir, first } = demoSite('story');
  const db = dbOf(dir, 'production');
  await execSql(db, 'DROP TABLE tracks');
  const droppedSha = sha256(db);

  // check names the backup that still has the table and the two ways out
  let r = runCli(['check', 'production', '--json'], { cwd: dir });
  expectExit(r, 4);
  const finding = r.json.targets[0].findings.find((f: { code: string }) => f.code === 'table-missing-since-backup');
  expect(finding).toMatchObject({ severity: 'error', message: expect.stringContaining(`table tracks is missing from ${db}; backup ${first} still has it`) });
  expect(finding.hint).toContain(`dbguard restore production --from ${first}`);
  expect(finding.hint).toContain('dbguard accept-schema production');
  expect(r.json.targets[0].tables).toContainEqual({ schema: 'main', name: 'tracks', rows: 0, status: 'missing' });

  // backup refuses and publishes nothing
  r = runCli(['backup', 'production', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(errorOf(r)).toMatchObject({ code: 'schema-lost', exitCode: 4, message: expect.stringContaining(first) });
  expect(ids(dir, 'production')).toEqual([first]);

  // pre-update: not safe, no backup of the broken database, nothing moved
  r = runCli(['pre-update', 'production'], { cwd: dir });
  expectExit(r, 4);
  expect(r.stdout).not.toMatch(/safe to deploy;|all targets healthy/);
  expect(r.stdout).toMatch(/NOT safe to deploy/);
  expect(r.stdout).toContain(`dbguard restore production --from ${first}`);
  expect(ids(dir, 'production')).toEqual([first]);

  // repair auto neither calls it healthy nor restores over the newer rows of the other tables
  r = runCli(['repair', 'production', '--yes'], { cwd: dir });
  expectExit(r, 4);
  expect(r.stdout).not.toMatch(/healthy/);
  expect(r.stderr).toContain('lacks table tracks');
  expect(r.stderr).toContain(`dbguard restore production --from ${first}`);
  expect(fs.existsSync(path.join(dir, 'backups', 'quarantine'))).toBe(false);
  expect(sha256(db)).toBe(droppedSha);

  // guard does not start the service on it
  const marker = path.join(dir, 'service-started');
  r = runCli(['guard', 'production', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`], { cwd: dir });
  expectExit(r, 4);
  expect(fs.existsSync(marker)).toBe(false);
  r = runCli(['guard', 'production', '--full-check', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`], { cwd: dir });
  expectExit(r, 4);
  expect(r.stderr).toContain('lacks table tracks');
  expect(fs.existsSync(marker)).toBe(false);
  expect(sha256(db)).toBe(droppedSha);

  // status (no daemon: it checks now) calls it unhealthy too
  r = runCli(['status', 'production', '--json'], { cwd: dir });
  expect(r.json.targets[0]).toMatchObject({ healthy: false, lastCheck: { ok: false, findings: ['table-missing-since-backup'] } });

  // --allow-damaged stores a faithful copy (valid, listing what it lacks); rotation keeps the one with the table
  r = runCli(['backup', 'production', '--allow-damaged', '--keep', '1', '--json'], { cwd: dir });
  expectExit(r, 0);
  const second = r.json.backups[0];
  expect(second).toMatchObject({ status: 'valid', schemaLost: ['table tracks'], removed: [] });
  expect(ids(dir, 'production')).toEqual([second.id, first]);

  // the later backup does not erase the baseline
  r = runCli(['check', 'production', '--quick', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(r.json.targets[0].findings.map((f: { message: string }) => f.message).join()).toContain(`backup ${first} still has it`);

  // another rotation with keep 1 removes the copy without the table, never the last one with it
  r = runCli(['backup', 'production', '--allow-damaged', '--keep', '1', '--json'], { cwd: dir });
  expectExit(r, 0);
  const third = r.json.backups[0];
  expect(third.removed).toEqual([second.id]);
  expect(ids(dir, 'production')).toEqual([third.id, first]);
  r = runCli(['prune', 'production', '--keep', '1', '--json'], { cwd: dir });
  expectExit(r, 0);
  const pruned = r.json.targets[0];
  expect(pruned.removed).toEqual([]);
  expect(pruned.kept.find((k: { id: string }) => k.id === first).reason).toMatch(/newest valid backup holding table tracks, which the database has lost/);
  expect((await scanFile(path.join(dir, 'backups', `${first}.duckdb`))).tables['main.tracks']!.rows).toBeGreaterThan(0);

  // accept-schema: asks first (no terminal: exit 2, nothing recorded), then records
  const record = path.join(dir, 'backups', 'accepted-schema', 'production.json');
  r = runCli(['accept-schema', 'production'], { cwd: dir });
  expectExit(r, 2);
  expect(fs.existsSync(record)).toBe(false);
  r = runCli(['accept-schema', 'production', '--dry-run', '--json'], { cwd: dir });
  expectExit(r, 0);
  expect(r.json).toMatchObject({ changed: false, dryRun: true, accepted: [{ kind: 'table', schema: 'main', name: 'tracks', heldBy: first }] });
  expect(fs.existsSync(record)).toBe(false);
  r = runCli(['accept-schema', 'production', '--yes', '--json'], { cwd: dir });
  expectExit(r, 0);
  expect(r.json).toMatchObject({ ok: true, target: 'production', changed: true, record, accepted: [{ kind: 'table', name: 'tracks', heldBy: first }] });
  expect(fs.statSync(record).mode & 0o777).toBe(0o600);
  r = runCli(['accept-schema', 'production', '--json'], { cwd: dir });
  expectExit(r, 0);
  expect(r.json).toMatchObject({ changed: false, accepted: [] });

  expectExit(runCli(['check', 'production'], { cwd: dir }), 0);
  r = runCli(['pre-update', 'production'], { cwd: dir });
  expectExit(r, 0);
  expect(r.stdout).toMatch(/safe to deploy/);
  expect(sha256(db)).toBe(droppedSha); // the database itself was never touched

  // accepted: the old backup is an ordinary one again
  r = runCli(['prune', 'production', '--keep', '1', '--dry-run', '--json'], { cwd: dir });
  expectExit(r, 0);
  expect(r.json.targets[0].removed.map((x: { id: string }) => x.id)).toContain(first);

  // a table lost after the acceptance is found again, against the accepted schema
  await execSql(db, 'DROP TABLE albums');
  r = runCli(['check', 'production', '--quick', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(r.json.targets[0].findings.find((f: { code: string }) => f.code === 'table-missing-since-backup').message).toMatch(/table albums is missing .*; backup \S+ still has it/);
}, 180000);

test('a lost sequence is a finding too; repair --strategy restore takes the newest backup that has it, not the newer copy without it', async () => {
  const { dir } = demoSite('sequence');
  const db = dbOf(dir, 'staging');
  await execSql(db, 'CREATE SEQUENCE invoice_seq START 100');
  expectExit(runCli(['backup', 'staging', '-q'], { cwd: dir }), 0);
  const withSeq = ids(dir, 'staging')[0]!;
  await execSql(db, 'DROP SEQUENCE invoice_seq');

  let r = runCli(['check', 'staging', '--quick', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(r.json.targets[0].findings).toEqual([expect.objectContaining({ severity: 'error', code: 'sequence-missing-since-backup', message: `sequence invoice_seq is missing from ${db}; backup ${withSeq} still has it` })]);

  expectExit(runCli(['backup', 'staging', '--allow-damaged', '-q'], { cwd: dir }), 0);
  const without = ids(dir, 'staging')[0]!;
  expect(without).not.toBe(withSeq);

  r = runCli(['repair', 'staging', '--strategy', 'restore', '--yes', '--json'], { cwd: dir });
  expectExit(r, 0);
  expect(r.json).toMatchObject({ ok: true, strategy: 'restore', details: { restoredFrom: withSeq } });
  expect(r.json.after.findings.filter((f: { severity: string }) => f.severity === 'error')).toEqual([]);
  // the replaced (readable) file is kept
  expect(fs.readdirSync(r.json.quarantine)).toContain('staging.duckdb');
  expectExit(runCli(['check', 'staging', '--quick'], { cwd: dir }), 0);
}, 180000);

test('accept-schema records nothing when it cannot write (exit 6, naming the path) or when the database is damaged or missing (exit 4)', async () => {
  const { dir, first } = demoSite('accept-fail');
  const db = dbOf(dir, 'production');
  await execSql(db, 'DROP TABLE tracks');
  const folder = path.join(dir, 'backups', 'accepted-schema');
  fs.writeFileSync(folder, 'in the way\n');

  let r = runCli(['accept-schema', 'production', '--yes', '--json'], { cwd: dir });
  expectExit(r, 6);
  expect(errorOf(r).message).toContain(folder);
  expect(fs.readFileSync(folder, 'utf8')).toBe('in the way\n');
  r = runCli(['check', 'production', '--quick', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(r.json.targets[0].findings[0].message).toContain(`backup ${first} still has it`);

  fs.rmSync(folder);
  fs.renameSync(db, `${db}.elsewhere`);
  r = runCli(['accept-schema', 'production', '--yes', '--json'], { cwd: dir });
  expectExit(r, 4);
  expect(errorOf(r)).toMatchObject({ code: 'damaged', message: expect.stringContaining(`database file ${db} does not exist`) });
  expect(fs.existsSync(folder)).toBe(false);
}, 120000);
