/**
 * `dbguard repair` end to end, against real damaged DuckDB files: every kind
 * of damage is recovered from a backup (or by a lossless salvage), the
 * damaged original always ends up byte-identical in quarantine, and without
 * a backup an unreadable file gives exit 4 and is kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { backupTarget } from '../src/ops/backup';
import { checkDatabase } from '../src/ops/check';
import { hasStackTrace, runCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';
import { holdDatabase, release } from './helpers/hold';
import { copyFixture, damage, type DamageKind, exited, putForeignWal, scanFile, subfolders } from './helpers/damage4';

const t = tempDir('dbguard-repair-');
afterAll(() => t.cleanup());

const fixture = path.join(t.dir, 'fixture');
const prodOf = (dir: string) => path.join(dir, 'data', 'production.duckdb');
let backupId: string;
let backupScan: Awaited<ReturnType<typeof scanFile>>;
let caseNo = 0;

/** A fresh copy of the fixture (healthy production with one valid backup); `withBackup: false` drops the backups. */
function newCase(withBackup = true): string {
  const dir = copyFixture(fixture, path.join(t.dir, `case${++caseNo}`));
  if (!withBackup) fs.rmSync(path.join(dir, 'backups'), { recursive: true, force: true });
  return dir;
}

function quarantineOf(dir: string): string[] {
  return subfolders(path.join(dir, 'backups', 'quarantine'));
}

beforeAll(async () => {
  fs.mkdirSync(fixture, { recursive: true });
  writeConfig(fixture);
  await createMusicDb(prodOf(fixture), 1);
  const config = loadConfig({ cwd: fixture, env: {} });
  const b = await backupTarget(config, 'production');
  expect(b.status).toBe('valid');
  backupId = b.id;
  backupScan = await scanFile(b.file);
}, 60000);

const kinds: [DamageKind, string][] = [
  ['header-zeroed', 'bytes 0..4096 zeroed'],
  ['magic-changed', 'bytes 8..12 changed'],
  ['truncated', 'truncated in the middle of its blocks'],
  ['text', 'a text file "corrupted data"'],
  ['empty', 'an empty file'],
  ['both-headers', 'both database headers (4096, 8192) zeroed'],
  ['data-byte', 'a flipped byte in a data block of tracks'],
];

describe('repair with a backup present', () => {
  test.each(kinds)('%s (%s): healthy again with the backup\'s data, the original in quarantine', async (kind) => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, kind);
    const damagedSha = sha256(file);
    expect((await checkDatabase('production', file)).ok).toBe(false);

    const r = runCli(['repair', 'production', '--json', '--yes', '--log-file', 'recovery.log'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.json.ok).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'recovery.log'), 'utf8')).toMatch(/RECOVERY.*production|production.*RECOVERY/);
    expect(r.json.target).toBe('production');
    expect(r.json.details.damage.length).toBeGreaterThan(0);

    // the damaged original, byte for byte, in backups/quarantine/production_<stamp>/
    const q = quarantineOf(dir);
    expect(q).toHaveLength(1);
    expect(r.json.quarantine).toBe(q[0]);
    expect(path.basename(q[0]!)).toMatch(/^production_\d{8}_\d{6}$/);
    expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
    expect(fs.existsSync(path.join(q[0]!, 'RECOVERY.json'))).toBe(true);

    // a healthy database holding exactly the backup's data (a lossless salvage would hold the same)
    if (r.json.strategy === 'salvage') expect(r.json.details.salvage.lossless).toBe(true);
    else {
      expect(r.json.strategy).toBe('restore');
      expect(r.json.details.restoredFrom).toBe(backupId);
    }
    const after = await checkDatabase('production', file);
    expect(after.findings).toEqual([]);
    expect(after.ok).toBe(true);
    expect((await scanFile(file)).tables).toEqual(backupScan.tables);
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith('production.duckdb.wal') || n.includes('dbguard-tmp'))).toEqual([]);

    if (kind === 'data-byte') {
      // the salvage lost rows, so the backup won; the salvage stays in quarantine for a manual merge
      expect(r.json.strategy).toBe('restore');
      expect(r.json.details.salvage.lossless).toBe(false);
      const salvaged = path.join(q[0]!, 'production.salvaged.duckdb');
      expect(fs.existsSync(salvaged)).toBe(true);
      expect(r.json.details.notes.join('\n')).toContain(salvaged);
    }
  });
});

describe('repair without a backup', () => {
  const unreadable: DamageKind[] = ['header-zeroed', 'magic-changed', 'text', 'empty', 'both-headers'];
  test.each(unreadable)('%s: exit 4, the original kept in quarantine, the message names it', async (kind) => {
    const dir = newCase(false);
    const file = prodOf(dir);
    await damage(file, kind);
    const damagedSha = sha256(file);

    const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 4);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!).error;
    expect(err.exitCode).toBe(4);
    const q = quarantineOf(dir);
    expect(q).toHaveLength(1);
    expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(damagedSha);
    expect(err.message).toContain(q[0]);
    expect(err.hint).toMatch(/restore|recreate/);
  });

  test('a flipped data byte and no backup: the lossy salvage is used and what was lost is reported', async () => {
    const dir = newCase(false);
    const file = prodOf(dir);
    await damage(file, 'data-byte');
    const damagedSha = sha256(file);
    const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.json.strategy).toBe('salvage');
    expect(r.json.details.salvage.lossless).toBe(false);
    const tracks = r.json.details.salvage.tables.find((x: { name: string }) => x.name === 'tracks');
    expect(tracks.lost.length).toBeGreaterThan(0);
    expect(r.json.details.notes.join('\n')).toMatch(/lost/);
    expect(sha256(path.join(quarantineOf(dir)[0]!, 'production.duckdb'))).toBe(damagedSha);
    expect((await checkDatabase('production', file)).ok).toBe(true);
    // the other tables came back whole
    const s = await scanFile(file);
    expect(s.tables['main.artists']).toEqual(backupScan.tables['main.artists']);
    expect(s.tables['main.albums']).toEqual(backupScan.tables['main.albums']);
  });
});

describe('repair: other strategies and cases', () => {
  test('a healthy database: strategy none, file unchanged, no quarantine', () => {
    const dir = newCase();
    const before = sha256(prodOf(dir));
    const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
    exited(r, 0);
    expect(r.json.strategy).toBe('none');
    expect(r.json.quarantine).toBeNull();
    expect(sha256(prodOf(dir))).toBe(before);
    expect(fs.existsSync(path.join(dir, 'backups', 'quarantine'))).toBe(false);
  });

  test('--strategy recreate --yes: an empty database with the same tables, sequences and views; says loudly that the data is gone', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'text');
    const r = runCli(['repair', 'production', '--strategy', 'recreate', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.stdout).toContain('DATA IS GONE');
    expect(r.stdout).toMatch(/EMPTY/);
    const s = await scanFile(file);
    const names = (xs: { schema: string; name: string }[]) => xs.map((x) => `${x.schema}.${x.name}`).sort();
    expect(names(s.catalog.tables)).toEqual(names(backupScan.catalog.tables));
    expect(names(s.catalog.sequences)).toEqual(names(backupScan.catalog.sequences));
    expect(names(s.catalog.views)).toEqual(names(backupScan.catalog.views));
    expect(Object.values(s.tables).map((x) => x.rows)).toEqual([0, 0, 0]);
    expect(quarantineOf(dir)).toHaveLength(1);
  });

  test('--strategy recreate --json reports dataLost and where the schema came from', async () => {
    const dir = newCase();
    await damage(prodOf(dir), 'empty');
    const r = runCli(['repair', 'production', '--strategy', 'recreate', '--yes', '--json'], { cwd: dir });
    exited(r, 0);
    expect(r.json.strategy).toBe('recreate');
    expect(r.json.details.dataLost).toBe(true);
    expect(r.json.details.schemaFrom).toContain(backupId);
    expect(r.json.details.notes.join('\n')).toContain('DATA IS GONE');
  });

  test('a database held read-write by another process: exit 5 with its PID, nothing moved', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    const holder = await holdDatabase(file);
    try {
      const before = sha256(file);
      const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
      expect(hasStackTrace(r.stderr)).toBe(false);
      exited(r, 5);
      expect(r.stderr).toContain(String(holder.pid));
      expect(sha256(file)).toBe(before);
      expect(quarantineOf(dir)).toEqual([]);
    } finally {
      await release(holder);
    }
  });

  test('--dry-run changes nothing', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'text');
    const before = sha256(file);
    const r = runCli(['repair', 'production', '--json', '--dry-run'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 4); // damaged, and left so
    expect(r.json.strategy).toBe('none');
    expect(r.json.details.notes.join('\n')).toContain('would move');
    expect(r.json.dryRun).toBe(true);
    expect(sha256(file)).toBe(before);
    expect(quarantineOf(dir)).toEqual([]);
  });

  test('without --yes and without a terminal: exit 2, nothing moved', async () => {
    const dir = newCase();
    const file = prodOf(dir);
    await damage(file, 'text');
    const before = sha256(file);
    const r = runCli(['repair', 'production'], { cwd: dir });
    exited(r, 2);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toContain('--yes');
    expect(sha256(file)).toBe(before);
    expect(quarantineOf(dir)).toEqual([]);
  });

  test('a foreign WAL beside a healthy file: quarantined with the file, the salvage is lossless', async () => {
    const dir = newCase(false);
    const file = prodOf(dir);
    await putForeignWal(file, path.join(dir, 'other'));
    const walSha = sha256(`${file}.wal`);
    const fileSha = sha256(file);
    const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
    expect(hasStackTrace(r.stderr)).toBe(false);
    exited(r, 0);
    expect(r.json.strategy).toBe('salvage');
    expect(r.json.details.salvage.lossless).toBe(true);
    expect(r.json.details.salvage.walLeftOut).toBe(true);
    const q = quarantineOf(dir)[0]!;
    expect(sha256(path.join(q, 'production.duckdb'))).toBe(fileSha);
    expect(sha256(path.join(q, 'production.duckdb.wal'))).toBe(walSha);
    expect(fs.existsSync(`${file}.wal`)).toBe(false);
    expect((await scanFile(file)).tables).toEqual(backupScan.tables);
  });
});

/** A folder on another file system than the temporary folder (tmpfs /dev/shm), if this machine has one. */
function otherFileSystem(): string | undefined {
  try {
    if (fs.statSync('/dev/shm').dev === fs.statSync(t.dir).dev) return undefined;
    return fs.mkdtempSync('/dev/shm/dbguard-repair-');
  } catch {
    return undefined;
  }
}

const shm = otherFileSystem();
afterAll(() => { if (shm) fs.rmSync(shm, { recursive: true, force: true }); });

(shm ? test : test.skip)('backupDir on another file system: the damaged files move there by copy, the salvage comes back by copy', async () => {
  const dir = newCase(false);
  writeConfig(dir, { backupDir: shm });
  const file = prodOf(dir);
  await putForeignWal(file, path.join(dir, 'other'));
  const walSha = sha256(`${file}.wal`);
  const fileSha = sha256(file);
  const r = runCli(['repair', 'production', '--json', '--yes'], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 0);
  expect(r.json.strategy).toBe('salvage');
  const q = subfolders(path.join(shm!, 'quarantine'))[0]!;
  expect(sha256(path.join(q, 'production.duckdb'))).toBe(fileSha);
  expect(sha256(path.join(q, 'production.duckdb.wal'))).toBe(walSha);
  expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['production.duckdb']);
  expect((await scanFile(file)).tables).toEqual(backupScan.tables);
});
