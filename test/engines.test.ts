/**
 * The Engine interface (issue 10): ops/ and storage/ never name a format;
 * the registry detects the engine by magic bytes; a target may say
 * `engine`; list, status, the manifest and /metrics name the engine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { engineChoices, engineNames, engines, detectBytes, detectFile, engineForExtension, allExtensions } from '../src/engines/registry';
import { duckdbEngine } from '../src/engines/duckdb';
import { runCli } from './helpers/cli';
import { createMusicDb, tempDir, writeConfig } from './helpers/db';
import { filesIn, readManifestFile } from './helpers/backup';
import { createSqliteDb } from './helpers/sqlite';
import { baseUrl, Daemons, get, Sandbox } from './helpers/daemon';

const t = tempDir('dbguard-engines-');
afterAll(() => t.cleanup());

let n = 0;
const fresh = () => {
  const dir = path.join(t.dir, `d${++n}`);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  return dir;
};

/** Every .ts file under `dir`, with its text. */
function sourcesUnder(dir: string): { f: string; text: string }[] {
  const out: { f: string; text: string }[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourcesUnder(p));
    else if (e.name.endsWith('.ts')) out.push({ f: path.relative(path.resolve(__dirname, '..'), p), text: fs.readFileSync(p, 'utf8') });
  }
  return out;
}

describe('ops/ and storage/ do not name a format', () => {
  const sources = ['ops', 'storage'].flatMap((d) => sourcesUnder(path.resolve(__dirname, '../src', d)));

  test('no file imports a particular engine (only engines/engine and engines/registry)', () => {
    expect(sources.length).toBeGreaterThan(25);
    const offenders = sources.filter((s) => /from\s+['"][./]*engines\/(?!engine['"]|registry['"])/.test(s.text)).map((s) => s.f);
    expect(offenders).toEqual([]);
  });

  test('no file holds a ".wal" or ".duckdb" literal (side files and extensions come from the engine)', () => {
    const offenders = sources.filter((s) => /\.wal\b|\.duckdb\b/.test(s.text)).map((s) => s.f);
    expect(offenders).toEqual([]);
  });

  test('the scan would catch one', () => {
    expect(/\.wal\b|\.duckdb\b/.test("fs.rmSync(`${tmp}.wal`)")).toBe(true);
    expect(/from\s+['"][./]*engines\/(?!engine['"]|registry['"])/.test("import { x } from '../engines/duckdb/client';")).toBe(true);
  });
});

describe('the registry', () => {
  let duck: string;
  beforeAll(async () => {
    duck = path.join(fresh(), 'data', 'music.db');
    await createMusicDb(duck, 0.01);
  }, 60000);

  test('every engine keeps the contract: a stable lower-case name, extensions with their dot, a backup extension of its own', () => {
    expect(engines().length).toBeGreaterThan(0);
    expect(engineNames()).toContain('duckdb');
    for (const e of engines()) {
      expect(e.name).toMatch(/^[a-z][a-z0-9]*$/);
      expect(e.extensions.length).toBeGreaterThan(0);
      for (const x of e.extensions) expect(x).toMatch(/^\.[a-z0-9]+$/);
      expect(e.extensions).toContain(e.backupExtension(`/data/app${e.extensions[0]}`));
      expect(e.extensions).toContain(e.backupExtension('/data/app.unknown'));
      expect(e.detect(Buffer.alloc(0))).toBe(false);
      expect(e.detect(Buffer.from('hello, this is a text file\n'))).toBe(false);
      expect(e.isSideFile('app.db', 'app.db')).toBe(false);
      expect(e.isSideFile('app.db', 'other.db')).toBe(false);
    }
    expect(new Set(engineNames()).size).toBe(engineNames().length);
    expect(allExtensions()).toContain('.duckdb');
  });

  test('a DuckDB file is detected by its magic bytes whatever its name; text, empty and missing files by none', () => {
    expect(detectFile(duck)).toBe(duckdbEngine);
    const text = path.join(path.dirname(duck), 'notes.duckdb');
    fs.writeFileSync(text, 'id,name\n1,a\n');
    expect(detectFile(text)).toBeUndefined();
    fs.writeFileSync(path.join(path.dirname(duck), 'empty.duckdb'), '');
    expect(detectFile(path.join(path.dirname(duck), 'empty.duckdb'))).toBeUndefined();
    expect(detectFile(path.join(path.dirname(duck), 'missing.duckdb'))).toBeUndefined();
    expect(detectBytes(Buffer.from('SQLite format 3\0'))).not.toBe(duckdbEngine);
    expect(engineForExtension('/x/production.duckdb')).toBe(duckdbEngine);
    expect(engineForExtension('/x/production')).toBeUndefined();
  });

  test('DuckDB side files are its WALs; the WAL is never separated from the database', () => {
    expect(duckdbEngine.isSideFile('app.duckdb', 'app.duckdb.wal')).toBe(true);
    expect(duckdbEngine.isSideFile('app.duckdb', 'app.duckdb.wal.tmp')).toBe(true);
    expect(duckdbEngine.isSideFile('app.duckdb', 'app.duckdb.json')).toBe(false);
    expect(duckdbEngine.inseparable('app.duckdb', 'app.duckdb.wal')).toBe(true);
  });

  test('the chunking hint of a DuckDB file is its 12 KiB of headers, then blocks of its block size', () => {
    expect(duckdbEngine.chunking!(duck)).toEqual({ headerBytes: 12288, chunkBytes: 262144 });
    expect(duckdbEngine.chunking!(path.join(path.dirname(duck), 'notes.duckdb'))).toEqual({ headerBytes: 0, chunkBytes: 262144 });
  });
});

describe('the engine setting and detection', () => {
  test('an unknown engine name is a config error (exit 3) naming the choices', () => {
    const dir = fresh();
    writeConfig(dir, { targets: { production: { path: 'data/production.duckdb', engine: 'oracle' } } });
    const r = runCli(['check', 'production'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('targets.production.engine');
    expect(r.stderr).toContain(engineChoices());
  });

  test('a file no engine recognises, with no backup and an extension no engine claims, is exit 3 naming the choices; with engine set it is a finding (exit 4)', () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'data', 'state.bin'), 'just some text, not a database\n');
    writeConfig(dir, { targets: { production: { path: 'data/state.bin' } } });
    const r = runCli(['check', 'production'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot tell the format of');
    expect(r.stderr).toContain(`set targets.production.engine to ${engineChoices()}`);

    writeConfig(dir, { targets: { production: { path: 'data/state.bin', engine: 'duckdb' } } });
    const j = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(j.code).toBe(4);
    expect(j.json.targets[0].engine).toBe('duckdb');
    expect(j.json.targets[0].findings).toEqual([expect.objectContaining({ code: 'not-duckdb', message: expect.stringContaining('is a text file') })]);
  });

  test('a text file where a .duckdb file should be is still the finding "not a DuckDB database" (exit 4)', () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'data', 'production.duckdb'), 'id,name\n1,a\n');
    writeConfig(dir, { targets: { production: { path: 'data/production.duckdb' } } });
    const r = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.json.targets[0].findings[0].code).toBe('not-duckdb');
  });

  test('a DuckDB file named .db is detected by its bytes: backed up as .duckdb, and the manifest, list and status name the engine', async () => {
    const dir = fresh();
    await createMusicDb(path.join(dir, 'data', 'app.db'), 0.01);
    writeConfig(dir, { targets: { app: { path: 'data/app.db' } } });
    const r0 = runCli(['backup', 'app', '--json'], { cwd: dir });
    expect(r0.code).toBe(0);
    const b = { json: r0.json.backups[0] };
    expect(b.json.file).toMatch(/app_data_\d{8}_\d{6}\.duckdb$/);
    expect(b.json.engine).toBe('duckdb');
    expect(readManifestFile(b.json.file).engine).toEqual({ name: 'duckdb', library: expect.stringMatching(/^v\d/), storageVersion: expect.any(Number) });
    const list = runCli(['list', 'app', '--json'], { cwd: dir });
    expect(list.json.backups).toEqual([expect.objectContaining({ id: b.json.id, engine: 'duckdb' })]);
    const human = runCli(['list', 'app'], { cwd: dir });
    expect(human.stdout).toMatch(/ENGINE/);
    expect(human.stdout).toMatch(new RegExp(`${b.json.id}.*duckdb`));
    const status = runCli(['status', 'app', '--json'], { cwd: dir, env: { DBGUARD_HTTP_PORT: '1' } });
    expect(status.json.targets[0]).toEqual(expect.objectContaining({ target: 'app', engine: 'duckdb' }));
  }, 60000);

  test('a missing file is judged by its newest backup\'s manifest: restore puts a DuckDB file back at a .db path', async () => {
    const dir = fresh();
    const db = path.join(dir, 'data', 'app.db');
    await createMusicDb(db, 0.01);
    writeConfig(dir, { targets: { app: { path: 'data/app.db' } } });
    expect(runCli(['backup', 'app'], { cwd: dir }).code).toBe(0);
    fs.rmSync(db);
    const r = runCli(['restore', 'app', '--yes', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(detectFile(db)).toBe(duckdbEngine);
    expect(runCli(['check', 'app', '--json'], { cwd: dir }).json.targets[0]).toEqual(expect.objectContaining({ ok: true, engine: 'duckdb' }));
  }, 60000);
});

describe('a DuckDB target whose file was replaced by a SQLite file', () => {
  test('is judged by its backups: check finds "not DuckDB" (exit 4), backup refuses and no backup is added or removed', async () => {
    const dir = fresh();
    const db = path.join(dir, 'data', 'app.db');
    await createMusicDb(db, 0.01);
    writeConfig(dir, { targets: { app: { path: 'data/app.db' } } });
    expect(runCli(['backup', 'app'], { cwd: dir }).code).toBe(0);
    const backupsBefore = filesIn(path.join(dir, 'backups'));
    fs.rmSync(db);
    createSqliteDb(db);
    const check = runCli(['check', 'app', '--json'], { cwd: dir });
    expect(check.code).toBe(4);
    expect(check.json.targets[0]).toEqual(expect.objectContaining({ engine: 'duckdb', ok: false }));
    expect(check.json.targets[0].findings[0]).toEqual(expect.objectContaining({ code: 'not-duckdb', message: expect.stringContaining('is a SQLite database, not DuckDB') }));
    const backup = runCli(['backup', 'app'], { cwd: dir });
    expect(backup.code).toBe(4);
    expect(backup.stderr).toContain('refusing to back up a damaged database');
    expect(filesIn(path.join(dir, 'backups'))).toEqual(backupsBefore);
    // said on purpose, the new format is checked as what it is (the tables and sequence the DuckDB backups hold are still expected)
    writeConfig(dir, { targets: { app: { path: 'data/app.db', engine: 'sqlite' } } });
    const asSqlite = runCli(['check', 'app', '--json'], { cwd: dir }).json.targets[0];
    expect(asSqlite.engine).toBe('sqlite');
    expect(asSqlite.tables.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['artists']));
    expect(asSqlite.findings.map((f: { code: string }) => f.code)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^not-/)]));
  }, 60000);
});

describe('/metrics names the engine', () => {
  const sandbox = new Sandbox('dbguard-engines-daemon-');
  const daemons = new Daemons();
  afterAll(async () => {
    await daemons.stopAll();
    sandbox.cleanup();
  });

  test('dbguard_target_info{target, engine} is 1 for every target', async () => {
    const site = await sandbox.site();
    const d = await daemons.start(site.config());
    const m = (await get(`${baseUrl(d)}/metrics`)).body;
    expect(m).toMatch(/dbguard_target_info\{target="production",engine="duckdb"\} 1/);
    expect(m).toMatch(/dbguard_target_info\{target="staging",engine="duckdb"\} 1/);
  }, 120000);
});
