import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorker } from '../../src/engines/duckdb/client';
import { demoSql } from '../../src/engines/duckdb/demo-data';

/** A fresh temporary folder, removed by `cleanup()`. */
export function tempDir(prefix = 'dbguard-test-'): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs SQL read-write against a DuckDB file (in a worker process) and checkpoints. */
export async function execSql(file: string, sql: string): Promise<void> {
  await runWorker({ action: 'execute', file, sql });
}

/** Creates the demo music library at `file` (artists 200, albums 1000, tracks 5000 × scale). */
export async function createMusicDb(file: string, scale = 1): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await execSql(file, demoSql('test', scale));
}

export function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Writes a config file into `dir` with production and staging under dir/data, backups in dir/backups. */
export function writeConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'dbguard.config.json');
  const config = {
    backupDir: 'backups',
    targets: { production: { path: 'data/production.duckdb' }, staging: { path: 'data/staging.duckdb' } },
    ...extra,
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
