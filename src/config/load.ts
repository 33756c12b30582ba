import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../core/errors';
import { CONFIG_FILE_NAME, DEFAULT_CONFIG } from './defaults';
import { jsonErrorPosition } from './json-position';
import { configSchema, type ParsedConfig, type TargetConfig } from './schema';
import { redactUrls } from '../core/redact';

/** A validated configuration with every path made absolute. */
export interface Config extends Omit<ParsedConfig, 'targets'> {
  /** The config file that was read, or null when only defaults and environment apply. */
  file: string | null;
  /** Folder that relative paths in the file were resolved against. */
  baseDir: string;
  targets: Record<string, TargetConfig & { name: string }>;
}

export interface LoadOptions {
  /** `--config PATH`; wins over DBGUARD_CONFIG and ./dbguard.config.json. */
  configPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Environment variable name for a target's path override, e.g. DBGUARD_PRODUCTION_PATH. */
export function targetPathEnvName(target: string): string {
  return `DBGUARD_${target.toUpperCase().replace(/-/g, '_')}_PATH`;
}

function findConfigFile(opts: LoadOptions, cwd: string, env: NodeJS.ProcessEnv): { file: string | null; explicit: string | null } {
  if (opts.configPath) return { file: path.resolve(cwd, opts.configPath), explicit: '--config' };
  if (env.DBGUARD_CONFIG) return { file: path.resolve(cwd, env.DBGUARD_CONFIG), explicit: 'DBGUARD_CONFIG' };
  const local = path.join(cwd, CONFIG_FILE_NAME);
  return { file: fs.existsSync(local) ? local : null, explicit: null };
}

function readJson(file: string, explicit: string | null): Json {
  let text: string;
  try {
    // Editors on Windows may save a UTF-8 byte-order mark; JSON itself has none.
    text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(`config file ${file} does not exist (named by ${explicit ?? 'default lookup'})`, 'create it with `dbguard init --config ' + file + '` or fix the path').because(err);
    }
    throw new ConfigError(`cannot read config file ${file}: ${code ?? String(err)}`, 'check the file permissions').because(err);
  }
  const pos = jsonErrorPosition(text);
  if (pos) {
    const backslash = text[pos.offset] === '\\';
    throw new ConfigError(
      `${file} is not valid JSON: ${backslash ? 'invalid escape sequence' : 'syntax error'} at line ${pos.line}, column ${pos.column}`,
      backslash
        ? 'write a backslash inside a JSON string as \\\\ (e.g. "C:\\\\data\\\\production.duckdb"), or use forward slashes'
        : 'fix the JSON syntax at that position (a missing comma, quote or brace is the usual cause)',
      [],
      'config-json',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // the position scanner and V8 should agree; if they do not, still report a config error, not a crash
    throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`, 'fix the JSON syntax', [], 'config-json').because(err);
  }
  if (!isObject(value)) throw new ConfigError(`${file} must hold a JSON object`, 'start from `dbguard init` output');
  return value;
}

/** Defaults, then the file (objects merged one level deep; `targets` replaced whole). */
function merge(fileValues: Json): Json {
  const out: Json = JSON.parse(JSON.stringify(DEFAULT_CONFIG));
  for (const [k, v] of Object.entries(fileValues)) {
    if (k !== 'targets' && isObject(v) && isObject(out[k])) out[k] = { ...(out[k] as Json), ...v };
    else out[k] = v;
  }
  return out;
}

function numberFromEnv(raw: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
}

function valueAt(obj: unknown, keys: PropertyKey[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (!isObject(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * Loads, merges and validates the configuration: `--config`, DBGUARD_CONFIG or
 * ./dbguard.config.json over the embedded defaults, then environment overrides.
 * Throws one ConfigError (exit 3) that lists every problem, each naming its key
 * or variable, the value found and the fix. Never touches the databases.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const { file, explicit } = findConfigFile(opts, cwd, env);
  const raw = merge(file ? readJson(file, explicit) : {});
  const fileLabel = file ? path.basename(file) : 'the defaults';
  const envSources = new Map<string, string>();
  const envPaths = new Set<string>();

  const setEnv = (key: string, variable: string, value: unknown) => {
    raw[key] = value;
    envSources.set(key, variable);
  };
  if (env.DBGUARD_BACKUP_DIR !== undefined) { setEnv('backupDir', 'DBGUARD_BACKUP_DIR', env.DBGUARD_BACKUP_DIR); envPaths.add('backupDir'); }
  if (env.DBGUARD_KEEP !== undefined) setEnv('keep', 'DBGUARD_KEEP', numberFromEnv(env.DBGUARD_KEEP));
  if (env.DBGUARD_HTTP_PORT !== undefined && isObject(raw.http)) {
    raw.http = { ...raw.http, port: numberFromEnv(env.DBGUARD_HTTP_PORT) };
    envSources.set('http.port', 'DBGUARD_HTTP_PORT');
  }
  if (env.DBGUARD_STORAGE_FORMAT !== undefined || env.DBGUARD_STORAGE_PLAIN !== undefined) {
    const storage = isObject(raw.storage) ? { ...raw.storage } : {};
    if (env.DBGUARD_STORAGE_FORMAT !== undefined) { storage.format = env.DBGUARD_STORAGE_FORMAT; envSources.set('storage.format', 'DBGUARD_STORAGE_FORMAT'); }
    if (env.DBGUARD_STORAGE_PLAIN !== undefined) { storage.plain = numberFromEnv(env.DBGUARD_STORAGE_PLAIN); envSources.set('storage.plain', 'DBGUARD_STORAGE_PLAIN'); }
    raw.storage = storage;
  }
  if (isObject(raw.targets)) {
    for (const [name, t] of Object.entries(raw.targets)) {
      const variable = targetPathEnvName(name);
      if (env[variable] !== undefined && isObject(t)) {
        raw.targets[name] = { ...t, path: env[variable] };
        envSources.set(`targets.${name}.path`, variable);
        envPaths.add(`targets.${name}.path`);
      }
    }
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const keys = issue.path;
      const key = keys.map(String).join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const where = key === '(top level)' ? '' : ` under ${key}`;
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where} in ${fileLabel}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling`;
      }
      if (issue.code === 'invalid_key') {
        // a record key failed its own check (e.g. a target name); say which key, and why
        const parent = keys.slice(0, -1).map(String).join('.');
        const why = issue.issues[0]?.message ?? issue.message;
        return `invalid key "${String(keys[keys.length - 1])}"${parent ? ` under ${parent}` : ''} in ${fileLabel}: ${why}`;
      }
      const got = valueAt(raw, keys);
      const gotText = got === undefined ? ' (missing)' : ` (got ${redactUrls(JSON.stringify(got))})`;
      const variable = envSources.get(key);
      return `${key} ${issue.message}${gotText} in ${variable ? `environment variable ${variable}` : fileLabel}`;
    });
    throw new ConfigError(
      problems.length === 1 ? problems[0]! : `${problems.length} configuration problems:\n  - ${problems.join('\n  - ')}`,
      file ? `edit ${file} (or the environment variables named above) and run again` : 'set the environment variables named above correctly, or write a config with `dbguard init`',
      problems,
    );
  }

  const parsed = result.data;
  const baseDir = file ? path.dirname(file) : cwd;
  const resolve = (key: string, p: string) => path.resolve(envPaths.has(key) ? cwd : baseDir, p);
  const targets: Config['targets'] = {};
  for (const [name, t] of Object.entries(parsed.targets)) {
    targets[name] = { ...t, name, path: resolve(`targets.${name}.path`, t.path), schema: t.schema ? path.resolve(baseDir, t.schema) : undefined };
  }
  return { ...parsed, file, baseDir, backupDir: resolve('backupDir', parsed.backupDir), targets };
}
