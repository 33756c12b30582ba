/**
 * `dbguard check` against files the tests damage themselves (DESIGN.md §7):
 * each case spawns the built CLI and asserts the exit code, the finding, the
 * hint, that no stack trace is printed and that the file's bytes are unchanged.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasStackTrace, runCli, type CliResult } from './helpers/cli';
import { blockStart, crashWriter, flipByte, layoutOf, makeSqliteDb, overwrite, putForeignWal, type Layout } from './helpers/damage';
import { execSql, sha256, tempDir, writeConfig } from './helpers/db';
import { holdDatabase, release } from './helpers/hold';
import { demoSql } from '../src/engines/duckdb/demo-data';

interface JsonFinding { severity: string; code: string; message: string; hint: string }
interface JsonTable { schema: string; name: string; rows: number; status: string }

const t = tempDir('dbguard-damage-');
let template: string;
let layout: Layout;
/** Blocks that hold play_log data and nothing else (play_log has no primary key). */
let playLogBlocks: number[];

beforeAll(async () => {
  template = path.join(t.dir, 'template.duckdb');
  // the demo library plus a table without a primary key, whose column data no quick check reads
  await execSql(template, `${demoSql('test', 1)}
    CREATE TABLE play_log AS SELECT i AS seq, 1 + i % 5000 AS track_id, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS played_at FROM range(0, 50000) t(i);`);
  layout = await layoutOf(template);
  const others = new Set(Object.entries(layout.tableBlocks).filter(([n]) => n !== 'play_log').flatMap(([, b]) => b));
  playLogBlocks = layout.tableBlocks.play_log!.filter((b) => !others.has(b));
}, 60000);
afterAll(() => t.cleanup());

let caseNo = 0;
/** A fresh folder with a config and a copy of the healthy template as the production database. */
function setup(extra: Record<string, unknown> = {}): { dir: string; db: string } {
  const dir = path.join(t.dir, `case-${++caseNo}`);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeConfig(dir, extra);
  const db = path.join(dir, 'data', 'production.duckdb');
  fs.copyFileSync(template, db);
  return { dir, db };
}

/** sha256 of the database and its WAL (if any), to prove check wrote nothing. */
function fingerprint(db: string): string {
  const h = crypto.createHash('sha256');
  for (const f of [db, `${db}.wal`]) h.update(fs.existsSync(f) ? `${f}:${sha256(f)}` : `${f}:absent`);
  return h.digest('hex');
}

interface Checked { json: CliResult; human: CliResult; findings: JsonFinding[]; tables: JsonTable[]; codes: string[] }

/** Runs `check production` with --json and without, asserting what every case shares. */
function check(dir: string, db: string, exitCode: number, extraArgs: string[] = []): Checked {
  const before = fingerprint(db);
  const json = runCli(['check', 'production', '--json', ...extraArgs], { cwd: dir });
  const human = runCli(['check', 'production', ...extraArgs], { cwd: dir });
  expect({ json: json.code, human: human.code }).toEqual({ json: exitCode, human: exitCode });
  expect(hasStackTrace(json.stdout + json.stderr)).toBe(false);
  expect(hasStackTrace(human.stdout + human.stderr)).toBe(false);
  expect(fingerprint(db)).toBe(before);
  expect(json.json).toBeDefined();
  expect(json.json.ok).toBe(exitCode === 0);
  expect(json.json.targets).toHaveLength(1);
  const target = json.json.targets[0];
  expect(target).toMatchObject({ target: 'production', path: db, ok: exitCode === 0 });
  const findings: JsonFinding[] = target.findings;
  for (const f of findings) {
    expect(Object.keys(f).sort()).toEqual(['code', 'hint', 'message', 'severity']);
    expect(['error', 'warning']).toContain(f.severity);
    // each finding says which dbguard command fixes it, and the human output shows it too
    expect(f.hint).toMatch(/dbguard (repair|restore|backup|check) production/);
    expect(human.stdout).toContain(f.message);
    expect(human.stdout).toContain(`→ ${f.hint}`);
  }
  expect(human.stdout).toContain(exitCode === 0 ? 'healthy' : 'DAMAGED');
  return { json, human, findings, tables: target.tables, codes: findings.map((f) => f.code) };
}

const finding = (c: Checked, code: string) => {
  const f = c.findings.find((x) => x.code === code);
  if (!f) throw new Error(`no ${code} finding; got ${JSON.stringify(c.findings, null, 2)}`);
  return f;
};

const tableStatus = (c: Checked) => Object.fromEntries(c.tables.map((x) => [x.name, x.status]));

test('the template is what the damage cases assume: metadata, data and index blocks all present', () => {
  expect(layout.blockSize).toBe(262144);
  expect(layout.free.size).toBe(0);
  expect(layout.metadata.size).toBeGreaterThan(0);
  expect(layout.tableBlocks.tracks!.length).toBeGreaterThan(0);
  expect(playLogBlocks.length).toBeGreaterThan(0);
  // three primary keys and tracks_title_idx live in blocks of their own
  expect(layout.indexBlocks.length).toBeGreaterThan(0);
  expect(fs.statSync(template).size).toBe(blockStart(layout.blockCount));
});

test('healthy copy of the template: exit 0, no findings', () => {
  const { dir, db } = setup();
  const c = check(dir, db, 0);
  expect(c.findings).toEqual([]);
  expect(c.tables.map((x) => [x.name, x.rows, x.status])).toEqual([
    ['albums', 1000, 'ok'],
    ['artists', 200, 'ok'],
    ['play_log', 50000, 'ok'],
    ['tracks', 5000, 'ok'],
  ]);
});

describe('truncated', () => {
  test('cut in the middle of a block: truncated, exit 4', () => {
    const { dir, db } = setup();
    const block = layout.tableBlocks.tracks![0]!;
    fs.truncateSync(db, blockStart(block) + 100000);
    const c = check(dir, db, 4);
    expect(finding(c, 'truncated').message).toContain(`ends inside block ${block}`);
    expect(finding(c, 'truncated').severity).toBe('error');
  });

  test('cut at a block boundary: the block scrub finds the missing blocks, exit 4', () => {
    const { dir, db } = setup();
    const block = layout.tableBlocks.tracks![0]!;
    fs.truncateSync(db, blockStart(block));
    const c = check(dir, db, 4);
    const f = c.findings.find((x) => x.code === 'truncated' && /beyond the end of the file/.test(x.message));
    expect(f).toBeDefined();
    expect(f!.message).toMatch(new RegExp(`\\(${block}, `));
    // the cut also takes the tracks data with it
    expect(tableStatus(c).tracks).toBe('unreadable');
  });

  test('cut at a block boundary after the last data block: only the scrub notices', () => {
    const { dir, db } = setup();
    const lastData = Math.max(...Object.values(layout.tableBlocks).flat(), ...layout.metadata);
    const cutAt = layout.indexBlocks.find((b) => b > lastData);
    if (cutAt === undefined) throw new Error(`no index block after the last data block ${lastData}: ${JSON.stringify(layout.indexBlocks)}`);
    fs.truncateSync(db, blockStart(cutAt));
    const quick = check(dir, db, 0, ['--quick']);
    expect(quick.findings).toEqual([]);
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['truncated']);
    expect(Object.values(tableStatus(c))).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  test('cut inside the 12 KiB of headers', () => {
    const { dir, db } = setup();
    fs.truncateSync(db, 10000);
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['truncated']);
    expect(finding(c, 'truncated').message).toContain('10000 bytes');
  });
});

describe('flipped bytes', () => {
  test('in a table data block: that table is unreadable, the scrub names the block, the other tables are fine', () => {
    const { dir, db } = setup();
    const block = layout.tableBlocks.tracks![0]!;
    flipByte(db, blockStart(block) + 8 + 6000);
    const c = check(dir, db, 4);
    expect(finding(c, 'table-unreadable').message).toMatch(/^table tracks cannot be read in full: .*Corrupt database file/);
    expect(finding(c, 'bad-blocks').message).toContain(`(block ${block})`);
    expect(tableStatus(c)).toEqual({ albums: 'ok', artists: 'ok', play_log: 'ok', tracks: 'unreadable' });
    expect(c.tables.find((x) => x.name === 'tracks')!.rows).toBe(5000);
    expect(c.codes).not.toContain('open-failed');
  });

  test('in the data block of a table without a primary key: --quick does not read it, the full check does', () => {
    const { dir, db } = setup();
    const block = playLogBlocks[0]!;
    flipByte(db, blockStart(block) + 8 + 1000);
    const quick = check(dir, db, 0, ['--quick']);
    expect(quick.findings).toEqual([]);
    expect(quick.human.stdout).toContain('quick check');
    const c = check(dir, db, 4);
    expect(finding(c, 'table-unreadable').message).toMatch(/^table play_log cannot be read in full/);
    expect(finding(c, 'bad-blocks').message).toContain(`block ${block}`);
    expect(tableStatus(c)).toEqual({ albums: 'ok', artists: 'ok', play_log: 'unreadable', tracks: 'ok' });
    expect(c.human.stdout).toContain('full read + block scrub');
  });

  test('in an index block: no query reads it, only the block scrub finds it; --quick passes', () => {
    const { dir, db } = setup();
    const block = layout.indexBlocks[Math.floor(layout.indexBlocks.length / 2)]!;
    flipByte(db, blockStart(block) + 131072);
    const quick = check(dir, db, 0, ['--quick']);
    expect(quick.findings).toEqual([]);
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['bad-blocks']);
    expect(finding(c, 'bad-blocks').message).toContain(`1 block(s) in use fail their checksum (block ${block})`);
    expect(finding(c, 'bad-blocks').hint).toMatch(/^dbguard repair production/);
    // every table still reads in full: the damage is where no query looks
    expect(c.tables.map((x) => [x.name, x.rows, x.status])).toEqual([
      ['albums', 1000, 'ok'],
      ['artists', 200, 'ok'],
      ['play_log', 50000, 'ok'],
      ['tracks', 5000, 'ok'],
    ]);
  });

  test('in a metadata block: DuckDB cannot load the catalog, the scrub names the block', () => {
    const { dir, db } = setup();
    const block = Math.min(...layout.metadata);
    flipByte(db, blockStart(block) + 8 + 200);
    const c = check(dir, db, 4);
    expect(c.codes).toContain('open-failed');
    expect(finding(c, 'bad-blocks').message).toContain(`block ${block}`);
  });
});

describe('headers', () => {
  test('main header overwritten with zeros: bad-magic, DuckDB is never asked', () => {
    const { dir, db } = setup();
    overwrite(db, 0, Buffer.alloc(4096));
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['bad-magic']);
    expect(finding(c, 'bad-magic').message).toContain('bytes 8–12 are not "DUCK"');
  });

  test('main header overwritten with random bytes: bad-magic', () => {
    const { dir, db } = setup();
    const junk = crypto.randomBytes(4096);
    junk.write('JUNK', 8, 'latin1');
    overwrite(db, 0, junk);
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['bad-magic']);
  });

  test('one byte of the main header changed (magic intact): main-header-damaged', () => {
    const { dir, db } = setup();
    flipByte(db, 200);
    const c = check(dir, db, 4);
    expect(finding(c, 'main-header-damaged').message).toContain('main file header');
  });

  test('both database headers damaged: db-headers-damaged, DuckDB is never asked', () => {
    const { dir, db } = setup();
    overwrite(db, 4096, crypto.randomBytes(8192));
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['db-headers-damaged']);
    expect(finding(c, 'db-headers-damaged').message).toContain('both database headers (at 4096 and 8192)');
  });

  test('one database header damaged: DuckDB refuses the file, so it is an error', () => {
    const { dir, db } = setup();
    flipByte(db, 8192 + 300);
    const c = check(dir, db, 4);
    const f = finding(c, 'db-header-damaged');
    expect(f.severity).toBe('error');
    expect(f.message).toContain('header at 8192');
  });
});

describe('not a DuckDB file', () => {
  test('an empty file: empty-file', () => {
    const { dir, db } = setup();
    fs.writeFileSync(db, '');
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['empty-file']);
    expect(finding(c, 'empty-file').message).toBe(`${db} is empty (0 bytes)`);
  });

  test('a SQLite database where the target says DuckDB: "is a SQLite database, not DuckDB"', () => {
    // without `engine` the SQLite engine would be detected from the magic bytes and check it as SQLite
    const { dir, db } = setup({ targets: { production: { path: 'data/production.duckdb', engine: 'duckdb' }, staging: { path: 'data/staging.duckdb' } } });
    fs.rmSync(db);
    makeSqliteDb(db);
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['not-duckdb']);
    expect(finding(c, 'not-duckdb').message).toBe(`${db} is a SQLite database, not DuckDB`);
    // DuckDB was never handed the file, so it never tried to fetch the sqlite extension
    expect(c.json.stderr).not.toMatch(/extension/i);
  });

  test('a text file "corrupted data": not-duckdb', () => {
    const { dir, db } = setup();
    fs.writeFileSync(db, 'corrupted data\n');
    const c = check(dir, db, 4);
    expect(c.codes).toEqual(['not-duckdb']);
    expect(finding(c, 'not-duckdb').message).toContain('is a text file ("corrupted data');
  });

  test('a missing file: missing, exit 4, and check does not create it', () => {
    const { dir, db } = setup();
    fs.rmSync(db);
    const json = runCli(['check', 'production', '--json'], { cwd: dir });
    const human = runCli(['check', 'production'], { cwd: dir });
    expect(json.code).toBe(4);
    expect(human.code).toBe(4);
    expect(hasStackTrace(json.stdout + json.stderr + human.stdout + human.stderr)).toBe(false);
    const [f] = json.json.targets[0].findings as JsonFinding[];
    expect(f).toMatchObject({ severity: 'error', code: 'missing', message: `database file ${db} does not exist` });
    expect(f!.hint).toMatch(/dbguard restore production/);
    expect(human.stdout).toContain(`database file ${db} does not exist`);
    expect(fs.existsSync(db)).toBe(false);
    expect(fs.existsSync(`${db}.wal`)).toBe(false);
  });
});

describe('WAL files', () => {
  test('a foreign WAL that DuckDB cannot replay: wal-replay-failed, exit 4, WAL left in place', async () => {
    const { dir, db } = setup();
    await putForeignWal(db, path.join(dir, 'other'));
    const c = check(dir, db, 4);
    const f = finding(c, 'wal-replay-failed');
    expect(f.message).toContain(`${db}.wal cannot be replayed`);
    expect(f.message).toContain('Failure while replaying WAL file');
    expect(f.hint).toMatch(/^dbguard repair production/);
    expect(fs.existsSync(`${db}.wal`)).toBe(true);
    // the same with --quick: the open itself fails
    expect(check(dir, db, 4, ['--quick']).codes).toContain('wal-replay-failed');
  });

  test('a WAL left by a killed writer: exit 0 with a wal-pending warning; the pending rows count', async () => {
    const { dir, db } = setup();
    await crashWriter(db, "INSERT INTO artists VALUES (9001, 'Late Artist', 'SE')");
    const c = check(dir, db, 0);
    expect(c.codes).toEqual(['wal-pending']);
    expect(finding(c, 'wal-pending').severity).toBe('warning');
    expect(finding(c, 'wal-pending').message).toContain(`${db}.wal is present`);
    // replayed in memory for the check only (the fingerprint check proved the files are untouched)
    expect(c.tables.find((x) => x.name === 'artists')!.rows).toBe(201);
    expect(fs.existsSync(`${db}.wal`)).toBe(true);
  });
});

describe('a file held read-write by another process', () => {
  test('a live check (header and block scrub) that names the holder and says what it covered; the file is unchanged', async () => {
    const { dir, db } = setup();
    const holder = await holdDatabase(db);
    try {
      const before = fingerprint(db);
      const human = runCli(['check', 'production'], { cwd: dir });
      const json = runCli(['check', 'production', '--json', '--quick'], { cwd: dir });
      expect(human.code).toBe(0);
      expect(json.code).toBe(0);
      expect(hasStackTrace(human.stdout + human.stderr + json.stdout + json.stderr)).toBe(false);
      expect(human.stdout).toContain(`held by PID ${holder.pid}`);
      expect(human.stdout).toMatch(/live check.*block scrub of the live file/);
      expect(json.json.targets[0]).toMatchObject({ ok: true, busy: null, live: { mode: 'scrub', holder: { pid: holder.pid } } });
      expect(fingerprint(db)).toBe(before);
    } finally {
      await release(holder);
    }
    // once released, the same file checks clean
    expect(runCli(['check', 'production'], { cwd: dir }).code).toBe(0);
  });
});

describe('free blocks', () => {
  test('a damaged free block is a warning, not damage (exit 0), with a hint', async () => {
    const dir = path.join(t.dir, 'free-blocks');
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    writeConfig(dir);
    const db = path.join(dir, 'data', 'production.duckdb');
    await execSql(db, `CREATE TABLE scratch AS SELECT i, 'row ' || i AS s FROM range(0, 200000) t(i);
      CREATE TABLE keep AS SELECT i FROM range(0, 1000) t(i);
      CHECKPOINT;
      DROP TABLE scratch;`);
    const l = await layoutOf(db);
    const freeBlock = [...l.free].filter((b) => b < l.blockCount).sort((a, b) => a - b)[0];
    if (freeBlock === undefined) throw new Error(`no free block below block_count: ${JSON.stringify([...l.free])}`);
    flipByte(db, blockStart(freeBlock) + 5000);
    const c = check(dir, db, 0);
    expect(c.codes).toEqual(['bad-free-blocks']);
    expect(finding(c, 'bad-free-blocks').severity).toBe('warning');
    expect(finding(c, 'bad-free-blocks').message).toContain(`block ${freeBlock}`);
    expect(c.tables.map((x) => [x.name, x.rows])).toEqual([['keep', 1000]]);
  });
});
