/** S3Backend conformance against a real S3-compatible server (s3rver on 127.0.0.1), no SDK mock. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S3Backend, type RemoteConfig } from '../src/remote/s3-backend';
import { isMissing } from '../src/storage/store/backend';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

let s3: TestS3;
beforeAll(async () => { s3 = await startS3(['dbguard-test', 'other-bucket']); });
afterAll(async () => { await s3?.close(); });
beforeEach(() => s3.resetCounts());

const remote = (url: string): RemoteConfig => ({ url, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, encryption: false, auto: false });
const backend = (url = 's3://dbguard-test/conf', opts = {}) => new S3Backend(remote(url), { ...S3_TEST_ENV }, { backoffMs: 10, ...opts });

/** Every file under s3rver's folder whose path contains `part`: the provider's own view. */
function serverFiles(part: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (p.includes(part)) out.push(p); } };
  walk(s3.dir);
  return out;
}

test('put, get, head, list and delete round-trip bytes under the prefix', async () => {
  const b = backend();
  const data = crypto.randomBytes(1000);
  await b.put('packs/ab/abc.pack', data);
  await b.put('index/abc.json', Buffer.from('{"a":1}'));
  expect(Buffer.compare(await b.get('packs/ab/abc.pack'), data)).toBe(0);
  const info = await b.head('packs/ab/abc.pack');
  expect(info).toMatchObject({ key: 'packs/ab/abc.pack', bytes: 1000 });
  expect(info!.modifiedAt.getTime()).toBeGreaterThan(Date.now() - 3600_000);
  expect(await b.head('packs/ab/nope.pack')).toBeUndefined();
  expect((await b.list('packs/')).map((o) => o.key)).toEqual(['packs/ab/abc.pack']);
  expect((await b.list('')).map((o) => o.key).sort()).toEqual(['index/abc.json', 'packs/ab/abc.pack']);
  // the provider holds it under the prefix of remote.url
  expect(serverFiles(path.join('dbguard-test', 'conf', 'packs', 'ab')).length).toBeGreaterThan(0);
  await b.delete('packs/ab/abc.pack');
  await b.delete('packs/ab/abc.pack'); // idempotent
  expect(await b.head('packs/ab/abc.pack')).toBeUndefined();
  const err = await b.get('packs/ab/abc.pack').catch((e) => e);
  expect(isMissing(err)).toBe(true);
  expect(b.where).toBe('s3://dbguard-test/conf');
  expect(b.endpoint).toBe(new URL(s3.endpoint).host);
  b.destroy();
});

test('put replaces an object whole', async () => {
  const b = backend();
  await b.put('config.json', Buffer.from('first version, longer'));
  await b.put('config.json', Buffer.from('second'));
  expect((await b.get('config.json')).toString()).toBe('second');
  b.destroy();
});

test('a large object goes up as a multipart upload and comes back byte for byte, without checksum headers', async () => {
  const b = backend('s3://dbguard-test/multi', { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024, queueSize: 2 });
  const data = crypto.randomBytes(11 * 1024 * 1024 + 123);
  await b.put('packs/cd/big.pack', data);
  const reqs = s3.requests();
  expect(reqs.filter((r) => r.method === 'PUT' && /partNumber=/.test(r.url)).length).toBe(3);
  expect(reqs.some((r) => r.method === 'POST' && /uploads/.test(r.url))).toBe(true);
  for (const r of reqs) expect(Object.keys(r.headers).filter((h) => /^x-amz-(checksum|sdk-checksum|trailer)/.test(h))).toEqual([]);
  expect(s3.bytesReceived()).toBeGreaterThanOrEqual(data.length);
  const back = await b.get('packs/cd/big.pack');
  expect(back.length).toBe(data.length);
  expect(crypto.createHash('sha256').update(back).digest('hex')).toBe(crypto.createHash('sha256').update(data).digest('hex'));
  expect((await b.head('packs/cd/big.pack'))!.bytes).toBe(data.length);
  b.destroy();
});

test('two prefixes, and two buckets, are isolated from each other', async () => {
  const a = backend('s3://dbguard-test/host-a');
  const a2 = backend('s3://dbguard-test/host-a2'); // a prefix that starts like the other one
  const c = backend('s3://other-bucket');
  await a.put('snapshots/t1/x.json', Buffer.from('a'));
  await a2.put('snapshots/t1/x.json', Buffer.from('a2'));
  await c.put('snapshots/t1/x.json', Buffer.from('c'));
  expect((await a.get('snapshots/t1/x.json')).toString()).toBe('a');
  expect((await a2.get('snapshots/t1/x.json')).toString()).toBe('a2');
  expect((await c.get('snapshots/t1/x.json')).toString()).toBe('c');
  expect((await a.list('')).map((o) => o.key)).toEqual(['snapshots/t1/x.json']);
  expect((await c.list('snapshots/')).map((o) => o.key)).toEqual(['snapshots/t1/x.json']);
  await a.delete('snapshots/t1/x.json');
  expect((await a2.get('snapshots/t1/x.json')).toString()).toBe('a2');
  expect((await c.get('snapshots/t1/x.json')).toString()).toBe('c');
  for (const b of [a, a2, c]) b.destroy();
});

test('list follows continuation pages', async () => {
  const b = backend('s3://dbguard-test/many', { listPageSize: 3 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => b.put(`index/${i}.json`, Buffer.from('x'))));
  await b.put('packs/00/p.pack', Buffer.from('not in index/'));
  s3.resetCounts();
  const keys = (await b.list('index/')).map((o) => o.key).sort();
  expect(keys).toEqual(Array.from({ length: 10 }, (_, i) => `index/${i}.json`).sort());
  expect(s3.requests().filter((r) => r.method === 'GET').length).toBe(4);
  b.destroy();
});

test('checkBucket passes for an existing bucket', async () => {
  const b = backend();
  await expect(b.checkBucket()).resolves.toBeUndefined();
  b.destroy();
});
