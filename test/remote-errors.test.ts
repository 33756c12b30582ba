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
  expect(err.message).toMatch(/^cannot reach the S3 service at 127\.0\.0\.1:\d+ for s3:\/\/err-test\/e \(ECONNREFUSED\)/);
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

test('an untrusted TLS certificate names remote.endpoint and NODE_EXTRA_CA_CERTS', () => {
  const err = mapRemoteError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), { where: 's3://b/p', endpoint: 'minio.lan:9000', op: 'put', key: 'x' });
  expect(err).toBeInstanceOf(StorageError);
  expect(err.message).toBe('the TLS certificate of the S3 service at minio.lan:9000 for s3://b/p is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)');
  expect(err.hint).toContain('NODE_EXTRA_CA_CERTS');
});

test('a bucket that does not exist is a ConfigError (exit 3) naming remote.url, at open and on put', async () => {
  const err = await openRemoteBackend(remote({ url: 's3://no-such-bucket/x' }), { ...S3_TEST_ENV }, { s3: FAST }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.exitCode).toBe(3);
  expect(err.message).toBe(`the bucket of s3://no-such-bucket/x does not exist at ${new URL(s3.endpoint).host}`);
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
  // at open, HeadBucket's answer has no body to say why: the message names both causes
  const open = await openRemoteBackend(remote(), { AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG', AWS_SECRET_ACCESS_KEY: secret }, { s3: FAST }).catch((e) => e);
  expect(open).toBeInstanceOf(ConfigError);
  expect(open.message).toBe(`the S3 service at ${new URL(s3.endpoint).host} refused access to the bucket of s3://err-test/e (HTTP 403)`);
  expect(open.hint).toContain('AWS_SECRET_ACCESS_KEY');
  expect(`${open.message}${open.hint}`).not.toContain(secret);
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
  expect(err.message).toContain('failed while writing packs/dd/never.pack in s3://err-test/e (ServiceUnavailable) after 6 attempts');
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
  await s3.whenReceived(1024 * 1024);
  ac.abort();
  const err = await p;
  expect(err).toBeInstanceOf(InterruptedError);
  expect(err.exitCode).toBe(130);
  expect(await b.head('packs/gg/abort.pack')).toBeUndefined();
  b.destroy();
});

test('a download cut mid-body is retried and returns the whole object', async () => {
  const b = backend({ url: 's3://err-test/dl' });
  const data = crypto.randomBytes(3 * 1024 * 1024);
  await b.put('packs/hh/dl.pack', data);
  s3.resetCounts();
  s3.dropResponses(2, 512 * 1024);
  const back = await b.get('packs/hh/dl.pack');
  expect(back.equals(data)).toBe(true);
  expect(s3.requests().filter((r) => r.method === 'GET').length).toBe(3);
  expect(s3.bytesSent()).toBeGreaterThan(data.length);
  b.destroy();
});

test('a service that accepts and never answers times out, is retried, then is a StorageError (exit 6)', async () => {
  const b = backend({ url: 's3://err-test/hang' }, { idleTimeoutMs: 300 });
  s3.hang(1);
  await b.put('x', Buffer.from('after one hang'));
  expect((await b.get('x')).toString()).toBe('after one hang');
  s3.hang(100);
  const err = await b.put('y', Buffer.from('never')).catch((e) => e);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.exitCode).toBe(6);
  expect(err.message).toContain('dropped while writing y');
  s3.clearFaults();
  expect(await b.head('y')).toBeUndefined();
  b.destroy();
});

test('messages never carry a URL\'s user info, whatever the SDK said', () => {
  const err = mapRemoteError(Object.assign(new Error('bad gateway at https://AKIAEXAMPLE:hunter2@s3.example.com/b?X-Amz-Signature=abc123'), { name: 'BadGateway', $metadata: { httpStatusCode: 400 } }), { where: 's3://b/p', op: 'get', key: 'k' });
  expect(err.message).not.toContain('hunter2');
  expect(err.message).not.toContain('abc123');
  expect(err.message).toContain('[redacted]');
});

test('a process killed -9 mid multipart upload leaves nothing visible under the key', async () => {
  // a real child process (the built dist/) doing the upload, killed while its second part is on the way
  const script = `
    const { S3Backend } = require(${JSON.stringify(require('node:path').resolve(__dirname, '../dist/remote/s3-backend.js'))});
    const b = new S3Backend({ url: 's3://err-test/kill', endpoint: process.env.EP, region: 'us-east-1', forcePathStyle: true, encryption: false, auto: false }, process.env, { multipartThreshold: 6 << 20, partSize: 5 << 20, queueSize: 1 });
    b.put('packs/kk/kill.pack', require('node:crypto').randomBytes(11 << 20)).then(() => console.log('finished'));`;
  const child = require('node:child_process').spawn(process.execPath, ['-e', script], { env: { ...process.env, ...S3_TEST_ENV, EP: s3.endpoint }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c: number | null, sig: NodeJS.Signals | null) => r(sig)));
  await s3.whenReceived(6 * 1024 * 1024);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(out).not.toContain('finished');
  const b = backend({ url: 's3://err-test/kill' });
  expect(await b.head('packs/kk/kill.pack')).toBeUndefined();
  expect(await b.list('')).toEqual([]);
  b.destroy();
});
