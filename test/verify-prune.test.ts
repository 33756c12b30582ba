/**
 * `dbguard verify` (checksum, open, full read, row counts against the
 * manifest) and `dbguard prune` (retention by keep and grandfather-father-son
 * counts, --dry-run), on real backups in temp folders through the built CLI.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { childPids, cloneBackup, dataBlockOffset, filesIn, flipByte, makeProject, manualClock, readManifestFile, waitFor, type Project } from './helpers/backup';
import { CLI, cleanEnv, hasStackTrace, runCli } from './helpers/cli';
import { sha256, writeConfig } from './helpers/db';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('verify', () => {
  let p: Project;
  const ids: string[] = [];
  const fileOf = (id: string) => path.join(p.backups, `${id}.duckdb`);

  beforeAll(async () => {
    p = await makeProject(1);
    const first = await backupTarget(p.config(), 'production', { clock: manualClock(new Date(2024, 0, 1, 2, 0, 0)) });
    ids.push(first.id, cloneBackup(first.file, 'production', new Date(2024, 0, 2, 2, 0, 0)), cloneBackup(first.file, 'production', new Date(2024, 0, 3, 2, 0, 0)));
  });
  afterAll(() => p.cleanup());

  test('default --latest verifies the newest valid backup and records verifiedAt; the backup bytes stay the same', () => {
    const started = Date.now();
    const shas = ids.map((id) => sha256(fileOf(id)));
    const r = runCli(['verify', 'production', '--json'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.json.ok).toBe(true);
    expect(r.json.results).toEqual([expect.objectContaining({ target: 'production', id: ids[2], ok: true, findings: [] })]);
    const m = readManifestFile(fileOf(ids[2]!));
    expect(m.verifiedAt).toMatch(ISO);
    expect(Date.parse(m.verifiedAt!)).toBeGreaterThanOrEqual(started - 1000);
    expect(readManifestFile(fileOf(ids[0]!)).verifiedAt).toBeUndefined();
    expect(ids.map((id) => sha256(fileOf(id)))).toEqual(shas);
    expect(fs.statSync(`${fileOf(ids[2]!)}.json`).mode & 0o777).toBe(0o600);
    const list = runCli(['list', 'production', '--json'], { cwd: p.dir });
    expect(list.json.backups.find((b: any) => b.id === ids[2]).verifiedAt).toBe(m.verifiedAt);
    expect(filesIn(p.backups).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('--all verifies every backup, --id exactly one', () => {
    const all = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
    expect(all.code).toBe(0);
    expect(all.json.results.map((r: any) => r.id)).toEqual([...ids].reverse());
    const one = runCli(['verify', 'production', '--id', ids[1]!, '--json'], { cwd: p.dir });
    expect(one.code).toBe(0);
    expect(one.json.results.map((r: any) => r.id)).toEqual([ids[1]]);
  });

  test('a flipped byte in a backup: exit 4 with checksum-mismatch, naming it; verifiedAt is not renewed; the others pass', async () => {
    const victim = ids[1]!;
    const offset = await dataBlockOffset(fileOf(victim), 'tracks');
    const verifiedBefore = readManifestFile(fileOf(victim)).verifiedAt;
    flipByte(fileOf(victim), offset);
    try {
      const all = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
      expect(all.code).toBe(4);
      expect(all.json.ok).toBe(false);
      const bad = all.json.results.find((r: any) => r.id === victim);
      expect(bad.ok).toBe(false);
      expect(bad.findings.map((f: any) => f.code)).toContain('checksum-mismatch');
      for (const f of bad.findings) expect(f).toMatchObject({ severity: 'error', message: expect.stringContaining(victim), hint: expect.any(String) });
      expect(all.json.results.filter((r: any) => r.id !== victim).every((r: any) => r.ok)).toBe(true);
      expect(readManifestFile(fileOf(victim)).verifiedAt).toBe(verifiedBefore);

      const human = runCli(['verify', 'production', '--id', victim], { cwd: p.dir });
      expect(human.code).toBe(4);
      expect(human.stdout).toContain(victim);
      expect(human.stdout).toMatch(/FAILED/);
      expect(hasStackTrace(human.stdout + human.stderr)).toBe(false);
      expect(runCli(['verify', 'production', '--latest'], { cwd: p.dir }).code).toBe(0);
    } finally {
      flipByte(fileOf(victim), offset);
    }
  });

  test('a backup whose manifest is gone is incomplete: --all fails on it, --latest skips it', () => {
    const victim = ids[2]!;
    const manifest = fs.readFileSync(`${fileOf(victim)}.json`);
    fs.rmSync(`${fileOf(victim)}.json`);
    try {
      const all = runCli(['verify', 'production', '--all', '--json'], { cwd: p.dir });
      expect(all.code).toBe(4);
      expect(all.json.results.find((r: any) => r.id === victim).findings.map((f: any) => f.code)).toEqual(['no-manifest']);
      const latest = runCli(['verify', 'production', '--json'], { cwd: p.dir });
      expect(latest.code).toBe(0);
      expect(latest.json.results[0].id).toBe(ids[1]);
    } finally {
      fs.writeFileSync(`${fileOf(victim)}.json`, manifest);
    }
  });

  test('Ctrl-C during verify --all: exit 130, not a failed verification', async () => {
    const manifests = ids.map((id) => fs.readFileSync(`${fileOf(id)}.json`, 'utf8'));
    const child = spawn(process.execPath, [CLI, 'verify', 'production', '--all'], { cwd: p.dir, env: cleanEnv(), detached: true });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor(() => childPids(child.pid!).length > 0, 20000, 2); // a DuckDB worker reads a backup
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    expect(out).toMatch(/interrupted/);
    expect(out).not.toMatch(/FAILED/);
    // no manifest was rewritten after the interruption
    expect(ids.map((id) => fs.readFileSync(`${fileOf(id)}.json`, 'utf8')).slice(0, 2)).toEqual(manifests.slice(0, 2));
    expect(filesIn(p.backups).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('usage errors exit 2; a target without backups exits 4', () => {
    expect(runCli(['verify', 'production', '--all', '--latest'], { cwd: p.dir }).code).toBe(2);
    const unknown = runCli(['verify', 'production', '--id', 'production_data_19990101_000000'], { cwd: p.dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('production_data_19990101_000000');
    const none = runCli(['verify', 'staging', '--json'], { cwd: p.dir });
    expect(none.code).toBe(4);
    expect(none.json.results[0].findings[0].code).toBe('no-backups');
  });
});

describe('prune', () => {
  let template: Project;
  // Fri 5 Jan, Sat 20 Jan, Sat 10 Feb (ISO week 6), Mon 26 – Fri 1 Mar (all ISO week 9), two on 28 Feb
  const dates = {
    A: new Date(2024, 0, 5, 2, 0, 0),
    B: new Date(2024, 0, 20, 2, 0, 0),
    C: new Date(2024, 1, 10, 2, 0, 0),
    D: new Date(2024, 1, 26, 2, 0, 0),
    E: new Date(2024, 1, 27, 2, 0, 0),
    F: new Date(2024, 1, 28, 2, 0, 0),
    G: new Date(2024, 1, 28, 14, 0, 0),
    H: new Date(2024, 2, 1, 2, 0, 0),
  };
  type Key = keyof typeof dates;
  const keys = Object.keys(dates) as Key[];
  let templateFile: string;

  beforeAll(async () => {
    template = await makeProject(0.01);
    templateFile = (await backupTarget(template.config(), 'production', { clock: manualClock(new Date(2020, 0, 1)) })).file;
  });
  afterAll(() => template.cleanup());

  /** A project folder with backups A–H, an invalid and an incomplete backup and a stray file. */
  function seeded(config: Record<string, unknown> = {}) {
    const dir = fs.mkdtempSync(path.join(template.dir, 'prune-'));
    writeConfig(dir, config);
    const backups = path.join(dir, 'backups');
    const id: Record<string, string> = {};
    for (const k of keys) id[k] = cloneBackup(templateFile, 'production', dates[k], { dir: backups });
    const invalid = cloneBackup(templateFile, 'production', new Date(2023, 0, 1), { dir: backups, status: 'invalid' });
    fs.copyFileSync(templateFile, path.join(backups, 'production_data_20221231_000000.duckdb'));
    fs.writeFileSync(path.join(backups, 'production_data_old.duckdb'), 'mine');
    const untouchable = [`${invalid}.duckdb`, `${invalid}.duckdb.json`, 'production_data_20221231_000000.duckdb', 'production_data_old.duckdb'];
    const files = (...ks: Key[]) => ks.flatMap((k) => [`${id[k]}.duckdb`, `${id[k]}.duckdb.json`]);
    return { dir, backups, id, untouchable, files };
  }

  test('--dry-run lists what would go and why, and removes nothing', () => {
    const s = seeded();
    const before = filesIn(s.backups);
    const r = runCli(['prune', 'production', '--keep', '3', '--dry-run', '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(r.json.dryRun).toBe(true);
    const t = r.json.targets[0];
    expect(t.removed.map((x: any) => x.id).sort()).toEqual(['A', 'B', 'C', 'D', 'E'].map((k) => s.id[k]).sort());
    for (const x of t.removed) expect(x.reason).toMatch(/newest 3/);
    expect(t.kept.map((x: any) => x.id)).toEqual(expect.arrayContaining(['F', 'G', 'H'].map((k) => s.id[k])));
    expect(filesIn(s.backups)).toEqual(before);
    const human = runCli(['prune', 'production', '--keep', '3', '--dry-run'], { cwd: s.dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/would remove/);
    expect(human.stdout).toMatch(/nothing deleted/);
    expect(filesIn(s.backups)).toEqual(before);
  });

  test('--keep N removes the older valid backups and nothing else', () => {
    const s = seeded();
    const r = runCli(['prune', 'production', '--keep', '3', '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(r.json.targets[0].removed.map((x: any) => x.id).sort()).toEqual(['A', 'B', 'C', 'D', 'E'].map((k) => s.id[k]).sort());
    expect(filesIn(s.backups)).toEqual([...s.files('F', 'G', 'H'), ...s.untouchable].sort());
    // nothing left to prune: not an error
    const again = runCli(['prune', 'production', '--keep', '3'], { cwd: s.dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to prune/);
  });

  test('grandfather-father-son options keep the newest of each of the last days, ISO weeks and months', () => {
    const s = seeded();
    const r = runCli(['prune', 'production', '--keep', '1', '--keep-daily', '3', '--keep-weekly', '2', '--keep-monthly', '3', '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    // keep 1: H; daily: H (1 Mar), G (28 Feb), E (27 Feb); weekly: H (W09), C (W06); monthly: H (Mar), G (Feb), B (Jan)
    expect(r.json.targets[0].removed.map((x: any) => x.id).sort()).toEqual(['A', 'D', 'F'].map((k) => s.id[k]).sort());
    const kept = Object.fromEntries(r.json.targets[0].kept.map((x: any) => [x.id, x.reason]));
    expect(kept[s.id.C!]).toMatch(/week/);
    expect(kept[s.id.B!]).toMatch(/month/);
    expect(filesIn(s.backups)).toEqual([...s.files('B', 'C', 'E', 'G', 'H'), ...s.untouchable].sort());
  });

  test('the same counts from config keep and retention', () => {
    const s = seeded({ keep: 1, retention: { monthly: 2 } });
    const r = runCli(['prune', 'production', '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(r.json.targets[0].policy).toMatchObject({ keep: 1, monthly: 2 });
    expect(filesIn(s.backups)).toEqual([...s.files('G', 'H'), ...s.untouchable].sort());
  });

  test('bad counts are usage errors and remove nothing; a missing backup folder is nothing to prune', () => {
    const s = seeded();
    const before = filesIn(s.backups);
    for (const args of [['--keep', '0'], ['--keep', 'many'], ['--keep-daily', '-1']]) {
      const r = runCli(['prune', 'production', ...args], { cwd: s.dir });
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(filesIn(s.backups)).toEqual(before);
    fs.rmSync(s.backups, { recursive: true });
    const empty = runCli(['prune', 'production', '--json'], { cwd: s.dir });
    expect(empty.stderr).toBe('');
    expect(empty.code).toBe(0);
    expect(empty.json.targets[0].removed).toEqual([]);
  });
});
