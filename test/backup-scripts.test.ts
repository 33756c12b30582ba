/**
 * scripts/backup_db.sh, the scheduler wrapper: forwards its arguments to
 * `dbguard backup`, appends timestamped output to a log file, and exits with
 * dbguard's exit code. (scripts/backup_db.ps1 is its PowerShell twin; there
 * is no PowerShell here, so only its presence and wiring are checked.)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filesIn, makeProject, tempFilesIn, waitFor, type Project } from './helpers/backup';
import { cleanEnv } from './helpers/cli';

const SCRIPT = path.resolve(__dirname, '../scripts/backup_db.sh');
const PS1 = path.resolve(__dirname, '../scripts/backup_db.ps1');
const STAMPED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} /;

function runScript(script: string, args: string[], cwd: string, env: Record<string, string>) {
  const r = spawnSync('bash', [script, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

(process.platform === 'win32' ? describe.skip : describe)('scripts/backup_db.sh', () => {
  let p: Project;
  let log: string;
  beforeAll(async () => {
    p = await makeProject(0.01);
    fs.copyFileSync(p.db, path.join(path.dirname(p.db), 'staging.duckdb'));
    log = path.join(p.dir, 'logs', 'nested', 'backup.log');
  });
  afterAll(() => p.cleanup());

  test('is executable bash', () => {
    expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(SCRIPT, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(spawnSync('bash', ['-n', SCRIPT]).status).toBe(0);
  });

  test('forwards "both --keep=50" to dbguard backup, logs with timestamps, exits 0', () => {
    const r = runScript(SCRIPT, ['both', '--keep=50'], p.dir, { DBGUARD_LOG: log });
    expect(r.code).toBe(0);
    expect(filesIn(p.backups).filter((f) => f.endsWith('.duckdb')).map((f) => f.split('_data_')[0])).toEqual(['production', 'staging']);
    const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(STAMPED);
    expect(lines[0]).toMatch(/start: dbguard backup both --keep=50$/);
    expect(lines.some((l) => /production .*valid/.test(l))).toBe(true);
    expect(lines.some((l) => /staging .*valid/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/end: exit code 0$/);
  });

  test('appends, and passes dbguard\'s failure codes through (2 usage, 4 damaged) with stderr in the log', () => {
    const before = fs.readFileSync(log, 'utf8');
    const usage = runScript(SCRIPT, ['nosuch'], p.dir, { DBGUARD_LOG: log });
    expect(usage.code).toBe(2);
    fs.writeFileSync(path.join(path.dirname(p.db), 'staging.duckdb'), 'not a database');
    const damaged = runScript(SCRIPT, ['staging'], p.dir, { DBGUARD_LOG: log });
    expect(damaged.code).toBe(4);
    const text = fs.readFileSync(log, 'utf8');
    expect(text.startsWith(before)).toBe(true);
    const added = text.slice(before.length).trimEnd().split('\n');
    for (const l of added) expect(l).toMatch(STAMPED);
    expect(added.join('\n')).toMatch(/unknown target "nosuch"/);
    expect(added.join('\n')).toMatch(/end: exit code 2\n/);
    expect(added.join('\n')).toMatch(/staging\.duckdb/);
    expect(added[added.length - 1]).toMatch(/end: exit code 4$/);
  });

  test('DBGUARD_BIN and the default log beside the project; arguments arrive unchanged', () => {
    // a copy of the scripts folder in a fresh "project", and a fake dbguard that shows its arguments
    const project = path.join(p.dir, 'install');
    fs.mkdirSync(path.join(project, 'scripts'), { recursive: true });
    fs.copyFileSync(SCRIPT, path.join(project, 'scripts', 'backup_db.sh'));
    const fake = path.join(p.dir, 'fake dbguard.sh');
    fs.writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do echo "arg:[$a]"; done\necho "to stderr" >&2\nexit 7\n', { mode: 0o755 });
    const r = runScript(path.join(project, 'scripts', 'backup_db.sh'), ['production', '--wait', '5 m', '--keep=3'], p.dir, { DBGUARD_BIN: fake });
    expect(r.code).toBe(7);
    const text = fs.readFileSync(path.join(project, 'logs', 'backup.log'), 'utf8');
    expect(text).toMatch(/arg:\[backup\]\n.*arg:\[production\]\n.*arg:\[--wait\]\n.*arg:\[5 m\]\n.*arg:\[--keep=3\]\n/);
    expect(text).toMatch(/ to stderr\n/);
    expect(text).toMatch(/end: exit code 7\n$/);
    // no arguments at all (set -u must not trip over an empty "$@")
    const none = runScript(path.join(project, 'scripts', 'backup_db.sh'), [], p.dir, { DBGUARD_BIN: fake });
    expect(none.code).toBe(7);
    expect(fs.readFileSync(path.join(project, 'logs', 'backup.log'), 'utf8')).toMatch(/start: dbguard backup \n.*arg:\[backup\]\n.* to stderr\n.*end: exit code 7\n$/);
  });

  test('a log file that cannot be written: exit 6 with a message, dbguard not run', () => {
    fs.writeFileSync(path.join(p.dir, 'afile'), 'x');
    const r = runScript(SCRIPT, ['production'], p.dir, { DBGUARD_LOG: path.join(p.dir, 'afile', 'backup.log') });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(path.join(p.dir, 'afile', 'backup.log'));
  });

  test('Ctrl-C: dbguard cleans up and exits 130, and the script logs that and exits 130', async () => {
    fs.copyFileSync(p.db, path.join(path.dirname(p.db), 'staging.duckdb'));
    const before = filesIn(p.backups);
    const child = spawn('bash', [SCRIPT, 'production'], { cwd: p.dir, env: cleanEnv({ DBGUARD_LOG: log }), detached: true, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor(() => tempFilesIn(p.backups).length > 0, 20000, 2);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/interrupted.*\n(.*\n)*.*end: exit code 130\n$/);
    expect(filesIn(p.backups)).toEqual(before);
  });
});

describe('scripts/backup_db.ps1', () => {
  test('forwards its arguments to "dbguard backup", logs, and exits with dbguard\'s code', () => {
    const text = fs.readFileSync(PS1, 'utf8');
    expect(text).toMatch(/& \$exe @exeArgs backup @args 2>&1/);
    expect(text).toMatch(/\$code = \$LASTEXITCODE/);
    expect(text).toMatch(/exit \$code/);
    expect(text).toMatch(/DBGUARD_LOG/);
    expect(text).toMatch(/DBGUARD_BIN/);
    expect(text).toMatch(/logs'\) 'backup\.log'/);
  });
});
