/**
 * Salvage of a database with one damaged table (`repair --strategy salvage`):
 * the other tables come back intact, the damaged one minus exactly the
 * ranges the report lists (whole rows for a NOT NULL column, NULLed values
 * for a nullable one), plus sequences, views and indexes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runWorker } from '../src/engines/duckdb/client';
import { dependencyOrder } from '../src/engines/duckdb/ddl';
import { mergeRanges, type LostRange } from '../src/engines/duckdb/salvage';
import { hasStackTrace, runCli } from './helpers/cli';
import { execSql, sha256, tempDir, writeConfig } from './helpers/db';
import { blockStart, exited, flipByte, query, scanFile, soleBlocks, subfolders } from './helpers/damage4';
import { crashWriter } from './helpers/damage';

const t = tempDir('dbguard-salvage-');
afterAll(() => t.cleanup());

const ROWS = 100000;
const healthy = path.join(t.dir, 'healthy.duckdb');
let healthyScan: Awaited<ReturnType<typeof scanFile>>;

/*
 * "children" sorts before "parents" but references it: a copy in catalog order
 * fails on valid data (duckdb#24215). "events" spans several blocks per column.
 * Schema "events_x" starts with a table's name and holds a table of that name.
 */
const SCHEMA = `
CREATE SEQUENCE event_seq START 1;
CREATE TABLE parents (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL);
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id), label VARCHAR);
CREATE TABLE events (id BIGINT PRIMARY KEY DEFAULT nextval('event_seq'), payload VARCHAR NOT NULL, note VARCHAR);
INSERT INTO parents SELECT i, 'parent ' || i FROM range(1, 101) t(i);
INSERT INTO children SELECT i, 1 + i % 100, 'child ' || i FROM range(1, 2001) t(i);
INSERT INTO events (payload, note) SELECT md5('p' || i) || md5('q' || i), CASE WHEN i % 7 = 0 THEN NULL ELSE md5('n' || i) || md5('m' || i) END FROM range(${ROWS}) t(i);
CREATE INDEX events_payload_idx ON events(payload);
CREATE SCHEMA events_x;
CREATE TABLE events_x.events (id INTEGER PRIMARY KEY, v VARCHAR);
INSERT INTO events_x.events SELECT i, 'archived ' || i FROM range(10) t(i);
CREATE VIEW events_x.recent AS SELECT * FROM events_x.events WHERE id > 5;
CREATE VIEW busy_parents AS SELECT p.id, count(*) AS n FROM parents p JOIN children c ON c.parent_id = p.id GROUP BY p.id;
`;

beforeAll(async () => {
  await execSql(healthy, SCHEMA);
  healthyScan = await scanFile(healthy);
  expect(healthyScan.tables['main.events']!.rows).toBe(ROWS);
}, 60000);

/** A project folder whose production database is the healthy file with one block of events.<column> damaged. */
async function damagedProject(name: string, column: string): Promise<{ dir: string; file: string; sha: string; block: number }> {
  const dir = path.join(t.dir, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeConfig(dir);
  const file = path.join(dir, 'data', 'production.duckdb');
  fs.copyFileSync(healthy, file);
  const blocks = await soleBlocks(file, 'events', column);
  expect(blocks.length).toBeGreaterThan(2); // the column spans several blocks
  const block = blocks[1]!.block; // one in the middle
  flipByte(file, blockStart(block) + 4096);
  return { dir, file, sha: sha256(file), block };
}

/** Aggregates that change when any row or value of events changes; `where` and `note` select and mask rows of the healthy file. */
const eventsAgg = (where = 'true', note = 'note') =>
  `SELECT count(*)::BIGINT AS n, sum(hash(id))::VARCHAR AS h_id, sum(hash(payload))::VARCHAR AS h_payload, sum(hash(${note}))::VARCHAR AS h_note, count(${note})::BIGINT AS notes FROM events WHERE ${where}`;

const inRanges = (ranges: LostRange[]) => (ranges.length ? ranges.map((r) => `rowid BETWEEN ${r.fromRowid} AND ${r.toRowid}`).join(' OR ') : 'false');

function salvageOf(dir: string) {
  const r = runCli(['repair', 'production', '--strategy', 'salvage', '--json', '--yes'], { cwd: dir });
  expect(hasStackTrace(r.stderr)).toBe(false);
  exited(r, 0);
  expect(r.json.strategy).toBe('salvage');
  return r.json;
}

function expectOtherTablesIntact(report: { tables: { schema: string; name: string; lost: unknown[]; copiedRows: number; sourceRows: number }[] }, scan: Awaited<ReturnType<typeof scanFile>>) {
  for (const key of ['main.parents', 'main.children', 'events_x.events']) {
    const tr = report.tables.find((x) => `${x.schema}.${x.name}` === key)!;
    expect(tr.lost).toEqual([]);
    expect(tr.copiedRows).toBe(tr.sourceRows);
    expect(scan.tables[key]).toEqual(healthyScan.tables[key]);
  }
  expect(Object.keys(scan.tables).sort()).toEqual(Object.keys(healthyScan.tables).sort());
  // parents before children: foreign-key order, not alphabetical
  expect(report.tables.map((x) => x.name).indexOf('parents')).toBeLessThan(report.tables.map((x) => x.name).indexOf('children'));
}

test('a damaged block of a NOT NULL column: every other row and table back, the lost rowid ranges reported exactly', async () => {
  const { dir, file, sha } = await damagedProject('notnull', 'payload');
  const json = salvageOf(dir);
  const report = json.details.salvage;
  expect(report.lossless).toBe(false);
  expect(report.failedObjects).toEqual([]);

  const ev = report.tables.find((x: { schema: string; name: string }) => x.schema === 'main' && x.name === 'events');
  expect(ev.sourceRows).toBe(ROWS);
  expect(ev.lost.length).toBeGreaterThan(0);
  for (const l of ev.lost as LostRange[]) {
    expect(l.rowsLost).toBe(true);
    expect(l.columns).toContain('payload');
    expect(l.rows).toBe(l.toRowid - l.fromRowid + 1);
  }
  const lostRows = (ev.lost as LostRange[]).reduce((n, l) => n + l.rows, 0);
  expect(lostRows).toBeGreaterThan(0);
  expect(lostRows).toBeLessThan(ROWS / 2);
  expect(ev.copiedRows + lostRows).toBe(ROWS);

  // the salvaged table is the healthy one minus exactly the reported ranges
  const [want] = await query(healthy, eventsAgg(`NOT (${inRanges(ev.lost)})`));
  const [got] = await query(file, eventsAgg());
  expect(got).toEqual(want);
  expect(Number(got!.n)).toBe(ev.copiedRows);

  const scan = await scanFile(file);
  expectOtherTablesIntact(report, scan);
  expect(json.details.notes.join('\n')).toMatch(/lost in the salvage: main\.events rowid \d+/);

  // schema objects: the sequence continues where the damaged file's stopped; view and index exist
  const [seq] = await query(file, `SELECT start_value FROM duckdb_sequences() WHERE sequence_name = 'event_seq'`);
  expect(Number(seq!.start_value)).toBe(ROWS + 1);
  expect(await query(file, `SELECT view_name FROM duckdb_views() WHERE view_name = 'busy_parents'`)).toHaveLength(1);
  expect(await query(file, `SELECT index_name FROM duckdb_indexes() WHERE index_name = 'events_payload_idx'`)).toHaveLength(1);
  expect(await query(file, 'SELECT count(*)::INTEGER AS n FROM busy_parents')).toEqual([{ n: 100 }]);
  expect(await query(file, 'SELECT count(*)::INTEGER AS n FROM events_x.recent')).toEqual([{ n: 4 }]);

  // the damaged original is in quarantine, byte for byte
  const q = subfolders(path.join(dir, 'backups', 'quarantine'));
  expect(sha256(path.join(q[0]!, 'production.duckdb'))).toBe(sha);
});

test('a damaged block of a nullable column: every row kept, the unreadable values NULL in exactly the reported ranges', async () => {
  const { dir, file } = await damagedProject('nullable', 'note');
  const report = salvageOf(dir).details.salvage;
  expect(report.lossless).toBe(false);
  const ev = report.tables.find((x: { schema: string; name: string }) => x.schema === 'main' && x.name === 'events');
  expect(ev.lost.length).toBeGreaterThan(0);
  for (const l of ev.lost as LostRange[]) {
    expect(l.rowsLost).toBe(false);
    expect(l.columns).toEqual(['note']);
  }
  expect(ev.copiedRows).toBe(ROWS);

  const masked = `CASE WHEN ${inRanges(ev.lost)} THEN NULL ELSE note END`;
  const [want] = await query(healthy, eventsAgg('true', masked));
  const [got] = await query(file, eventsAgg());
  expect(got).toEqual(want);
  // values really went missing, and only those
  const [all] = await query(healthy, eventsAgg());
  expect(Number(got!.notes)).toBeLessThan(Number(all!.notes));
  expectOtherTablesIntact(report, await scanFile(file));
});

test('sequences continue where the source stopped, including values only its WAL knows', async () => {
  const src = path.join(t.dir, 'seq', 'src.duckdb');
  fs.mkdirSync(path.dirname(src), { recursive: true });
  await execSql(src, `CREATE SEQUENCE s; CREATE SEQUENCE unused START 40; CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT nextval('s'), v INTEGER); INSERT INTO t (v) SELECT i FROM range(10) t(i)`);
  // a killed writer: ids 11..15 and the sequence's advance exist only in the WAL
  await crashWriter(src, `INSERT INTO t (v) SELECT i FROM range(5) t(i)`);
  const dest = path.join(t.dir, 'seq', 'salvaged.duckdb');
  const report = await runWorker<{ lossless: boolean }>({ action: 'salvage', file: src, dest });
  expect(report.lossless).toBe(true);
  // the next id must not collide with the rows already there
  await execSql(dest, `INSERT INTO t (v) VALUES (99)`);
  expect(await query(dest, `SELECT max(id)::INTEGER AS m, count(*)::INTEGER AS n FROM t`)).toEqual([{ m: 16, n: 16 }]);
  expect(await query(dest, `SELECT sql FROM duckdb_sequences() WHERE sequence_name = 'unused'`)).toEqual([{ sql: expect.stringMatching(/START 40\b/) }]);
});

describe('salvage helpers', () => {
  test('dependencyOrder puts referenced tables first and survives cycles', () => {
    const items = [
      { key: 'a', refs: ['c'] },
      { key: 'b', refs: [] },
      { key: 'c', refs: ['b'] },
      { key: 'x', refs: ['y'] },
      { key: 'y', refs: ['x'] },
      { key: 's', refs: ['s'] },
    ];
    expect(dependencyOrder(items).map((i) => i.key)).toEqual(['b', 'c', 'a', 'y', 'x', 's']);
  });

  test('mergeRanges joins adjacent ranges with the same outcome only', () => {
    const r = (fromRowid: number, toRowid: number, columns: string[], rowsLost: boolean): LostRange => ({ fromRowid, toRowid, rows: toRowid - fromRowid + 1, columns, rowsLost, reason: 'checksum' });
    expect(mergeRanges([r(0, 9, ['a'], true), r(10, 19, ['a'], true), r(20, 29, ['b'], true), r(40, 49, ['b'], true), r(50, 59, ['b'], false)])).toEqual([
      r(0, 19, ['a'], true),
      r(20, 29, ['b'], true),
      r(40, 49, ['b'], true),
      r(50, 59, ['b'], false),
    ]);
  });
});
