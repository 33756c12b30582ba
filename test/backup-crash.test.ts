/**
 * Crash safety (DESIGN.md §5.2): a `dbguard backup` child killed with
 * SIGKILL at any moment leaves either no new backup or a complete, valid one;
 * its temporary files are recognisable and the next run removes them and
 * takes over the dead run's lock. SIGINT/SIGTERM exit 130 and leave nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childPids, filesIn, isAlive, makeProject, tempFilesIn, waitFor, type Project } from './helpers/backup';
import { CLI, cleanEnv, runCli } from './helpers/cli';

interface Run { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> }

function startBackup(cwd: string): Run {
  const child = spawn(process.execPath, [CLI, 'backup', 'production', '--json'], { cwd, env: cleanEnv() });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout }));
  });
  return { child, exited };
}

/** Sends `signal` to the dbguard process only (not its workers) and waits until it and its workers are gone. */
async function stop(run: Run, signal: NodeJS.Signals) {
  const workers = childPids(run.child.pid!);
  run.child.kill(signal);
  const result = await run.exited;
  await waitFor(() => workers.every((pid) => !isAlive(pid)), 10000);
  return result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(process.platform === 'linux' ? describe : describe.skip)('crash safety of backup', () => {
  let p: Project;
  let wallMs: number;
  let baseline: string;

  beforeAll(async () => {
    p = await makeProject(50); // about 18 MB: a run takes about a second here, most of it in DuckDB workers
    const t0 = Date.now();
    const r = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    wallMs = Date.now() - t0;
    expect(r.code).toBe(0);
    baseline = r.json.backups[0].id;
  });
  afterAll(() => p.cleanup());

  test('SIGKILL at several moments: every backup listed as valid verifies; the next run cleans up and takes over the lock', async () => {
    const lockFile = path.join(p.backups, '.production.lock');
    const tempSeen = new Set<string>();
    const outcomes: string[] = [];
    let lastKilledPid: number | undefined;
    // Kill at moments measured from the start, then at two moments defined by what is on disk.
    const moments: (number | 'lock' | 'copying')[] = [...[0.3, 0.5, 0.7, 0.85, 0.95].map((m) => Math.round(m * wallMs)), 'lock', 'copying'];
    for (const moment of moments) {
      // earlier kills left temporary files: 'copying' waits for one of this run's own
      const leftBefore = new Set(tempFilesIn(p.backups));
      const run = startBackup(p.dir);
      if (moment === 'lock') await waitFor(() => fs.existsSync(lockFile) && readPid(lockFile) === run.child.pid);
      else if (moment === 'copying') await waitFor(() => readPid(lockFile) === run.child.pid && tempFilesIn(p.backups).some((f) => !leftBefore.has(f)), 20000, 2);
      else await sleep(moment);
      const r = await stop(run, 'SIGKILL');
      outcomes.push(`${moment}: ${r.code ?? r.signal}`);
      if (r.signal === 'SIGKILL') lastKilledPid = run.child.pid;
      else expect(r.code).toBe(0); // finished before the kill
      for (const f of tempFilesIn(p.backups)) tempSeen.add(f);
    }
    // the last kill hit a copy in progress: its temporary file and its lock are left
    expect(outcomes[outcomes.length - 1]).toMatch(/SIGKILL/);
    // temporary files, and any manifest whose data file a kill kept from being published
    const orphanManifests = () => filesIn(p.backups).filter((f) => f.endsWith('.duckdb.json') && !fs.existsSync(path.join(p.backups, f.slice(0, -5))));
    const leftovers = [...tempFilesIn(p.backups), ...orphanManifests()];
    expect(tempFilesIn(p.backups).length).toBeGreaterThan(0);
    expect(readPid(lockFile)).toBe(lastKilledPid);

    // what the killed runs left, as list sees it (list takes no lock)
    const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(list.code).toBe(0);
    const valid: string[] = list.json.backups.filter((b: any) => b.status === 'valid').map((b: any) => b.id);
    expect(valid).toContain(baseline);

    // the next run removes every temporary file, reports them, and takes over the dead run's lock
    const next = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect(next.code).toBe(0);
    const b = next.json.backups[0];
    expect([...b.cleaned].sort()).toEqual(leftovers.map((f) => path.join(p.backups, f)).sort());
    expect(b.lockTakenOverFrom).toMatchObject({ pid: lastKilledPid });
    expect(tempFilesIn(p.backups)).toEqual([]);
    expect(orphanManifests()).toEqual([]);
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(filesIn(p.backups).filter((f) => f.startsWith('.'))).toEqual([]);

    // nothing that was listed as valid is broken
    const verify = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
    expect(verify.json.results.map((r: any) => r.id)).toEqual(expect.arrayContaining([...valid, b.id]));
    for (const r of verify.json.results) {
      if (valid.includes(r.id) || r.id === b.id) expect(r).toMatchObject({ ok: true, findings: [] });
      else throw new Error(`${r.id} is neither valid nor new: a kill left a backup without its manifest`);
    }
    const again = runCli(['verify', 'production', '--latest', '--json'], { cwd: p.dir });
    expect(again.code).toBe(0);
    expect(again.json.results[0].id).toBe(b.id);
    expect(tempSeen.size).toBeGreaterThan(0);
  });

  // Ctrl-C on a terminal signals the whole process group: dbguard and its DuckDB
  // workers get SIGINT at once, and either may handle it first.
  test.each([
    ['the whole process group at once', 0],
    ['a worker first (while it starts), dbguard 30 ms later', 30],
  ])('Ctrl-C reaching %s: exit 130, never a damage report', async (_, workerLeadMs) => {
    const before = filesIn(p.backups);
    const child = spawn(process.execPath, [CLI, 'backup', 'production'], { cwd: p.dir, env: cleanEnv(), detached: true });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // the copy is there and the worker that validates it runs (the copy itself may take only milliseconds)
    await waitFor(() => tempFilesIn(p.backups).length > 0, 20000, 2);
    const copying = childPids(child.pid!);
    await waitFor(() => childPids(child.pid!).some((w) => !copying.includes(w)), 20000, 2);
    const workers = childPids(child.pid!);
    if (workerLeadMs) {
      for (const w of workers) process.kill(w, 'SIGINT');
      await sleep(workerLeadMs);
    }
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch { /* dbguard already ended on its own (worker-first case) */ }
    expect(await exited).toBe(130);
    await waitFor(() => workers.every((pid) => !isAlive(pid)), 10000);
    expect(stderr).toMatch(/interrupted/);
    expect(stderr).not.toMatch(/damaged|repair|cannot read/);
    expect(filesIn(p.backups)).toEqual(before);
  });

  test('a DuckDB worker that dies on its own is asked once more: the backup still succeeds and verifies', async () => {
    const child = spawn(process.execPath, [CLI, 'backup', 'production', '--json'], { cwd: p.dir, env: cleanEnv() });
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor(() => tempFilesIn(p.backups).length > 0, 20000, 2);
    const copying = childPids(child.pid!);
    await waitFor(() => childPids(child.pid!).some((w) => !copying.includes(w)), 20000, 2);
    for (const w of childPids(child.pid!).filter((x) => !copying.includes(x))) process.kill(w, 'SIGKILL');
    expect(await exited).toBe(0);
    const b = JSON.parse(stdout).backups[0];
    expect(b.status).toBe('valid');
    const v = runCli(['verify', 'production', '--id', b.id], { cwd: p.dir });
    expect(v.code).toBe(0);
    expect(tempFilesIn(p.backups)).toEqual([]);
  });

  test('a manifest whose data file a kill kept from being published is never listed, and the next run removes it', () => {
    const orphan = path.join(p.backups, 'production_data_20200101_000000.duckdb.json');
    const stray = path.join(p.backups, 'staging_data_20200101_000000.duckdb.json'); // another target's: not ours to clean now
    const latest = runCli(['list', 'production', '--json'], { cwd: p.dir }).json.backups[0];
    fs.writeFileSync(orphan, JSON.stringify({ ...JSON.parse(fs.readFileSync(`${latest.file}.json`, 'utf8')), id: 'production_data_20200101_000000' }));
    fs.writeFileSync(stray, '{}');
    const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(list.json.backups.map((b: any) => b.id)).not.toContain('production_data_20200101_000000');
    const next = runCli(['backup', 'production', '--json'], { cwd: p.dir });
    expect(next.code).toBe(0);
    expect(next.json.backups[0].cleaned).toEqual([orphan]);
    expect(fs.existsSync(orphan)).toBe(false);
    expect(fs.existsSync(stray)).toBe(true);
    fs.rmSync(stray);
  });

  test.each(['SIGINT', 'SIGTERM'] as const)('%s during the copy: exit 130, no temporary file, no lock, no new backup', async (signal) => {
    const before = filesIn(p.backups);
    const run = startBackup(p.dir);
    await waitFor(() => tempFilesIn(p.backups).length > 0, 20000, 2);
    const r = await stop(run, signal);
    expect(r.code).toBe(130);
    expect(filesIn(p.backups)).toEqual(before);
    expect(JSON.parse(r.stdout).errors[0]).toMatchObject({ code: 'interrupted', exitCode: 130 });
  });
});

function readPid(lockFile: string): number | undefined {
  try {
    return JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid;
  } catch {
    return undefined;
  }
}
