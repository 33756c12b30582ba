/**
 * CLI hygiene (issue 8, items 3–5): one exit point and named exit codes,
 * empty option values refused, --verbose shows the cause chain but never a
 * stack for a usage error, target names that fit every derived file name,
 * reserved target names, the backup folder's mode, status's last newline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasStackTrace, runCli } from './helpers/cli';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';

const t = tempDir('dbguard-cli-hygiene-');
afterAll(() => t.cleanup());

let n = 0;
const fresh = () => {
  const dir = path.join(t.dir, `d${++n}`);
  fs.mkdirSync(dir);
  return dir;
};

/** A site with a healthy production database, one backup, and a config. */
let site: string;
beforeAll(async () => {
  site = fresh();
  writeConfig(site, { targets: { production: { path: 'data/production.duckdb' } } });
  await createMusicDb(path.join(site, 'data', 'production.duckdb'), 0.05);
  const b = runCli(['backup', 'production'], { cwd: site });
  expect(b.code).toBe(0);
}, 120000);

describe('one exit point, named exit codes', () => {
  const commandsDir = path.resolve(__dirname, '../src/cli/commands');
  const sources = fs.readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).map((f) => ({ f, text: fs.readFileSync(path.join(commandsDir, f), 'utf8') }));

  test('no command calls process.exit (only src/cli/main.ts does)', () => {
    expect(sources.length).toBeGreaterThan(10);
    expect(sources.filter((s) => /process\.exit\s*\(/.test(s.text)).map((s) => s.f)).toEqual([]);
  });

  test('commands return named ExitCode values, never literal numbers', () => {
    const literal = /\breturn\s+(?:[^;\n]*\?\s*)?\d+\s*(?::\s*\d+\s*)?;/;
    expect(sources.filter((s) => literal.test(s.text)).map((s) => s.f)).toEqual([]);
  });
});

describe('an empty option value is a usage error, never "no option"', () => {
  const cases: [string, string[]][] = [
    ['restore --to ""', ['restore', 'production', '--to', '', '--yes']],
    ['restore --from ""', ['restore', 'production', '--from', '', '--yes']],
    ['restore --at "  "', ['restore', 'production', '--at', '  ', '--yes']],
    ['restore --to=', ['restore', 'production', '--to=', '--yes']],
    ['backup --keep ""', ['backup', 'production', '--keep', '']],
    ['verify --id ""', ['verify', 'production', '--id', '']],
    ['repair --strategy " "', ['repair', 'production', '--strategy', ' ', '--yes']],
    ['guard --wait-for ""', ['guard', 'production', '--wait-for', '', '--', 'true']],
    ['--config "" (a global option)', ['--config', '', 'list', 'production']],
    ['an empty target argument', ['restore', '', '--yes']],
  ];
  test.each(cases)('%s: exit 2 naming the option, nothing restored or written', (_name, args) => {
    const db = path.join(site, 'data', 'production.duckdb');
    const before = sha256(db);
    const backupsBefore = fs.readdirSync(path.join(site, 'backups')).sort();
    const r = runCli(args, { cwd: site });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/dbguard: error: (--[a-z-]+ was given an empty value|the \w+ argument is empty)/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(sha256(db)).toBe(before);
    expect(fs.readdirSync(path.join(site, 'backups')).sort()).toEqual(backupsBefore);
  });

  test('with --json the error is JSON on stderr with exit code 2', () => {
    const r = runCli(['--json', 'restore', 'production', '--to', '', '--yes'], { cwd: site });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'empty-option', exitCode: 2, message: '--to was given an empty value' });
  });
});

describe('--verbose', () => {
  test('-v with a usage error prints no stack trace', () => {
    for (const args of [['-v', 'restore', 'production', '--from', 'nope', '--yes'], ['--verbose', 'check', 'nosuch'], ['-v', 'backup', 'production', '--keep', 'x']]) {
      const r = runCli(args, { cwd: site });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('dbguard: error:');
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });

  test('a storage error shows its cause chain and the root cause\'s stack only with --verbose', () => {
    const dir = fresh();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.copyFileSync(path.join(site, 'data', 'production.duckdb'), path.join(dir, 'data', 'production.duckdb'));
    fs.writeFileSync(path.join(dir, 'blocker'), 'a file where the backup folder should go');
    writeConfig(dir, { backupDir: 'blocker/backups', targets: { production: { path: 'data/production.duckdb' } } });

    const plain = runCli(['backup', 'production'], { cwd: dir });
    expect(plain.code).toBe(6);
    expect(plain.stderr).toContain(`${path.join(dir, 'blocker')} is a file, not a folder`);
    expect(plain.stderr).not.toContain('caused by');
    expect(hasStackTrace(plain.stderr)).toBe(false);

    const verbose = runCli(['backup', 'production', '--verbose'], { cwd: dir });
    expect(verbose.code).toBe(6);
    expect(verbose.stderr).toMatch(/ {2}caused by: Error: ENOTDIR: not a directory/);
    expect(hasStackTrace(verbose.stderr)).toBe(true);
  });
  test('a config error keeps its cause: --verbose (and --verbose --json) show the file-system error below it', () => {
    const dir = fresh();
    fs.mkdirSync(path.join(dir, 'dbguard.config.json')); // a folder where the config file should be
    const plain = runCli(['list'], { cwd: dir });
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain('cannot read config file');
    expect(plain.stderr).not.toContain('caused by');
    const verbose = runCli(['list', '-v'], { cwd: dir });
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).toMatch(/ {2}caused by: Error: EISDIR: illegal operation on a directory, read/);
    const json = runCli(['list', '--verbose', '--json'], { cwd: dir });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stderr).error).toMatchObject({ exitCode: 3, causes: [expect.stringMatching(/^Error: EISDIR/)] });
  });
});

describe('target names', () => {
  test.each(['all', 'both'])('a target named "%s" is refused: exit 3 naming it', (name) => {
    const dir = fresh();
    writeConfig(dir, { targets: { [name]: { path: 'data/x.duckdb' } } });
    const r = runCli(['list', name], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`invalid key "${name}" under targets in dbguard.config.json`);
    expect(r.stderr).toContain('"all" and "both" select several targets');
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  test('a 220-character target name is a config error (exit 3) before any backup is made', async () => {
    const dir = fresh();
    const name = `p${'x'.repeat(219)}`;
    fs.mkdirSync(path.join(dir, 'data'));
    fs.copyFileSync(path.join(site, 'data', 'production.duckdb'), path.join(dir, 'data', 'p.duckdb'));
    writeConfig(dir, { targets: { [name]: { path: 'data/p.duckdb' } } });
    const r = runCli(['backup', 'all'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('target names may have at most 200 characters');
    expect(fs.existsSync(path.join(dir, 'backups'))).toBe(false);
  });

  test('a 200-character name is the longest allowed, and every file it derives fits: backup, list and restore work', () => {
    const dir = fresh();
    const name = `p${'x'.repeat(199)}`;
    fs.mkdirSync(path.join(dir, 'data'));
    const db = path.join(dir, 'data', 'p.duckdb');
    fs.copyFileSync(path.join(site, 'data', 'production.duckdb'), db);
    writeConfig(dir, { targets: { [name]: { path: 'data/p.duckdb' } } });
    for (let i = 0; i < 2; i++) expect(runCli(['backup', name], { cwd: dir }).code).toBe(0); // the second may take a `_2` suffix
    const list = runCli(['list', name, '--json'], { cwd: dir });
    expect(list.code).toBe(0);
    expect(list.json.backups.map((b: { status: string }) => b.status)).toEqual(['valid', 'valid']);
    const restored = runCli(['restore', name, '--yes'], { cwd: dir });
    expect(restored.code).toBe(0);
    expect(fs.existsSync(db)).toBe(true);
  });
});

describe('the backup folder mode', () => {
  test('a folder dbguard creates is 0700; an existing shared folder keeps its mode and gets a warning', () => {
    const created = fresh();
    fs.cpSync(path.join(site, 'data'), path.join(created, 'data'), { recursive: true });
    writeConfig(created, { targets: { production: { path: 'data/production.duckdb' } } });
    const first = runCli(['backup', 'production'], { cwd: created });
    expect(first.code).toBe(0);
    expect(fs.statSync(path.join(created, 'backups')).mode & 0o777).toBe(0o700);
    expect(first.stderr).not.toContain('open to other users');

    const shared = fresh();
    fs.cpSync(path.join(site, 'data'), path.join(shared, 'data'), { recursive: true });
    fs.mkdirSync(path.join(shared, 'backups'));
    fs.chmodSync(path.join(shared, 'backups'), 0o2775);
    writeConfig(shared, { targets: { production: { path: 'data/production.duckdb' } } });
    const r = runCli(['backup', 'production'], { cwd: shared });
    expect(r.code).toBe(0);
    expect(fs.statSync(path.join(shared, 'backups')).mode & 0o7777).toBe(0o2775);
    expect(r.stderr).toContain(`backup folder ${path.join(shared, 'backups')} is open to other users (mode 0775)`);
  });
  const asRoot = process.getuid?.() === 0;
  (asRoot ? test.skip : test)('an existing folder that cannot be written is not said to be "created" (not testable as root)', () => {
    const dir = fresh();
    fs.cpSync(path.join(site, 'data'), path.join(dir, 'data'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'backups'), { mode: 0o500 });
    writeConfig(dir, { targets: { production: { path: 'data/production.duckdb' } } });
    try {
      const r = runCli(['backup', 'production'], { cwd: dir });
      expect(r.code).toBe(6);
      expect(r.stderr).toContain(`permission denied while writing to the backup folder ${path.join(dir, 'backups')}`);
      expect(r.stderr).not.toContain('creating');
      expect(fs.statSync(path.join(dir, 'backups')).mode & 0o777).toBe(0o500);
    } finally {
      fs.chmodSync(path.join(dir, 'backups'), 0o700);
    }
  });
});

describe('status', () => {
  test('its last line (daemon not answering) ends with a newline', () => {
    const r = runCli(['status', 'production'], { cwd: site, env: { DBGUARD_HTTP_PORT: '1' } });
    expect(r.stdout).toMatch(/daemon: not answering at http:\/\/127\.0\.0\.1:1\/health\n$/);
  });
});
