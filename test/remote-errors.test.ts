/**
 * S3 failures against a real server (s3rver behind the fault proxy of
 * helpers/s3.ts): each one is a dbguard error naming the setting to fix,
 * with its exit code; 500s and dropped connections are retried; a server
 * that dies mid-upload leaves nothing visible under the key.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, InterruptedError, StorageError } from '../src/core/errors';
import { mapRemoteError } from '../src/remote/errors';
import { openRemoteBackend } from '../src/remote/open';
import { S3Backend, type RemoteConfig, type S3BackendOptions } from '../src/remote/s3-backend';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

let s3: TestS3;
beforeAll(async () => { s3 = await startS3(['err-test']); });
afterAll(async () => { await s3?.close(); });
beforeEach(() => { s3.resetCounts(); s3.clearFaults(); });

const FAST: S3BackendOptions = { backoffMs: 5, sdkAttempts: 2, attempts: 3 };
const remote = (over: Partial<RemoteConfig> = {}): RemoteConfig => ({ url: 's3://err-test/e', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, encryption: false, auto: false, ...over });
const backend = (over: Partial<RemoteConfig> = {}, opts: S3BackendOptions = {}, env: Record<string, string> = S3_TEST_ENV) => new S3Backend(remote(over), { ...env }, { ...FAST, ...opts });
const puts = () => s3.requests().filter((r) => r.method === 'PUT').length;

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('a wrong endpoint is a StorageError (exit 6) naming remote.endpoint', async () => {
  const b = backend({ endpoint: `http://127.0.0.1:${await closedPort()}` });
  const err = await b.put('config.json', Buffer.from('{}')).catch((e) => e);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.exitCode).toBe(6);
  expect(err.message).toMatch(/cannot reach the S3 service of s3:\/\/err-test\/e at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  expect(err.hint).toContain('remote.endpoint');
  const open = await openRemoteBackend(remote({ endpoint: `http://127.0.0.1:${await closedPort()}` }), { ...S3_TEST_ENV }, { s3: FAST }).catch((e) => e);
  expect(open).toBeInstanceOf(StorageError);
  expect(open.hint).toContain('remote.endpoint');
  b.destroy();
});

test('an unknown host maps to the same remote.endpoint error', () => {
  const err = mapRemoteError(Object.assign(new Error('getaddrinfo ENOTFOUND s3.nowhere.invalid'), { code: 'ENOTFOUND' }), { where: 's3://b/p at s3.nowhere.invalid', op: 'get', key: 'x' });
  expect(err).toBeInstanceOf(StorageError);
  expect(err.hint).toContain('remote.endpoint');
});

test('a bucket that does not exist is a ConfigError (exit 3) naming remote.url, at open and on put', async () => {
  const err = await openRemoteBackend(remote({ url: 's3://no-such-bucket/x' }), { ...S3_TEST_ENV }, { s3: FAST }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.exitCode).toBe(3);
  expect(err.message).toBe('the bucket of s3://no-such-bucket/x at ' + new URL(s3.endpoint).host + ' does not exist');
  expect(err.hint).toContain('remote.url');
  const b = backend({ url: 's3://no-such-bucket/x' });
  const put = await b.put('config.json', Buffer.from('{}')).catch((e) => e);
  expect(put).toBeInstanceOf(ConfigError);
  expect(put.hint).toContain('remote.url');
  b.destroy();
});

test('an unknown access key is a ConfigError naming the credential variables, never showing the secret', async () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const b = backend({}, {}, { AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG', AWS_SECRET_ACCESS_KEY: secret });
  const err = await b.put('x', Buffer.from('x')).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain('InvalidAccessKeyId');
  expect(err.hint).toContain('AWS_ACCESS_KEY_ID');
  expect(err.hint).toContain('AWS_SECRET_ACCESS_KEY');
  expect(`${err.message}${err.hint}`).not.toContain(secret);
  // not retried: a refused key does not get better
  expect(puts()).toBe(1);
  b.destroy();
});

test('a wrong secret (SignatureDoesNotMatch) is the same ConfigError', async () => {
  // s3rver does not verify V4 signatures, so the proxy answers what AWS answers for a wrong secret
  s3.answer({ times: 1, status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' });
  const b = backend();
  const err = await b.get('anything').catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.hint).toContain('AWS_SECRET_ACCESS_KEY');
  b.destroy();
});

test('no write permission (AccessDenied on put) is a StorageError saying the credentials cannot write', async () => {
  s3.answer({ times: 1, status: 403, code: 'AccessDenied', message: 'Access Denied', method: 'PUT' });
  const b = backend();
  const err = await b.put('packs/aa/x.pack', Buffer.from('x')).catch((e) => e);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.exitCode).toBe(6);
  expect(err.message).toBe(`permission denied while writing packs/aa/x.pack in ${b.where}: the credentials cannot write to this bucket`);
  expect(err.hint).toContain('s3:PutObject');
  expect(await b.head('packs/aa/x.pack')).toBeUndefined();
  b.destroy();
});

test('no checksum headers are sent, so a provider that rejects them accepts our puts; if it rejects anyway the error says so', async () => {
  const hasChecksum = (req: http.IncomingMessage) => Object.keys(req.headers).some((h) => /^x-amz-(checksum-|sdk-checksum|trailer)/.test(h)) || /aws-chunked/.test(String(req.headers['content-encoding'] ?? ''));
  s3.answer({ times: 1000, status: 400, code: 'InvalidArgument', message: 'x-amz-checksum-crc32 header is not supported', match: hasChecksum });
  const b = backend({}, { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
  await b.put('small', Buffer.from('small object'));
  await b.put('big', crypto.randomBytes(7 * 1024 * 1024));
  expect((await b.head('big'))!.bytes).toBe(7 * 1024 * 1024);
  await b.delete('small');
  expect(s3.requests().filter((r) => Object.keys(r.headers).some((h) => h.startsWith('x-amz-checksum') || h === 'x-amz-sdk-checksum-algorithm'))).toEqual([]);

  s3.answer({ times: 1, status: 400, code: 'InvalidArgument', message: 'x-amz-checksum-crc32 header is not supported', method: 'PUT' });
  const err = await b.put('again', Buffer.from('x')).catch((e) => e);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.message).toContain('rejected the request\'s checksum headers');
  expect(err.hint).toContain('remote.endpoint');
  b.destroy();
});

test('a server answering 500 a few times is retried to success', async () => {
  s3.answer({ times: 4, status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.', method: 'PUT' });
  const b = backend();
  const data = crypto.randomBytes(2000);
  await b.put('packs/dd/r.pack', data);
  expect(puts()).toBe(5);
  expect(Buffer.compare(await b.get('packs/dd/r.pack'), data)).toBe(0);
  b.destroy();
});

test('a server answering 500 every time is a StorageError (exit 6) after the retries', async () => {
  s3.answer({ times: 100, status: 503, code: 'ServiceUnavailable', message: 'Please reduce your request rate.', method: 'PUT' });
  const b = backend();
  const err = await b.put('packs/dd/never.pack', Buffer.from('x')).catch((e) => e);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.exitCode).toBe(6);
  expect(err.message).toContain('failed while writing packs/dd/never.pack (ServiceUnavailable) after 6 attempts');
  expect(puts()).toBe(6);
  b.destroy();
});

test('connections dropped mid-upload are retried to success', async () => {
  const b = backend({}, { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
  const data = crypto.randomBytes(6 * 1024 * 1024 + 10);
  s3.dropConnections(2, 64 * 1024);
  await b.put('packs/ee/drop.pack', data);
  const back = await b.get('packs/ee/drop.pack');
  expect(back.equals(data)).toBe(true);
  expect(s3.bytesReceived()).toBeGreaterThan(data.length);
  b.destroy();
});

test('a server that stops mid-upload is a StorageError (exit 6), and nothing is visible under the key', async () => {
  const b = backend({ url: 's3://err-test/stop' }, { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024, queueSize: 1 });
  const data = crypto.randomBytes(11 * 1024 * 1024);
  const stopped = s3.stopAfterBytes(7 * 1024 * 1024);
  const err = await b.put('packs/ff/stop.pack', data).catch((e) => e);
  await stopped;
  expect(err).toBeInstanceOf(StorageError);
  expect(err.exitCode).toBe(6);
  expect(err.message).toMatch(/packs\/ff\/stop\.pack|cannot reach/);
  expect(err.hint).toMatch(/remote\.endpoint/);
  await s3.resume();
  expect(await b.head('packs/ff/stop.pack')).toBeUndefined();
  expect(await b.list('')).toEqual([]);
  // a plain PutObject cut mid-body leaves nothing either
  const small = crypto.randomBytes(1024 * 1024);
  const stopped2 = s3.stopAfterBytes(256 * 1024);
  const err2 = await b.put('packs/ff/small.pack', small).catch((e) => e);
  await stopped2;
  expect(err2).toBeInstanceOf(StorageError);
  await s3.resume();
  expect(await b.head('packs/ff/small.pack')).toBeUndefined();
  await b.put('packs/ff/small.pack', small);
  expect((await b.get('packs/ff/small.pack')).equals(small)).toBe(true);
  b.destroy();
});

test('an abort mid-upload is an InterruptedError (exit 130) and leaves nothing under the key', async () => {
  const b = backend({ url: 's3://err-test/abort' }, { multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024, queueSize: 1 });
  const ac = new AbortController();
  const data = crypto.randomBytes(11 * 1024 * 1024);
  const p = b.put('packs/gg/abort.pack', data, ac.signal).catch((e) => e);
  // abort once the first part has started to arrive
  const started = Date.now();
  while (s3.bytesReceived() < 1024 * 1024 && Date.now() - started < 20000) await new Promise((r) => setImmediate(r));
  ac.abort();
  const err = await p;
  expect(err).toBeInstanceOf(InterruptedError);
  expect(err.exitCode).toBe(130);
  expect(await b.head('packs/gg/abort.pack')).toBeUndefined();
  b.destroy();
});
