/**
 * Two runs on one target never interleave (DESIGN.md §5.6): the second exits
 * 5 or, with --wait, waits its turn. Real concurrent child processes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { filesIn, makeProject, tempFilesIn, waitFor, type Project } from './helpers/backup';
import { CLI, cleanEnv, runCli, runCliAsync } from './helpers/cli';
import { sha256 } from './helpers/db';
import { holdDatabase, release } from './helpers/hold';

/** The PID in the target's run lock, or undefined while there is none. */
const lockPid = (backups: string): number | undefined => {
  try { return JSON.parse(fs.readFileSync(path.join(backups, '.production.lock'), 'utf8')).pid; } catch { return undefined; }
};

describe('concurrent backups of one target', () => {
  let p: Project;
  beforeAll(async () => { p = await makeProject(20); });
  afterAll(() => p.cleanup());

  test('two runs at once: one succeeds, the other exits 5 naming the running one; never a broken file', async () => {
    // The first run is paused (SIGSTOP) once it holds the lock, so the two surely overlap however loaded the machine.
    const first = spawn(process.execPath, [CLI, 'backup', 'production', '--json'], { cwd: p.dir, env: cleanEnv() });
    let firstOut = '';
    first.stdout.on('data', (d) => (firstOut += d));
    first.stderr.resume();
    const firstExit = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
    await waitFor(() => lockPid(p.backups) === first.pid, 60000);
    process.kill(first.pid!, 'SIGSTOP');
    let loser;
    try {
      expect(lockPid(p.backups)).toBe(first.pid); // still inside its run
      loser = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    } finally {
      process.kill(first.pid!, 'SIGCONT');
    }
    expect(loser.code).toBe(5);
    expect(await firstExit).toBe(0);
    const winner = { json: JSON.parse(firstOut) };
    expect(loser.json.errors[0].message).toMatch(/another dbguard run \(backup, PID \d+/);
    expect(winner.json.backups[0].status).toBe('valid');
    expect(tempFilesIn(p.backups)).toEqual([]);
    const v = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
    expect(v.code).toBe(0);
    expect(v.json.results).toHaveLength(1);
  });

  test('with --wait both succeed, one after the other, and both backups verify', async () => {
    const before = filesIn(p.backups).filter((f) => f.endsWith('.duckdb'));
    const runs = await Promise.all([0, 1].map(() => runCliAsync(['backup', 'production', '--wait', '30s', '--json'], { cwd: p.dir })));
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    const ids = runs.map((r) => r.json.backups[0].id);
    expect(new Set(ids).size).toBe(2);
    expect(filesIn(p.backups).filter((f) => f.endsWith('.duckdb'))).toHaveLength(before.length + 2);
    const v = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
    expect(v.code).toBe(0);
    expect(v.json.results.filter((r: any) => ids.includes(r.id)).every((r: any) => r.ok)).toBe(true);
  });

  test('a run holding the lock makes verify and prune exit 5; prune --dry-run and list still work', () => {
    const lock = path.join(p.backups, '.production.lock');
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'backup', startedAt: new Date().toISOString() }));
    try {
      for (const args of [['verify', 'production'], ['prune', 'production', '--keep', '1'], ['backup', 'production']]) {
        const r = runCli(args, { cwd: p.dir });
        expect([args[0], r.code]).toEqual([args[0], 5]);
        expect(r.stderr).toContain(`PID ${process.pid}`);
      }
      const files = filesIn(p.backups);
      expect(runCli(['prune', 'production', '--keep', '1', '--dry-run'], { cwd: p.dir }).code).toBe(0);
      expect(runCli(['list', 'production'], { cwd: p.dir }).code).toBe(0);
      expect(filesIn(p.backups)).toEqual(files);
      expect(fs.existsSync(lock)).toBe(true); // a live run's lock is never taken
    } finally {
      fs.rmSync(lock, { force: true });
    }
  });

  test('SIGINT while waiting for the lock: exit 130, and the other run keeps its lock', async () => {
    const lock = path.join(p.backups, '.production.lock');
    const text = JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'backup', startedAt: new Date().toISOString() });
    fs.writeFileSync(lock, text);
    try {
      const child = spawn(process.execPath, [CLI, 'backup', 'production', '--wait', '60s', '--verbose'], { cwd: p.dir, env: cleanEnv() });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await waitFor(() => stderr.includes('busy; waiting before the next try'), 60000); // started and waiting for the lock
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/interrupted/);
      expect(fs.readFileSync(lock, 'utf8')).toBe(text);
      expect(tempFilesIn(p.backups)).toEqual([]);
    } finally {
      fs.rmSync(lock, { force: true });
    }
  });
});

describe('--no-live --wait for a database held by another process', () => {
  let p: Project;
  beforeAll(async () => { p = await makeProject(0.01); });
  afterAll(() => p.cleanup());

  test('the backup retries with backoff and succeeds once the holder exits', async () => {
    const holder = await holdDatabase(p.db);
    // --verbose (without --json, which silences the log) shows each wait on stderr
    const child = spawn(process.execPath, [CLI, 'backup', 'production', '--no-live', '--wait', '60s', '--verbose'], { cwd: p.dir, env: cleanEnv() });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // the event: the backup found the database held and is backing off
    let shaWhileHeld: string;
    try {
      await waitFor(() => stderr.includes('busy; waiting before the next try'), 60000);
      shaWhileHeld = sha256(p.db);
    } finally {
      await release(holder);
    }
    expect(await exited).toBe(0);
    const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(list.json.backups).toHaveLength(1);
    expect(list.json.backups[0].status).toBe('valid');
    expect(stderr).toContain(`in use by PID ${holder.pid}`);
    expect(sha256(p.db)).toBe(shaWhileHeld);
  });

  test('without --wait, or when the wait runs out, it exits 5', async () => {
    const holder = await holdDatabase(p.db);
    try {
      const r = runCli(['backup', 'production', '--no-live', '--wait', '1s', '--json'], { cwd: p.dir });
      expect(r.code).toBe(5);
      expect(r.json.errors[0].message).toContain(`PID ${holder.pid}`);
    } finally {
      await release(holder);
    }
  });
});
