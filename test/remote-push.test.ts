/**
 * push and --remote through the built CLI against a real S3-compatible
 * server (s3rver behind the counting fault proxy of helpers/s3.ts) on
 * 127.0.0.1: a first and an incremental push (only new packs travel), list /
 * verify --read-data / restore on a "new machine" that has only the config
 * and the credentials, kill -9 before publication and a resumed push, a
 * server that answers 500 or stops mid-upload, and another tool's objects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { S3Backend } from '../src/remote/s3-backend';
import { contentOf, makeProject, manualClock, type Project } from './helpers/backup';
import { recorded } from './helpers/blocks';
import { hasStackTrace, runCliAsync } from './helpers/cli';
import { execSql, tempDir, writeConfig } from './helpers/db';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

const BUCKET = 'push-test';
const day = (n: number) => new Date(2024, 0, 1 + n, 2, 0, 0);
const ENV = { ...S3_TEST_ENV, DBGUARD_TEST_REMOTE_FAST: '1' };

let s3: TestS3;
beforeAll(async () => { s3 = await startS3([BUCKET]); });
afterAll(async () => { await s3?.close(); });

const remoteOf = (prefix: string, extra: Record<string, unknown> = {}) => ({ url: `s3://${BUCKET}/${prefix}`, endpoint: s3.endpoint, forcePathStyle: true, ...extra });
const cli = (p: { dir: string }, args: string[], env: Record<string, string> = {}) => runCliAsync(args, { cwd: p.dir, env: { ...ENV, ...env } });
const raw = (prefix: string) => new S3Backend({ url: `s3://${BUCKET}/${prefix}`, endpoint: s3.directEndpoint, forcePathStyle: true, region: 'us-east-1', encryption: false, auto: false }, { ...S3_TEST_ENV });

async function projectWithBackups(prefix: string, days: number, extra: Record<string, unknown> = {}): Promise<{ p: Project; ids: string[] }> {
  const p = await makeProject(1, { remote: remoteOf(prefix), ...extra });
  const ids: string[] = [];
  for (let n = 0; n < days; n++) {
    if (n > 0) await execSql(p.db, `UPDATE tracks SET plays = plays + 1 WHERE id % 97 = ${n}; INSERT INTO tracks (album_id, title, duration_ms, plays, added_at) SELECT 1, 'New ${n} ' || i, 1000, 0, TIMESTAMP '2024-02-01' FROM range(0, 20) t(i);`);
    const r = await backupTarget(p.config(), 'production', { clock: manualClock(day(n)) });
    expect(r.status).toBe('valid');
    ids.push(r.id);
  }
  return { p, ids };
}

/** A fresh folder with only a config naming the same remote: a new machine. */
function newMachine(prefix: string, extra: Record<string, unknown> = {}) {
  const t = tempDir('dbguard-newmachine-');
  writeConfig(t.dir, { remote: remoteOf(prefix, extra) });
  return t;
}

describe('push, list, verify and restore through the remote', () => {
  let p: Project;
  let ids: string[];
  beforeAll(async () => { ({ p, ids } = await projectWithBackups('main', 2)); });
  afterAll(() => p.cleanup());

  test('a first push uploads every backup; a push after a small change uploads only its new packs', async () => {
    s3.resetCounts();
    let r = await cli(p, ['push', 'production', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const first = r.json.targets[0];
    expect(first.pushed.map((x: any) => x.id)).toEqual(ids);
    expect(first.bytesUploaded).toBeGreaterThan(0);
    const firstBytes = s3.bytesReceived();
    const dbBytes = fs.statSync(p.db).size;
    // the second backup shares most blocks with the first: far less than two whole copies went up
    expect(firstBytes).toBeLessThan(1.6 * dbBytes);

    await execSql(p.db, 'UPDATE tracks SET plays = plays + 5 WHERE id = 7;');
    const third = await backupTarget(p.config(), 'production', { clock: manualClock(day(2)) });
    ids.push(third.id);
    s3.resetCounts();
    r = await cli(p, ['push', 'production', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.targets[0]).toMatchObject({ ok: true, alreadyThere: 2, newestRemote: { id: third.id } });
    expect(r.json.targets[0].pushed.map((x: any) => x.id)).toEqual([third.id]);
    expect(r.json.targets[0].blocksReused).toBeGreaterThan(0);
    const puts = s3.requests().filter((q) => q.method === 'PUT' && q.url.includes('/packs/'));
    expect(puts.length).toBe(1);
    expect(s3.bytesReceived()).toBeLessThan(0.25 * dbBytes);

    // nothing left to do: a third push uploads no pack
    s3.resetCounts();
    r = await cli(p, ['push', 'production', '--json']);
    expect(r.json.targets[0]).toMatchObject({ ok: true, pushed: [], alreadyThere: 3 });
    expect(s3.requests().filter((q) => q.method === 'PUT' && !q.url.includes('/locks/'))).toEqual([]);
  });

  test('a new machine with only the config and the credentials lists, verifies with --read-data and restores the exact rows', async () => {
    const m = newMachine('main');
    try {
      let r = await cli(m, ['list', 'production', '--remote', '--json']);
      expect(r.code).toBe(0);
      expect(r.json.backups.map((b: any) => [b.id, b.location, b.status])).toEqual([...ids].reverse().map((id) => [id, 'remote', 'valid']));
      expect(r.json.remote.snapshots).toBe(3);

      r = await cli(m, ['verify', 'production', '--remote', '--all', '--read-data', '--json']);
      expect(r.code).toBe(0);
      expect(r.json.results.map((x: any) => [x.id, x.ok])).toEqual([...ids].reverse().map((id) => [id, true]));

      r = await cli(m, ['restore', 'production', '--remote', '--from', ids[1]!, '--yes', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.json).toMatchObject({ ok: true, source: 'remote', from: ids[1] });
      const restored = path.join(m.dir, 'data', 'production.duckdb');
      const manifest = (await cli(m, ['list', 'production', '--remote', '--json'])).json.backups.find((b: any) => b.id === ids[1]);
      expect(manifest.rows).toBeGreaterThan(0);
      // fingerprints equal the manifest's: read the manifest the remote holds
      const snap = JSON.parse((await raw('main').get(`snapshots/production/${ids[1]}.duckdb.json`)).toString('utf8'));
      expect(await contentOf(restored)).toEqual(recorded(snap));
      expect(fs.readdirSync(path.dirname(restored)).filter((f) => f.includes('tmp'))).toEqual([]);
    } finally {
      m.cleanup();
    }
  });
});

test('kill -9 before publication leaves no remote backup referring to missing data; the next push resumes with the uploaded packs', async () => {
  const { p, ids } = await projectWithBackups('killed', 1);
  try {
    const killed = await cli(p, ['push', 'production'], { DBGUARD_TEST_FAIL_AT: 'push-publish=KILL' });
    expect(killed.code).toBe(null);
    const packs = (await raw('killed').list('packs/')).length;
    expect(packs).toBeGreaterThan(0);
    let r = await cli(p, ['list', 'production', '--remote', '--json']);
    expect(r.json.backups).toEqual([]);
    r = await cli(p, ['verify', 'production', '--remote', '--json']);
    expect(r.json.results[0].findings[0].code).toBe('no-backups');

    s3.resetCounts();
    r = await cli(p, ['push', 'production', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.targets[0].pushed.map((x: any) => x.id)).toEqual(ids);
    // the packs of the killed run were reused: no pack went up again
    expect(s3.requests().filter((q) => q.method === 'PUT' && q.url.includes('/packs/'))).toEqual([]);
    r = await cli(p, ['verify', 'production', '--remote', '--read-data', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.results[0]).toMatchObject({ id: ids[0], ok: true });
  } finally {
    p.cleanup();
  }
});

test('a server that answers 500 is retried; one that stops mid-upload is exit 6 with a clear message, nothing half-visible, and a later push completes', async () => {
  const { p, ids } = await projectWithBackups('faults', 1);
  try {
    s3.answer({ times: 2, status: 500, code: 'InternalError', method: 'PUT', match: (q) => (q.url ?? '').includes('/packs/') });
    let r = await cli(p, ['push', 'production', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.targets[0].pushed.map((x: any) => x.id)).toEqual(ids);
    s3.clearFaults();

    const second = await backupTarget(p.config(), 'production', { clock: manualClock(day(1)) });
    await execSql(p.db, "INSERT INTO tracks (album_id, title, duration_ms, plays, added_at) SELECT 1, 'x' || i, 1, 0, TIMESTAMP '2024-02-01' FROM range(0, 3000) t(i);");
    const third = await backupTarget(p.config(), 'production', { clock: manualClock(day(2)) });
    const stopped = s3.stopAfterBytes(64 * 1024);
    r = await cli(p, ['push', 'production']);
    await stopped;
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/remote\.endpoint|dropped|cannot reach/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    await s3.resume();
    r = await cli(p, ['list', 'production', '--remote', '--json']);
    // whatever was published is complete: verify --read-data passes for all of it
    const listed = r.json.backups.map((b: any) => b.id);
    expect(listed).toContain(ids[0]);
    r = await cli(p, ['verify', 'production', '--remote', '--all', '--read-data', '--json']);
    expect(r.code).toBe(0);

    r = await cli(p, ['push', 'production', '--json']);
    expect(r.code).toBe(0);
    r = await cli(p, ['list', 'production', '--remote', '--json']);
    expect(r.json.backups.map((b: any) => b.id)).toEqual([third.id, second.id, ids[0]]);
  } finally {
    s3.clearFaults();
    p.cleanup();
  }
});

test('no remote configured is exit 3 naming remote.url; another tool\'s objects are refused and never touched', async () => {
  const { p } = await projectWithBackups('foreign', 1);
  try {
    fs.writeFileSync(p.configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(p.configFile, 'utf8')), remote: null }));
    let r = await cli(p, ['push', 'production']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('remote.url');

    fs.writeFileSync(p.configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(p.configFile, 'utf8')), remote: remoteOf('foreign') }));
    await raw('foreign').put('data/00/restic-object', Buffer.from('not ours'));
    s3.resetCounts();
    r = await cli(p, ['push', 'production']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('another tool');
    expect(s3.requests().filter((q) => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([]);
    expect((await raw('foreign').list('')).map((o) => o.key)).toEqual(['data/00/restic-object']);
  } finally {
    p.cleanup();
  }
});

test('a missing bucket is exit 3 naming remote.url; a bucket without write permission is exit 6 naming the permission, and nothing is published', async () => {
  const { p } = await projectWithBackups('perm', 1);
  try {
    const config = JSON.parse(fs.readFileSync(p.configFile, 'utf8'));
    fs.writeFileSync(p.configFile, JSON.stringify({ ...config, remote: { ...remoteOf('perm'), url: 's3://no-such-bucket/x' } }));
    let r = await cli(p, ['push', 'production']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('remote.url');
    expect(hasStackTrace(r.stderr)).toBe(false);

    fs.writeFileSync(p.configFile, JSON.stringify(config));
    s3.answer({ times: 1000, status: 403, code: 'AccessDenied', method: 'PUT' });
    r = await cli(p, ['push', 'production', '--json']);
    expect(r.code).toBe(6);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!).error;
    expect(err.message).toContain('permission denied');
    expect(err.hint).toContain('s3:PutObject');
    s3.clearFaults();
    expect(await raw('perm').list('snapshots/')).toEqual([]);
  } finally {
    s3.clearFaults();
    p.cleanup();
  }
});
