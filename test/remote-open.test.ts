/** openRemoteBackend / probeRemote and the doctor's remote line, against a real S3-compatible server. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../src/core/errors';
import { openRemoteBackend, probeRemote } from '../src/remote/open';
import { S3Backend, type RemoteConfig } from '../src/remote/s3-backend';
import { hasStackTrace, runCliAsync } from './helpers/cli';
import { tempDir, writeConfig } from './helpers/db';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';
import { createSqliteDb } from './helpers/sqlite';

let s3: TestS3;
const t = tempDir('dbguard-remote-open-');
beforeAll(async () => { s3 = await startS3(['open-test']); });
afterAll(async () => { await s3?.close(); t.cleanup(); });

const remote = (over: Partial<RemoteConfig> = {}): RemoteConfig => ({ url: 's3://open-test/p', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, encryption: false, auto: false, ...over });
const FAST = { s3: { backoffMs: 5, sdkAttempts: 2, attempts: 2 } };

test('probeRemote tells an empty location, a dbguard store and another tool\'s objects apart, touching nothing', async () => {
  let p = await probeRemote(remote({ url: 's3://open-test/fresh' }), { ...S3_TEST_ENV }, FAST);
  expect(p).toMatchObject({ ok: true, state: 'empty' });

  const raw = new S3Backend(remote({ url: 's3://open-test/store' }), { ...S3_TEST_ENV });
  await raw.put('config.json', Buffer.from(JSON.stringify({ format: 'dbguard-store/1', encryption: null })));
  p = await probeRemote(remote({ url: 's3://open-test/store' }), { ...S3_TEST_ENV }, FAST);
  expect(p).toMatchObject({ ok: true, state: 'store' });

  const other = new S3Backend(remote({ url: 's3://open-test/restic' }), { ...S3_TEST_ENV });
  await other.put('data/00/0011aabb', Buffer.from('someone else\'s'));
  s3.resetCounts();
  p = await probeRemote(remote({ url: 's3://open-test/restic' }), { ...S3_TEST_ENV }, FAST);
  expect(p).toMatchObject({ ok: false, state: 'foreign', kind: 'config' });
  expect(p.detail).toContain('another tool\'s objects');
  expect(s3.requests().filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
  expect((await other.list('')).map((o) => o.key)).toEqual(['data/00/0011aabb']);
  const opened = await openRemoteBackend(remote({ url: 's3://open-test/restic' }), { ...S3_TEST_ENV }, FAST);
  expect(opened).toMatchObject({ exists: false, foreign: true });
  for (const b of [raw, other, opened.s3]) b.destroy();
});

test('credentials from AWS_PROFILE and a credentials file are used; no credentials at all is a ConfigError naming the variables', async () => {
  const saved = { ...process.env };
  const creds = path.join(t.dir, 'aws-credentials');
  fs.writeFileSync(creds, '[backup]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n');
  try {
    process.env.AWS_SHARED_CREDENTIALS_FILE = creds;
    process.env.AWS_CONFIG_FILE = path.join(t.dir, 'no-aws-config');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[k];
    const opened = await openRemoteBackend(remote(), { AWS_PROFILE: 'backup' }, FAST);
    await opened.backend.put('x', Buffer.from('via profile'));
    expect((await opened.backend.get('x')).toString()).toBe('via profile');
    opened.s3.destroy();

    fs.rmSync(creds);
    const err = await openRemoteBackend(remote(), {}, FAST).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('no S3 credentials were found');
    expect(err.hint).toContain('AWS_ACCESS_KEY_ID');
    expect(err.hint).toContain('AWS_PROFILE');
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('where names the bucket, prefix and endpoint host, never user info from the endpoint', () => {
  const b = new S3Backend(remote({ url: 's3://open-test/a/b/', endpoint: 'https://user:hunter2@s3.example.com:9000/' }), { ...S3_TEST_ENV });
  expect(b.where).toBe('s3://open-test/a/b');
  expect(b.endpoint).toBe('s3.example.com:9000');
  expect(`${b.where} ${b.endpoint}`).not.toContain('hunter2');
  expect(b.prefix).toBe('a/b/');
  b.destroy();
  expect(() => new S3Backend(remote({ url: 's3://open-test/../x' }), {})).toThrow(ConfigError);
});

describe('doctor', () => {
  const site = path.join(t.dir, 'site');
  beforeAll(() => {
    createSqliteDb(path.join(site, 'data', 'app.db'), { tracks: 10 });
    fs.mkdirSync(path.join(site, 'backups'));
  });
  const doctor = (r: Partial<RemoteConfig>, env: Record<string, string> = {}) => {
    writeConfig(site, { targets: { app: { path: 'data/app.db' } }, remote: { url: 's3://open-test/doctor', endpoint: s3.endpoint, forcePathStyle: true, ...r } });
    return runCliAsync(['doctor', '--json'], { cwd: site, env: { ...S3_TEST_ENV, ...env } });
  };

  test('a reachable remote is an ok "remote" line', async () => {
    const r = await doctor({});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const item = r.json.items.find((i: { check: string }) => i.check === 'remote');
    expect(item).toMatchObject({ ok: true, severity: 'ok' });
    expect(item.detail).toContain('s3://open-test/doctor');
  });

  test('a missing bucket fails the remote line with exit 3 and a fix naming remote.url; the secret never shows', async () => {
    const r = await doctor({ url: 's3://no-such-bucket/x' }, { AWS_SECRET_ACCESS_KEY: 'S3RVER-secret-value' });
    expect(r.code).toBe(3);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
    const item = r.json.items.find((i: { check: string }) => i.check === 'remote');
    expect(item).toMatchObject({ ok: false, severity: 'error', kind: 'config' });
    expect(item.fix).toContain('remote.url');
    expect(r.stdout + r.stderr).not.toContain('S3RVER-secret-value');
  });

  test('encryption without DBGUARD_REMOTE_KEY fails the remote line naming it', async () => {
    const r = await doctor({ url: 's3://open-test/doctor-enc', encryption: true });
    expect(r.code).toBe(3);
    const item = r.json.items.find((i: { check: string }) => i.check === 'remote');
    expect(item.detail).toContain('DBGUARD_REMOTE_KEY is not set');
  });
});
