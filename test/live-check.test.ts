/**
 * Live check and scheduled live backups (issue 9): a real writer process
 * holds the database read-write and commits with frequent checkpoints. A busy
 * writer alone never produces a finding; a flipped byte in a block it never
 * touches is found; `--full` checks a live copy and leaves nothing behind; the
 * daemon's backups of the held database succeed and say they are live.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fenceBroken, type Fence } from '../src/engines/duckdb/fence';
import { dataBlockOffset, filesIn, flipByte, tempFilesIn } from './helpers/backup';
import { hasStackTrace, runCli } from './helpers/cli';
import { baseUrl, Daemons, get, waitFor } from './helpers/daemon';
import { JobHistory } from '../src/daemon/history';
import { tempDir, writeConfig } from './helpers/db';
import { invariantViolations, startWriter, type Writer } from './helpers/live-writer';
import { loadConfig } from '../src/config/load';

describe('fence rules', () => {
  const base: Fence = { iteration: 7n, ino: 1, dev: 1, size: 100, wal: { ino: 2, size: 50 }, checkpointRunning: false };
  test.each([
    ['the database file was replaced', { ino: 9 }],
    ['a checkpoint ran during the copy', { iteration: 8n }],
    ['the WAL vanished', { wal: undefined }],
    ['the WAL was replaced', { wal: { ino: 3, size: 60 } }],
    ['the WAL shrank', { wal: { ino: 2, size: 10 } }],
    ['a checkpoint was running', { checkpointRunning: true }],
  ])('%s: the copy is discarded', (why, change) => {
    expect(fenceBroken(base, { ...base, ...change }, 7n)).toMatch(new RegExp(why));
  });
  test('a copy whose own header differs is discarded; an unchanged fence with a grown WAL holds', () => {
    expect(fenceBroken(base, base, 6n)).toMatch(/copied header has iteration 6/);
    expect(fenceBroken(base, { ...base, wal: { ino: 2, size: 80 } }, 7n)).toBeUndefined();
  });
});

describe('a database held by a busy writer', () => {
  let dir: string;
  let db: string;
  let cleanup: () => void;
  let writer: Writer;
  let archiveByte: number;
  const daemons = new Daemons();

  beforeAll(async () => {
    const t = tempDir('dbguard-livecheck-');
    ({ dir, cleanup } = t);
    fs.mkdirSync(path.join(dir, 'data'));
    db = path.join(dir, 'data', 'production.duckdb');
    writeConfig(dir, { http: { host: '127.0.0.1', port: 0 }, schedule: { backup: '0 0 1 1 *', check: '0 0 1 1 *', timezone: 'local' } });
    // create the tables once, then find a data block of the table the writer never touches
    await (await startWriter(db, ['--idle'])).stop();
    archiveByte = await dataBlockOffset(db, 'archive');
    writer = await startWriter(db, ['--checkpoint-every', '20', '--big-every', '0']);
  });
  afterAll(async () => {
    await daemons.stopAll();
    await writer?.stop().catch(() => undefined);
    cleanup();
  });

  test('repeated live checks of a busy writer find nothing and say what they covered', () => {
    for (let i = 0; i < 3; i++) {
      const r = runCli(['check', 'production', '--json'], { cwd: dir });
      expect(r.json.targets[0].findings).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.json.targets[0].live).toMatchObject({ mode: 'scrub', holder: { pid: writer.child.pid } });
      expect(r.json.targets[0].live.covered).toMatch(/block scrub of the live file/);
    }
  });

  test('check --full: a full check of a live copy in backupDir, deleted afterwards', () => {
    const r = runCli(['check', 'production', '--full', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const t = r.json.targets[0];
    expect(t.live).toMatchObject({ mode: 'copy' });
    expect(t.tables.map((x: { name: string }) => x.name).sort()).toEqual(['accounts', 'archive', 'batches', 'items', 'ledger']);
    expect(t.tables.find((x: { name: string }) => x.name === 'archive').rows).toBe(200000);
    expect(tempFilesIn(path.join(dir, 'backups'))).toEqual([]);
    expect(filesIn(path.join(dir, 'backups')).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
  });

  test('the daemon backs up the held database live; /health, /metrics and the history say so', async () => {
    const d = await daemons.start(loadConfig({ cwd: dir, env: {} }));
    // no backup yet: the daemon's catch-up run backs the held database up at start
    const rec = await waitFor('the catch-up backup', () => new JobHistory(path.join(dir, 'backups')).read()
      .find((r) => r.target === 'production' && r.kind === 'backup' && ['succeeded', 'failed'].includes(r.state)), 60000);
    expect(rec).toMatchObject({ state: 'succeeded', consistency: 'live' });
    const h = (await get(`${baseUrl(d)}/health`)).json;
    expect(h.targets.production.last_backup).toMatchObject({ id: rec!.backupId, consistency: 'live' });
    const metrics = (await get(`${baseUrl(d)}/metrics`)).body;
    expect(metrics).toMatch(/dbguard_last_backup_live\{target="production"\} 1/);
    const file = path.join(dir, 'backups', `${rec!.backupId}.duckdb`);
    expect(await invariantViolations(file)).toEqual([]);
    await daemons.stopAll();
    const st = runCli(['status', 'production', '--json'], { cwd: dir });
    expect(st.json.targets[0].lastBackup).toMatchObject({ id: rec!.backupId, consistency: 'live' });
  });

  test('a flipped byte in a block the writer never touches is found by the live check (exit 4, block named)', () => {
    flipByte(db, archiveByte);
    const block = Math.floor((archiveByte - 12288) / 262144);
    const r = runCli(['check', 'production', '--json'], { cwd: dir });
    expect(r.code).toBe(4);
    const f = r.json.targets[0].findings.find((x: { code: string }) => x.code === 'bad-blocks');
    expect(f.message).toContain(`block ${block}`);
    expect(r.json.targets[0].live.mode).toBe('scrub');
    const human = runCli(['check', 'production'], { cwd: dir });
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/live check/);
    expect(hasStackTrace(human.stdout + human.stderr)).toBe(false);
  });
});
