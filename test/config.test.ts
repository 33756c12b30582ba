/**
 * loadConfig (DESIGN.md §3): defaults, validation messages, JSON positions,
 * environment overrides and path resolution, on real files in temp folders
 * with an explicit environment object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../src/config/defaults';
import { loadConfig, targetPathEnvName, type LoadOptions } from '../src/config/load';
import { ConfigError } from '../src/core/errors';
import { tempDir } from './helpers/db';

const t = tempDir('dbguard-config-');
afterAll(() => t.cleanup());

let n = 0;
/** A fresh folder, optionally with dbguard.config.json holding `content` (an object is JSON-encoded). */
function folder(content?: unknown): string {
  const dir = path.join(t.dir, `c${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  if (content !== undefined) fs.writeFileSync(path.join(dir, 'dbguard.config.json'), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return dir;
}

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(opts: LoadOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('loadConfig did not throw');
}

describe('defaults', () => {
  test('without a file: the embedded defaults, paths relative to the working directory', () => {
    const cwd = folder();
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).toBeNull();
    expect(c.baseDir).toBe(cwd);
    expect(c.backupDir).toBe(path.join(cwd, 'backups'));
    expect(c.keep).toBe(30);
    expect(c.targets).toEqual({
      production: { name: 'production', path: path.join(cwd, 'data/production.duckdb') },
      staging: { name: 'staging', path: path.join(cwd, 'data/staging.duckdb') },
    });
    expect(c.schedule).toEqual({ ...DEFAULT_CONFIG.schedule, verify: '0 3 * * 0' });
    expect(c.retry).toEqual(DEFAULT_CONFIG.retry);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9977 });
    expect(c.alerts).toMatchObject({ webhook: null, email: null });
  });

  test('a partial file is merged over the defaults one level deep', () => {
    const cwd = folder({ keep: 7, http: { port: 8080 }, retry: { attempts: 2 } });
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).toBe(path.join(cwd, 'dbguard.config.json'));
    expect(c.keep).toBe(7);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.retry).toEqual({ ...DEFAULT_CONFIG.retry, attempts: 2 });
    expect(Object.keys(c.targets)).toEqual(['production', 'staging']);
  });

  test('targets in the file replace the default targets', () => {
    const cwd = folder({ targets: { main: { path: 'db/main.duckdb', requiredTables: ['users'] } } });
    const c = loadConfig({ cwd, env: {} });
    expect(Object.keys(c.targets)).toEqual(['main']);
    expect(c.targets.main).toEqual({ name: 'main', path: path.join(cwd, 'db/main.duckdb'), requiredTables: ['users'] });
  });
});

describe('invalid values: exit 3, naming key, value and file', () => {
  test.each([
    ['keep', { keep: 'thirty' }, 'keep must be a whole number ≥ 1 (got "thirty") in dbguard.config.json'],
    ['keep zero', { keep: 0 }, 'keep must be a whole number ≥ 1 (got 0) in dbguard.config.json'],
    ['keep fraction', { keep: 2.5 }, 'keep must be a whole number ≥ 1 (got 2.5) in dbguard.config.json'],
    ['backupDir', { backupDir: '' }, 'backupDir must be a folder path (got "") in dbguard.config.json'],
    ['http.port', { http: { port: 70000 } }, 'http.port must be a port number 0–65535 (got 70000) in dbguard.config.json'],
    ['http.host', { http: { host: 42 } }, 'http.host must be a host name or IP address (got 42) in dbguard.config.json'],
    ['retry.factor', { retry: { factor: 0.5 } }, 'retry.factor must be a number ≥ 1 (got 0.5) in dbguard.config.json'],
    ['retry.attempts', { retry: { attempts: -1 } }, 'retry.attempts must be a whole number ≥ 1 (got -1) in dbguard.config.json'],
    ['schedule.backup', { schedule: { backup: 2 } }, 'schedule.backup must be a cron expression such as "0 2 * * *" (got 2) in dbguard.config.json'],
    ['targets empty', { targets: {} }, 'targets must name at least one target (got {}) in dbguard.config.json'],
    ['target path', { targets: { production: { path: 7 } } }, 'targets.production.path must be the path of the database file, e.g. "data/production.duckdb" (got 7) in dbguard.config.json'],
    ['target missing path', { targets: { production: {} } }, 'targets.production.path must be the path of the database file, e.g. "data/production.duckdb" (missing) in dbguard.config.json'],
    ['requiredTables', { targets: { production: { path: 'p.duckdb', requiredTables: 'tracks' } } }, 'targets.production.requiredTables must be a list of table names (got "tracks") in dbguard.config.json'],
    ['webhook url', { alerts: { webhook: { url: 'not a url' } } }, 'alerts.webhook.url must be an http(s) URL (got "not a url") in dbguard.config.json'],
    ['email port', { alerts: { email: { host: 'smtp.example.com', port: 'smtp', from: 'a@example.com', to: 'b@example.com' } } }, 'alerts.email.port must be a whole number ≥ 1 (got "smtp") in dbguard.config.json'],
  ])('%s', (_name, content, message) => {
    const err = configError({ cwd: folder(content), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe(message);
    expect(err.problems).toEqual([message]);
    expect(err.hint).toContain('dbguard.config.json');
  });

  test('an unknown key names the key and says how to fix it', () => {
    const err = configError({ cwd: folder({ kepp: 3 }), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe('unknown key "kepp" in dbguard.config.json: remove it or fix the spelling');
  });

  test('an unknown key inside a target names where it is', () => {
    const err = configError({ cwd: folder({ targets: { production: { path: 'p.duckdb', pth: 'x' } } }), env: {} });
    expect(err.message).toBe('unknown key "pth" under targets.production in dbguard.config.json: remove it or fix the spelling');
  });

  test('a bad target name is reported', () => {
    const err = configError({ cwd: folder({ targets: { 'my target': { path: 'p.duckdb' } } }), env: {} });
    expect(err.message).toBe('invalid key "my target" under targets in dbguard.config.json: target names must start with a letter and use only letters, digits, "_" and "-"');
    expect(err.exitCode).toBe(3);
  });

  test('several problems are reported at once', () => {
    const err = configError({ cwd: folder({ keep: 'thirty', backupDir: 5, kepp: 1, http: { port: -1 } }), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.problems).toHaveLength(4);
    expect(err.message.split('\n')[0]).toBe('4 configuration problems:');
    for (const p of [
      'keep must be a whole number ≥ 1 (got "thirty") in dbguard.config.json',
      'backupDir must be a folder path (got 5) in dbguard.config.json',
      'unknown key "kepp" in dbguard.config.json: remove it or fix the spelling',
      'http.port must be a whole number ≥ 0 (got -1) in dbguard.config.json',
    ]) {
      expect(err.problems).toContain(p);
      expect(err.message).toContain(`  - ${p}`);
    }
  });

  test('a file that is not a JSON object', () => {
    const err = configError({ cwd: folder('[1, 2]'), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('must hold a JSON object');
  });
});

describe('broken JSON gives line and column', () => {
  test.each([
    ['missing comma', '{\n  "keep": 3\n  "backupDir": "b"\n}', 3, 3],
    ['trailing comma', '{\n  "keep": 3,\n}', 3, 1],
    ['unterminated string', '{\n  "backupDir": "b\n}', 2, 18],
    ['single quotes', "{\n\n    'keep': 3\n}", 3, 5],
    ['bad escape (a Windows path)', '{ "backupDir": "C:\\data" }', 1, 19],
    ['short \\u escape', '{\n  "backupDir": "\\u12"\n}', 2, 17],
  ])('%s', (_name, text, line, column) => {
    const file = path.join(folder(text), 'dbguard.config.json');
    const err = configError({ cwd: path.dirname(file), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('config-json');
    expect(err.message).toContain(file);
    expect(err.message).toContain(`at line ${line}, column ${column}`);
  });

  test('a UTF-8 byte-order mark (Windows editors) is not an error', () => {
    const c = loadConfig({ cwd: folder('\uFEFF{ "keep": 7 }'), env: {} });
    expect(c.keep).toBe(7);
  });

  test('an empty file', () => {
    const err = configError({ cwd: folder(''), env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('line 1, column 1');
  });
});

describe('environment overrides', () => {
  test('DBGUARD_BACKUP_DIR, DBGUARD_KEEP, DBGUARD_PRODUCTION_PATH and DBGUARD_HTTP_PORT override the file', () => {
    const cwd = folder({ keep: 5, backupDir: 'file-backups', http: { port: 1234 } });
    const c = loadConfig({
      cwd,
      env: { DBGUARD_BACKUP_DIR: '/srv/backups', DBGUARD_KEEP: '12', DBGUARD_PRODUCTION_PATH: '/srv/data/prod.duckdb', DBGUARD_HTTP_PORT: '9100' },
    });
    expect(c.backupDir).toBe('/srv/backups');
    expect(c.keep).toBe(12);
    expect(c.targets.production!.path).toBe('/srv/data/prod.duckdb');
    expect(c.targets.staging!.path).toBe(path.join(cwd, 'data/staging.duckdb'));
    expect(c.http.port).toBe(9100);
  });

  test('relative paths from the environment are relative to the working directory', () => {
    const cwd = folder();
    const sub = path.join(cwd, 'conf');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'x.json'), JSON.stringify({ backupDir: 'b' }));
    const c = loadConfig({ cwd, configPath: 'conf/x.json', env: { DBGUARD_BACKUP_DIR: 'env-backups', DBGUARD_STAGING_PATH: 'env/staging.duckdb' } });
    expect(c.backupDir).toBe(path.join(cwd, 'env-backups'));
    expect(c.targets.staging!.path).toBe(path.join(cwd, 'env/staging.duckdb'));
    expect(c.targets.production!.path).toBe(path.join(sub, 'data/production.duckdb'));
  });

  test('an invalid DBGUARD_KEEP names the variable', () => {
    const err = configError({ cwd: folder(), env: { DBGUARD_KEEP: 'abc' } });
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe('keep must be a whole number ≥ 1 (got "abc") in environment variable DBGUARD_KEEP');
  });

  test('DBGUARD_STORAGE_FORMAT and DBGUARD_STORAGE_PLAIN override storage; a bad value names the variable', () => {
    const c = loadConfig({ cwd: folder({ storage: { format: 'files', plain: 3 } }), env: { DBGUARD_STORAGE_FORMAT: 'blocks', DBGUARD_STORAGE_PLAIN: '0' } });
    expect(c.storage).toEqual({ format: 'blocks', plain: 0 });
    expect(loadConfig({ cwd: folder(), env: { DBGUARD_STORAGE_FORMAT: 'blocks' } }).storage).toEqual({ format: 'blocks', plain: 1 });
    const err = configError({ cwd: folder(), env: { DBGUARD_STORAGE_FORMAT: 'chunks' } });
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^storage\.format must be "files" .* \(got "chunks"\) in environment variable DBGUARD_STORAGE_FORMAT$/);
  });

  test('an invalid DBGUARD_HTTP_PORT names the variable', () => {
    const err = configError({ cwd: folder(), env: { DBGUARD_HTTP_PORT: '70000' } });
    expect(err.message).toBe('http.port must be a port number 0–65535 (got 70000) in environment variable DBGUARD_HTTP_PORT');
  });

  test('an empty DBGUARD_PRODUCTION_PATH names the variable', () => {
    const err = configError({ cwd: folder(), env: { DBGUARD_PRODUCTION_PATH: '' } });
    expect(err.message).toContain('in environment variable DBGUARD_PRODUCTION_PATH');
  });

  test('file and environment problems are reported together', () => {
    const err = configError({ cwd: folder({ keep: 'thirty' }), env: { DBGUARD_HTTP_PORT: 'http' } });
    expect([...err.problems].sort()).toEqual([
      'http.port must be a whole number ≥ 0 (got "http") in environment variable DBGUARD_HTTP_PORT',
      'keep must be a whole number ≥ 1 (got "thirty") in dbguard.config.json',
    ]);
  });

  test('target path variables follow the target name', () => {
    expect(targetPathEnvName('production')).toBe('DBGUARD_PRODUCTION_PATH');
    expect(targetPathEnvName('eu-west')).toBe('DBGUARD_EU_WEST_PATH');
    const cwd = folder({ targets: { 'eu-west': { path: 'eu.duckdb' } } });
    expect(loadConfig({ cwd, env: { DBGUARD_EU_WEST_PATH: '/x/eu.duckdb' } }).targets['eu-west']!.path).toBe('/x/eu.duckdb');
  });
});

describe('which file is read', () => {
  test('DBGUARD_CONFIG names the file; relative paths are relative to its folder', () => {
    const cwd = folder({ keep: 1 });
    const other = path.join(t.dir, `other${++n}`, 'etc');
    fs.mkdirSync(other, { recursive: true });
    fs.writeFileSync(path.join(other, 'dbg.json'), JSON.stringify({ keep: 9, backupDir: '../bk', targets: { production: { path: 'prod.duckdb' } } }));
    const c = loadConfig({ cwd, env: { DBGUARD_CONFIG: path.join(other, 'dbg.json') } });
    expect(c.file).toBe(path.join(other, 'dbg.json'));
    expect(c.baseDir).toBe(other);
    expect(c.keep).toBe(9);
    expect(c.backupDir).toBe(path.resolve(other, '../bk'));
    expect(c.targets.production!.path).toBe(path.join(other, 'prod.duckdb'));
  });

  test('--config wins over DBGUARD_CONFIG and ./dbguard.config.json', () => {
    const cwd = folder({ keep: 1 });
    fs.writeFileSync(path.join(cwd, 'env.json'), JSON.stringify({ keep: 2 }));
    fs.writeFileSync(path.join(cwd, 'flag.json'), JSON.stringify({ keep: 3 }));
    expect(loadConfig({ cwd, env: {} }).keep).toBe(1);
    expect(loadConfig({ cwd, env: { DBGUARD_CONFIG: 'env.json' } }).keep).toBe(2);
    expect(loadConfig({ cwd, configPath: 'flag.json', env: { DBGUARD_CONFIG: 'env.json' } }).keep).toBe(3);
  });

  test('a missing --config file: exit 3 naming the file and the option', () => {
    const cwd = folder();
    const err = configError({ cwd, configPath: 'missing.json', env: {} });
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe(`config file ${path.join(cwd, 'missing.json')} does not exist (named by --config)`);
    expect(err.hint).toContain('dbguard init');
  });

  test('a missing DBGUARD_CONFIG file: exit 3 naming the variable', () => {
    const cwd = folder();
    const err = configError({ cwd, env: { DBGUARD_CONFIG: '/nonexistent/dbguard.json' } });
    expect(err.message).toBe('config file /nonexistent/dbguard.json does not exist (named by DBGUARD_CONFIG)');
  });

  test('the error names the file that was read', () => {
    const cwd = folder();
    fs.writeFileSync(path.join(cwd, 'prod.json'), JSON.stringify({ keep: 'x' }));
    const err = configError({ cwd, configPath: 'prod.json', env: {} });
    expect(err.message).toBe('keep must be a whole number ≥ 1 (got "x") in prod.json');
    expect(err.hint).toContain(path.join(cwd, 'prod.json'));
  });
});
