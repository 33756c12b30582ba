/**
 * End-to-end `dbguard check` through the built CLI: the --json shape of
 * DESIGN.md §1, the human table, --quick, required tables, target selection
 * and configuration errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasStackTrace, runCli } from './helpers/cli';
import { blockStart, flipByte, layoutOf } from './helpers/damage';
import { createMusicDb, sha256, tempDir, writeConfig } from './helpers/db';

const t = tempDir('dbguard-check-e2e-');
let template: string;

beforeAll(async () => {
  template = path.join(t.dir, 'template.duckdb');
  await createMusicDb(template);
}, 60000);
afterAll(() => t.cleanup());

let caseNo = 0;
/** A folder with a config and healthy production and staging databases. */
function setup(extra: Record<string, unknown> = {}): { dir: string; production: string; staging: string } {
  const dir = path.join(t.dir, `case-${++caseNo}`);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeConfig(dir, extra);
  const production = path.join(dir, 'data', 'production.duckdb');
  const staging = path.join(dir, 'data', 'staging.duckdb');
  fs.copyFileSync(template, production);
  fs.copyFileSync(template, staging);
  return { dir, production, staging };
}

const noStack = (r: { stdout: string; stderr: string }) => expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);

describe('a healthy file', () => {
  test('--json: exit 0 and the documented shape with tables and row counts; the file is unchanged', () => {
    const { dir, production } = setup();
    const before = sha256(production);
    const r = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    noStack(r);
    expect(r.stderr).toBe('');
    expect(r.json).toMatchObject({
      ok: true,
      targets: [
        {
          target: 'production',
          path: production,
          ok: true,
          findings: [],
          tables: [
            { schema: 'main', name: 'albums', rows: 1000 },
            { schema: 'main', name: 'artists', rows: 200 },
            { schema: 'main', name: 'tracks', rows: 5000 },
          ],
        },
      ],
    });
    // exactly one JSON document on stdout
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(typeof r.json.targets[0].tables[0].rows).toBe('number');
    expect(r.json.targets[0].library).toBe(`v${require('@duckdb/node-api/package.json').version.replace(/-.*$/, '')}`);
    expect(sha256(production)).toBe(before);
  });

  test('human output: an aligned table per target with rows and status, then "healthy"', () => {
    const { dir, production } = setup();
    const before = sha256(production);
    const r = runCli(['check', 'production'], { cwd: dir });
    expect(r.code).toBe(0);
    noStack(r);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toContain(`production  ${production}`);
    expect(lines).toContain('  TABLE     ROWS  STATUS');
    expect(lines).toContain('  albums   1,000  ok');
    expect(lines).toContain('  artists    200  ok');
    expect(lines).toContain('  tracks   5,000  ok');
    expect(r.stdout).toMatch(/healthy {2}full read \+ block scrub in /);
    expect(sha256(production)).toBe(before);
  });

  test('--quick: same tables and counts, reported as a quick check', () => {
    const { dir } = setup();
    const r = runCli(['check', 'production', '--quick'], { cwd: dir });
    expect(r.code).toBe(0);
    noStack(r);
    expect(r.stdout).toContain('  tracks   5,000  ok');
    expect(r.stdout).toMatch(/healthy {2}quick check in /);
  });

  test('--quick skips the block scrub: an index block with a bad checksum passes quick, fails full', async () => {
    const { dir, production } = setup();
    const layout = await layoutOf(production);
    const block = layout.indexBlocks[0]!;
    flipByte(production, blockStart(block) + 100000);
    const quick = runCli(['check', 'production', '--quick', '--json'], { cwd: dir });
    expect(quick.code).toBe(0);
    expect(quick.json.targets[0].findings).toEqual([]);
    const full = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(full.code).toBe(4);
    expect(full.json.targets[0].findings.map((f: { code: string }) => f.code)).toEqual(['bad-blocks']);
    noStack(quick);
    noStack(full);
  });
});

describe('required tables from the config', () => {
  test('a missing required table is missing-table, exit 4', () => {
    const { dir, production } = setup({
      targets: {
        production: { path: 'data/production.duckdb', requiredTables: ['tracks', 'main.albums', 'playlists'] },
        staging: { path: 'data/staging.duckdb' },
      },
    });
    const r = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(r.code).toBe(4);
    noStack(r);
    const findings = r.json.targets[0].findings;
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'missing-table', message: `required table playlists is missing from ${production}` });
    expect(findings[0].hint).toMatch(/dbguard restore production/);
    expect(r.json.targets[0].tables).toContainEqual(expect.objectContaining({ name: 'playlists', status: 'missing' }));
    const human = runCli(['check', 'production'], { cwd: dir });
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/playlists +- +missing/);
    expect(human.stdout).toContain('DAMAGED');
  });

  test('all required tables present: exit 0', () => {
    const { dir } = setup({
      targets: { production: { path: 'data/production.duckdb', requiredTables: ['tracks', 'albums', 'artists'] }, staging: { path: 'data/staging.duckdb' } },
    });
    const r = runCli(['check', 'production', '--json', '--quick'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.json.ok).toBe(true);
  });
});

describe('several targets', () => {
  test('check both with staging damaged: exit 4, production still ok', () => {
    const { dir, staging } = setup();
    fs.writeFileSync(staging, 'corrupted data\n');
    const r = runCli(['check', 'both', '--json'], { cwd: dir });
    expect(r.code).toBe(4);
    noStack(r);
    expect(r.json.ok).toBe(false);
    expect(r.json.targets.map((x: { target: string; ok: boolean }) => [x.target, x.ok])).toEqual([['production', true], ['staging', false]]);
    expect(r.json.targets[1].findings[0].code).toBe('not-duckdb');
    const human = runCli(['check', 'both'], { cwd: dir });
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/production[\s\S]*healthy[\s\S]*staging[\s\S]*DAMAGED/);
  });

  test('check all and a comma list check each configured target once', () => {
    const { dir } = setup({
      targets: {
        production: { path: 'data/production.duckdb' },
        staging: { path: 'data/staging.duckdb' },
        analytics: { path: 'data/staging.duckdb' },
      },
    });
    const all = runCli(['check', 'all', '--json', '--quick'], { cwd: dir });
    expect(all.code).toBe(0);
    expect(all.json.targets.map((x: { target: string }) => x.target)).toEqual(['production', 'staging', 'analytics']);
    const list = runCli(['check', 'analytics,production,production', '--json', '--quick'], { cwd: dir });
    expect(list.code).toBe(0);
    expect(list.json.targets.map((x: { target: string }) => x.target)).toEqual(['production', 'analytics']);
  });

  test('an unknown target is a usage error (exit 2) listing the configured names', () => {
    const { dir } = setup();
    const r = runCli(['check', 'prodution'], { cwd: dir });
    expect(r.code).toBe(2);
    noStack(r);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown target "prodution"');
    expect(r.stderr).toContain('configured targets: production, staging');
    const j = runCli(['check', 'prodution', '--json'], { cwd: dir });
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stderr)).toEqual({
      error: { code: 'unknown-target', exitCode: 2, message: 'unknown target "prodution"', hint: expect.stringContaining('configured targets: production, staging') },
    });
  });

  test('ENVIRONMENT names the default target', () => {
    const { dir } = setup();
    const r = runCli(['check', '--json', '--quick'], { cwd: dir, env: { ENVIRONMENT: 'staging' } });
    expect(r.code).toBe(0);
    expect(r.json.targets.map((x: { target: string }) => x.target)).toEqual(['staging']);
    // an explicit selector wins over ENVIRONMENT
    const p = runCli(['check', 'production', '--json', '--quick'], { cwd: dir, env: { ENVIRONMENT: 'staging' } });
    expect(p.json.targets.map((x: { target: string }) => x.target)).toEqual(['production']);
  });

  test('no target and no ENVIRONMENT: usage error, exit 2', () => {
    const { dir } = setup();
    const r = runCli(['check'], { cwd: dir });
    expect(r.code).toBe(2);
    noStack(r);
    expect(r.stderr).toContain('no target given');
    expect(r.stderr).toContain('production, staging');
  });

  test('ENVIRONMENT naming an unknown target is a usage error', () => {
    const { dir } = setup();
    const r = runCli(['check'], { cwd: dir, env: { ENVIRONMENT: 'qa' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown target "qa"');
  });
});

describe('configuration errors', () => {
  test('an invalid config: exit 3, every problem listed, no stack trace', () => {
    const dir = path.join(t.dir, 'bad-config');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'dbguard.config.json'), JSON.stringify({ keep: 'thirty', http: { port: 99999 } }));
    const r = runCli(['check', 'production'], { cwd: dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('keep must be a whole number ≥ 1 (got "thirty") in dbguard.config.json');
    expect(r.stderr).toContain('http.port must be a port number 0–65535 (got 99999) in dbguard.config.json');
    expect(r.stderr).toContain('hint: edit');
  });

  test('broken JSON: exit 3 with line and column; --json puts the error on stderr', () => {
    const dir = path.join(t.dir, 'broken-json');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'dbguard.config.json'), '{\n  "keep": 3\n  "backupDir": "b"\n}\n');
    const r = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stdout).toBe('');
    const doc = JSON.parse(r.stderr);
    expect(doc).toEqual({ error: { code: 'config-json', exitCode: 3, message: expect.any(String), hint: expect.any(String) } });
    expect(doc.error.message).toContain('line 3, column 3');
    expect(doc.error.message).toContain(path.join(dir, 'dbguard.config.json'));
  });

  test('a Windows path with single backslashes: exit 3 naming the position, not a crash', () => {
    const dir = path.join(t.dir, 'backslash');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'dbguard.config.json'), '{\n  "targets": { "production": { "path": "C:\\data\\production.duckdb" } }\n}\n');
    const r = runCli(['check', 'production'], { cwd: dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stderr).toContain('line 2, column 43');
    expect(r.stderr).toContain('forward slashes');
  });

  test('--config naming a missing file: exit 3 naming the file', () => {
    const r = runCli(['check', 'production', '--config', 'nowhere/dbguard.json'], { cwd: t.dir });
    expect(r.code).toBe(3);
    noStack(r);
    expect(r.stderr).toContain(`config file ${path.join(t.dir, 'nowhere/dbguard.json')} does not exist (named by --config)`);
  });

  test('an invalid environment variable: exit 3 naming the variable', () => {
    const { dir } = setup();
    const r = runCli(['check', 'production', '--json'], { cwd: dir, env: { DBGUARD_KEEP: 'abc' } });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stderr);
    expect(doc.error.code).toBe('config');
    expect(doc.error.message).toBe('keep must be a whole number ≥ 1 (got "abc") in environment variable DBGUARD_KEEP');
  });

  test('DBGUARD_PRODUCTION_PATH points check at another file', () => {
    const { dir, production } = setup();
    const moved = path.join(dir, 'elsewhere.duckdb');
    fs.renameSync(production, moved);
    const r = runCli(['check', 'production', '--json', '--quick'], { cwd: dir, env: { DBGUARD_PRODUCTION_PATH: 'elsewhere.duckdb' } });
    expect(r.code).toBe(0);
    expect(r.json.targets[0].path).toBe(moved);
  });
});
