/**
 * Helpers for the backup, rotation, verify and prune tests: a project folder
 * with a real DuckDB file and a config, content fingerprints through the
 * DuckDB worker, a settable clock, byte flips aimed at a table's data block,
 * and waiting for real child processes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, type Config } from '../../src/config/load';
import type { Clock } from '../../src/core/types';
import { runWorker } from '../../src/engines/duckdb/client';
import { BLOCKS_START } from '../../src/engines/duckdb/header';
import { openDuckdb, queryRows } from '../../src/engines/duckdb/open';
import type { ScanResult } from '../../src/engines/duckdb/protocol';
import type { Manifest } from '../../src/storage/manifest';
import { stampOf } from '../../src/storage/naming';
import { createMusicDb, tempDir, writeConfig } from './db';

export interface Project {
  dir: string;
  /** data/production.duckdb */
  db: string;
  /** backups/ */
  backups: string;
  configFile: string;
  /** The loaded config (no environment overrides). */
  config(): Config;
  cleanup(): void;
}

/** A temp folder with the music library at data/production.duckdb (tracks 5000 × scale) and a config. */
export async function makeProject(scale = 1, extraConfig: Record<string, unknown> = {}): Promise<Project> {
  const t = tempDir('dbguard-backup-');
  const db = path.join(t.dir, 'data', 'production.duckdb');
  await createMusicDb(db, scale);
  const configFile = writeConfig(t.dir, extraConfig);
  return {
    dir: t.dir,
    db,
    backups: path.join(t.dir, 'backups'),
    configFile,
    config: () => loadConfig({ cwd: t.dir, env: {} }),
    cleanup: t.cleanup,
  };
}

/** Per-table row count and content fingerprint (`sum(hash(col))` per column), read by the DuckDB worker. */
export async function contentOf(file: string): Promise<Record<string, { rows: number; fingerprint?: string }>> {
  const scan = await runWorker<ScanResult>({ action: 'scan', file });
  const out: Record<string, { rows: number; fingerprint?: string }> = {};
  for (const t of scan.tables) {
    if (t.error) throw new Error(`table ${t.schema}.${t.name} of ${file} cannot be read: ${t.error.message}`);
    out[`${t.schema}.${t.name}`] = { rows: t.rows, fingerprint: t.fingerprint };
  }
  return out;
}

/** A clock the test moves by hand. */
export function manualClock(start: Date): Clock & { set(d: Date): void; advance(ms: number): void } {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    set: (d) => { now = new Date(d); },
    advance: (ms) => { now = new Date(now.getTime() + ms); },
  };
}

/**
 * Files in `dir` (sorted), or [] when it does not exist. The job history that
 * every command-line run appends to (issue 13) is left out: its own tests
 * check it, and the folder checks here are about backups and leftovers.
 */
export function filesIn(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => f !== '.dbguard-history.jsonl').sort();
  } catch {
    return [];
  }
}

/** Temporary files a backup run leaves while it works (`.<id>.tmp…`, `.<manifest>.<pid>.tmp`). */
export const tempFilesIn = (dir: string) => filesIn(dir).filter((f) => f.includes('.tmp'));

export function readManifestFile(backupFile: string): Manifest {
  return JSON.parse(fs.readFileSync(`${backupFile}.json`, 'utf8')) as Manifest;
}

/** Inverts every bit of the byte at `offset`. */
export function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (fs.readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${file} has no byte at ${offset}`);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Offset of a byte in the middle of the first data block of `table` (measured with DuckDB, READ_ONLY, closed at once). */
export async function dataBlockOffset(file: string, table: string): Promise<number> {
  const db = await openDuckdb(file);
  try {
    const rows = await queryRows(db.conn, `SELECT min(block_id) AS b FROM pragma_storage_info('${table}') WHERE block_id >= 0`);
    const block = Number(rows[0]?.b);
    if (!Number.isFinite(block)) throw new Error(`${table} of ${file} has no data block`);
    return BLOCKS_START + block * 262144 + 4096;
  } finally {
    db.close();
  }
}

/**
 * Writes a backup of `target` dated `date` the way a finished run leaves it —
 * a copy of a real backup file and a manifest with its own id, date and
 * checksum — without running DuckDB, in `opts.dir` or beside `realFile`.
 * For rotation and prune tests that need many backups over months. Returns
 * the new id.
 */
export function cloneBackup(realFile: string, target: string, date: Date, opts: { status?: 'valid' | 'invalid'; seq?: number; dir?: string } = {}): string {
  const dir = opts.dir ?? path.dirname(realFile);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const m = readManifestFile(realFile);
  const id = `${target}_data_${stampOf(date)}${opts.seq && opts.seq > 1 ? `_${opts.seq}` : ''}`;
  const file = path.join(dir, `${id}.duckdb`);
  fs.copyFileSync(realFile, file);
  fs.chmodSync(file, 0o600);
  const manifest: Manifest = { ...m, id, target, createdAt: date.toISOString(), validation: { ...m.validation, status: opts.status ?? 'valid' } };
  fs.writeFileSync(`${file}.json`, JSON.stringify(manifest, null, 2), { mode: 0o600 });
  return id;
}

/** Resolves when `cond()` is true; rejects after `timeoutMs`. Polls every `everyMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 20000, everyMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** PIDs of the direct children of `pid` (Linux /proc), e.g. the DuckDB workers of a dbguard run. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        out.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
      } catch { /* thread gone */ }
    }
  } catch { /* process gone */ }
  return out;
}

/** True while `pid` runs (a zombie, dead but not yet reaped by its new parent, counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !fs.existsSync('/proc/self'); // with /proc, a missing entry means the process is gone
  }
}

/** A PID that belonged to a process which has exited (for stale-lock tests). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  if (!pid || isAlive(pid)) throw new Error('could not get the PID of an exited process');
  return pid;
}
