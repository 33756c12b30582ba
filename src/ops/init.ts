import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE_NAME, DEFAULT_CONFIG } from '../config/defaults';
import { loadConfig } from '../config/load';
import { ConfigError, storageErrorFrom } from '../core/errors';
import { engineOf } from './engine-of';
import { writeFileAtomic } from '../storage/atomic';

export interface InitResult {
  configFile: string;
  configWritten: boolean;
  databases: { target: string; path: string; created: boolean }[];
}

/** The config `init --demo` writes: the defaults plus a SQLite target, the music library's `data/musique.db`. */
export const DEMO_CONFIG = {
  ...DEFAULT_CONFIG,
  targets: { ...DEFAULT_CONFIG.targets, music: { path: 'data/musique.db', engine: 'sqlite' } },
};

/**
 * Writes a config file with the embedded defaults (atomically; refuses to
 * overwrite unless `force`) and, with `demo`, writes DEMO_CONFIG (when it
 * writes one) and creates the sample databases that do not exist yet (in the
 * engine's worker process). Never replaces an existing database.
 */
export async function init(opts: { file?: string; cwd: string; force?: boolean; demo?: boolean }): Promise<InitResult> {
  const configFile = path.resolve(opts.cwd, opts.file ?? CONFIG_FILE_NAME);
  const exists = fs.existsSync(configFile);
  if (exists && !opts.force && !opts.demo) {
    throw new ConfigError(`${configFile} already exists`, 'use --force to overwrite it, or edit it by hand', [], 'config-exists');
  }
  const result: InitResult = { configFile, configWritten: false, databases: [] };
  if (!exists || opts.force) {
    try {
      fs.mkdirSync(path.dirname(configFile), { recursive: true }); // `--config etc/dbguard.json` in a fresh checkout
      writeFileAtomic(configFile, `${JSON.stringify(opts.demo ? DEMO_CONFIG : DEFAULT_CONFIG, null, 2)}\n`, 0o644);
    } catch (err) {
      throw storageErrorFrom(err, configFile, 'writing') ?? err;
    }
    result.configWritten = true;
  }
  if (opts.demo) {
    // The databases go where the config (written now or kept) says, not where the defaults would put them.
    const config = loadConfig({ configPath: configFile, env: {} });
    for (const [target, t] of Object.entries(config.targets)) {
      const db = t.path;
      if (fs.existsSync(db)) { result.databases.push({ target, path: db, created: false }); continue; }
      const engine = engineOf(config, target).engine;
      const sql = engine.demoSql?.(target);
      if (sql === undefined) continue; // an engine without sample data: the user brings the file
      fs.mkdirSync(path.dirname(db), { recursive: true });
      await engine.recreate(db, sql);
      result.databases.push({ target, path: db, created: true });
    }
  }
  return result;
}
