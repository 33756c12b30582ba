/**
 * `dbguard guard <targets> -- CMD`, the service entrypoint, with real child
 * processes: recovery before the start, exit code pass-through, signal
 * forwarding, --wait-for a TCP port opened later, and no start when recovery
 * fails (unless --start-anyway).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { checkDatabase } from '../src/ops/check';
import { parseHostPort } from '../src/ops/guard';
import { CLI, cleanEnv, hasStackTrace, type CliResult, runCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';
import { layoutOf } from './helpers/damage';
import { blockStart, copyFixture, exited, flipByte, scanFile, subfolders } from './helpers/damage4';

const t = tempDir('dbguard-guard-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const prodOf = (dir: string) => path.join(dir, 'data', 'production.duckdb');
let backupScan: Awaited<ReturnType<typeof scanFile>>;
let caseNo = 0;
const newCase = (withBackup = true) => {
  const dir = copyFixture(fixture, path.join(t.dir, `case${++caseNo}`));
  if (!withBackup) fs.rmSync(path.join(dir, 'backups'), { recursive: true, force: true });
  return dir;
};

/** A node one-liner for the service command: `node -e <code>`. */
const nodeCmd = (code: string) => [process.execPath, '-e', code];
/** Service code that records that (and when) it ran, then exits with `exitCode`. */
const marks = (marker: string, exitCode = 0) => nodeCmd(`require('fs').writeFileSync(${JSON.stringify(marker)}, String(Date.now())); process.exit(${exitCode})`);

/** Starts the guard asynchronously, keeping the child so the test can signal it. */
function startGuard(args: string[], cwd: string) {
  const child = spawn(process.execPath, [CLI, 'guard', ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, json: undefined })));
  return { child, done, stderr: () => stderr };
}

async function until(what: string, cond: () => boolean, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  await createMusicDb(prodOf(fixture), 1);
  const b = await backupTarget(loadConfig({ cwd: fixture, env: {} }), 'production');
  backupScan = await scanFile(b.file);
}, 60000);

test('a file containing "corrupted data" is recovered from the backup, then the command runs and its exit code is passed through', async () => {
  const dir = newCase();
  const file = prodOf(dir);
  fs.writeFileSync(file, 'corrupted data\n');
  const damagedSha = sha256(file);
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--log-file', 'guard.log', '--', ...marks(marker, 3)], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 3);
  expect(fs.existsSync(marker)).toBe(true);
  // recovered before the start: healthy, the backup's data, the damaged file in quarantine
  expect((await checkDatabase('production', file)).ok).toBe(true);
  expect((await scanFile(file)).tables).toEqual(backupScan.tables);
  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
  expect(r.stderr).toMatch(/repair/);
  // every step logged to --log-file
  const log = fs.readFileSync(path.join(dir, 'guard.log'), 'utf8');
  expect(log).toMatch(/damaged/);
  expect(log).toMatch(/starting service/);
  expect(log).toMatch(/service exited/);
});

test('a healthy database: the command runs at once, exit 0 passed through, the file untouched', () => {
  const dir = newCase();
  const before = sha256(prodOf(dir));
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--', ...marks(marker, 0)], { cwd: dir });
  exited(r, 0);
  expect(fs.existsSync(marker)).toBe(true);
  expect(sha256(prodOf(dir))).toBe(before);
  expect(fs.existsSync(path.join(dir, 'backups', 'quarantine'))).toBe(false);
});

test('SIGTERM to the guard is forwarded to the command; the guard exits with the command\'s code', async () => {
  const dir = newCase();
  const ready = path.join(dir, 'ready');
  const marker = path.join(dir, 'got-sigterm');
  const service = path.join(dir, 'service.js');
  fs.writeFileSync(service, `
    const fs = require('fs');
    process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(marker)}, 'got'); process.exit(0); });
    fs.writeFileSync(${JSON.stringify(ready)}, String(process.pid));
    setInterval(() => {}, 1000);
  `);
  const g = startGuard(['production', '--', process.execPath, service], dir);
  try {
    await until('the service to start', () => fs.existsSync(ready));
    const servicePid = Number(fs.readFileSync(ready, 'utf8'));
    expect(servicePid).not.toBe(g.child.pid);
    g.child.kill('SIGTERM'); // only the guard's own pid, not its process group
    const r = await g.done;
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(fs.readFileSync(marker, 'utf8')).toBe('got');
  } finally {
    g.child.kill('SIGKILL');
  }
});

test('a command killed by a signal gives 128 + its number', () => {
  const dir = newCase();
  const r = runCli(['guard', 'production', '--', ...nodeCmd(`process.kill(process.pid, 'SIGKILL')`)], { cwd: dir });
  exited(r, 137);
});

test('--wait-for host:port waits for a port the test opens a second later, then starts the command', async () => {
  const dir = newCase();
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const marker = path.join(dir, 'ran');
  const g = startGuard(['production', '--wait-for', `127.0.0.1:${port}`, '--', ...marks(marker, 0)], dir);
  const server = net.createServer((s) => s.destroy());
  try {
    // the guard is waiting (it said so twice: it retried) before the port opens
    await until('the guard to retry the port', () => g.stderr().split('waiting for service').length > 2);
    expect(fs.existsSync(marker)).toBe(false);
    expect(g.child.exitCode).toBeNull();
    const startedAt = Date.now();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    const r = await g.done;
    exited(r, 0);
    expect(Number(fs.readFileSync(marker, 'utf8'))).toBeGreaterThanOrEqual(startedAt);
    expect(r.stderr).toMatch(/service is up/);
  } finally {
    g.child.kill('SIGKILL');
    server.close();
  }
});

test('--wait-for a service that never comes: exit 5 within --wait-timeout, the command not started', () => {
  const dir = newCase();
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--wait-for', '127.0.0.1:1', '--wait-timeout', '1s', '--', ...marks(marker, 0)], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 5);
  expect(r.stderr).toContain('127.0.0.1:1');
  expect(fs.existsSync(marker)).toBe(false);
});

test('recovery fails (a text file, no backup): exit 4 and the command does not run', () => {
  const dir = newCase(false);
  const file = prodOf(dir);
  fs.writeFileSync(file, 'corrupted data\n');
  const damagedSha = sha256(file);
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--', ...marks(marker, 0)], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 4);
  expect(fs.existsSync(marker)).toBe(false);
  expect(r.stderr).toMatch(/not starting/);
  expect(r.stderr).toContain('--start-anyway');
  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
});

test('recovery fails but --start-anyway: the command runs and its exit code is passed through', () => {
  const dir = newCase(false);
  fs.writeFileSync(prodOf(dir), 'corrupted data\n');
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--start-anyway', '--', ...marks(marker, 7)], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 7);
  expect(fs.existsSync(marker)).toBe(true);
  expect(r.stderr).toMatch(/starting anyway/);
});

test('--full-check finds a flipped byte in an index block the quick check cannot see, and repairs it before the start', async () => {
  const dir = newCase(true);
  // an index block: the quick check (catalog, counts, primary-key NULL test) never reads it
  const { indexBlocks } = await layoutOf(prodOf(dir));
  flipByte(prodOf(dir), blockStart(indexBlocks[0]!) + 1000);
  const damagedSha = sha256(prodOf(dir));
  const quick = runCli(['guard', 'production', '--', ...nodeCmd('process.exit(0)')], { cwd: dir });
  exited(quick, 0);
  expect(sha256(prodOf(dir))).toBe(damagedSha); // the quick check passed it: untouched
  const marker = path.join(dir, 'ran');
  const full = runCli(['guard', 'production', '--full-check', '--', ...marks(marker, 0)], { cwd: dir });
  exited(full, 0);
  expect(fs.existsSync(marker)).toBe(true);
  expect(full.stderr).toMatch(/repaired by (salvage|restore)/);
  expect((await checkDatabase('production', prodOf(dir))).ok).toBe(true);
  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
});

test('a first deployment (no database, no backup): the command starts and creates it', () => {
  const dir = newCase(false);
  fs.rmSync(prodOf(dir));
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--', ...marks(marker, 0)], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 0);
  expect(fs.existsSync(marker)).toBe(true);
  expect(r.stderr).toMatch(/no database and no backup yet/);
});

test('a missing database with a backup present is restored before the command starts', () => {
  const dir = newCase(true);
  fs.rmSync(prodOf(dir));
  const marker = path.join(dir, 'ran');
  const r = runCli(['guard', 'production', '--', ...marks(marker, 0)], { cwd: dir });
  exited(r, 0);
  expect(fs.existsSync(marker)).toBe(true);
  expect(fs.existsSync(prodOf(dir))).toBe(true);
});

test('a missing command or one that cannot start is a usage error (exit 2)', () => {
  const dir = newCase();
  exited(runCli(['guard', 'production'], { cwd: dir }), 2);
  const r = runCli(['guard', 'production', '--', path.join(dir, 'no-such-program')], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 2);
  expect(r.stderr).toContain('no-such-program');
});

test('parseHostPort', () => {
  expect(parseHostPort('localhost:5672')).toEqual({ host: 'localhost', port: 5672 });
  expect(parseHostPort('[::1]:6379')).toEqual({ host: '::1', port: 6379 });
  expect(() => parseHostPort('localhost')).toThrow(/host:port/);
  expect(() => parseHostPort('localhost:0')).toThrow(/host:port/);
  expect(() => parseHostPort('localhost:70000')).toThrow(/host:port/);
});

test('SIGTERM while waiting for a service: exit 130, the command never starts', async () => {
  const dir = newCase();
  const marker = path.join(dir, 'ran');
  const g = startGuard(['production', '--wait-for', '127.0.0.1:1', '--wait-timeout', '60s', '--', ...marks(marker, 0)], dir);
  try {
    // the third "waiting" line is logged as a backoff sleep of 800 ms begins
    await until('the guard to be in a backoff sleep', () => g.stderr().split('waiting for service').length > 3);
    g.child.kill('SIGTERM');
    const r = await g.done;
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 130); // not 5 ("did not accept connections") after sleeping on
    expect(r.stderr).toMatch(/interrupted while waiting for 127\.0\.0\.1:1/);
    expect(fs.existsSync(marker)).toBe(false);
  } finally {
    g.child.kill('SIGKILL');
  }
});
