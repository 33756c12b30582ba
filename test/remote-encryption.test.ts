/** EncryptedBackend over a real S3-compatible server: round trips, the key check, wrong and missing keys, and what the provider sees. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, IntegrityError } from '../src/core/errors';
import { ENC_OVERHEAD_BYTES, EncryptedBackend, keyMatches, makeKeyCheck, seal, unseal } from '../src/remote/encrypted-backend';
import { openRemoteBackend } from '../src/remote/open';
import { S3Backend, type RemoteConfig } from '../src/remote/s3-backend';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

let s3: TestS3;
beforeAll(async () => { s3 = await startS3(['enc-test']); });
afterAll(async () => { await s3?.close(); });

const HEX_KEY = crypto.randomBytes(32).toString('hex');
const PASSPHRASE = 'correct horse battery staple';
const MARKER = 'customers_private_table_7f3a';

const remote = (prefix: string, encryption = true): RemoteConfig => ({ url: `s3://enc-test/${prefix}`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, encryption, auto: false });
const env = (key?: string) => ({ ...S3_TEST_ENV, ...(key !== undefined ? { DBGUARD_REMOTE_KEY: key } : {}) });

/** Writes the store's plaintext config.json as the Store does at creation, with the backend's `encryption` member. */
async function createStore(prefix: string, key: string) {
  const opened = await openRemoteBackend(remote(prefix), env(key), { s3: { backoffMs: 10 } });
  expect(opened.exists).toBe(false);
  await opened.backend.put('config.json', Buffer.from(JSON.stringify({ format: 'dbguard-store/1', createdAt: new Date().toISOString(), hash: 'sha256', encryption: opened.encryption })));
  return opened;
}

/** Every file s3rver keeps, with its bytes: the provider's view. */
function providerFiles(): { file: string; bytes: Buffer }[] {
  const out: { file: string; bytes: Buffer }[] = [];
  const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else out.push({ file: p, bytes: fs.readFileSync(p) }); } };
  walk(s3.dir);
  return out;
}

test.each([
  ['a 64-hex-digit key', HEX_KEY, 'none'],
  ['a base64 key', crypto.randomBytes(32).toString('base64'), 'none'],
  ['a passphrase (scrypt)', PASSPHRASE, 'scrypt'],
])('round trip with %s, reopened from config.json', async (_what, key, kdf) => {
  const prefix = `rt-${kdf}-${crypto.randomBytes(3).toString('hex')}`;
  const first = await createStore(prefix, key);
  expect(first.encryption!.kdf.name).toBe(kdf);
  const data = Buffer.concat([Buffer.from(MARKER), crypto.randomBytes(5000)]);
  await first.backend.put('packs/aa/p1.pack', data);
  first.s3.destroy();

  const again = await openRemoteBackend(remote(prefix), env(key));
  expect(again.exists).toBe(true);
  expect(Buffer.compare(await again.backend.get('packs/aa/p1.pack'), data)).toBe(0);
  // head and list give the stored (sealed) size: plaintext + 14-byte header + 12-byte nonce + 16-byte tag
  expect((await again.backend.head('packs/aa/p1.pack'))!.bytes).toBe(data.length + 42);
  expect(ENC_OVERHEAD_BYTES).toBe(42);
  expect((await again.backend.list('packs/')).map((o) => o.key)).toEqual(['packs/aa/p1.pack']);
  again.s3.destroy();
});

test('the provider sees no plaintext: neither the data nor the key, only config.json in clear', async () => {
  const prefix = 'noplain';
  const opened = await createStore(prefix, HEX_KEY);
  await opened.backend.put('snapshots/prod/x.json', Buffer.from(JSON.stringify({ tables: [MARKER] })));
  await opened.backend.put('packs/bb/p.pack', Buffer.from(`${MARKER} `.repeat(1000)));
  const raw = new S3Backend(remote(prefix), env());
  const sealed = await raw.get('packs/bb/p.pack');
  expect(sealed.subarray(0, 14).toString('ascii')).toBe('dbguard-enc/1\n');
  const files = providerFiles().filter((f) => f.file.includes(`${path.sep}${prefix}${path.sep}`));
  expect(files.length).toBeGreaterThanOrEqual(3);
  for (const f of files) {
    expect(f.bytes.includes(Buffer.from(MARKER))).toBe(false);
    expect(f.bytes.includes(Buffer.from(HEX_KEY))).toBe(false);
    expect(f.bytes.includes(Buffer.from(HEX_KEY, 'hex'))).toBe(false);
  }
  const config = JSON.parse((await raw.get('config.json')).toString());
  expect(config.encryption).toMatchObject({ algorithm: 'AES-256-GCM', kdf: { name: 'none' } });
  expect(typeof config.encryption.check).toBe('string');
  raw.destroy();
  opened.s3.destroy();
});

test('a wrong key is a ConfigError at open naming DBGUARD_REMOTE_KEY, never garbage, and never shows a key', async () => {
  const prefix = 'wrongkey';
  const opened = await createStore(prefix, PASSPHRASE);
  await opened.backend.put('index/i.json', Buffer.from('{"blocks":[]}'));
  opened.s3.destroy();
  for (const wrong of ['correct horse battery stapler', crypto.randomBytes(32).toString('hex')]) {
    const err = await openRemoteBackend(remote(prefix), env(wrong)).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('DBGUARD_REMOTE_KEY does not match the key this remote was written with');
    expect(`${err.message} ${err.hint}`).not.toContain(wrong);
    expect(`${err.message} ${err.hint}`).not.toContain(PASSPHRASE);
  }
});

test('an object that does not authenticate is an IntegrityError naming it, never garbage', async () => {
  const prefix = 'tamper';
  const opened = await createStore(prefix, HEX_KEY);
  await opened.backend.put('packs/cc/a.pack', Buffer.from('block a'));
  await opened.backend.put('packs/cc/b.pack', Buffer.from('block b'));
  const raw = new S3Backend(remote(prefix), env());
  // an object moved to another key does not open (the key is authenticated)
  await raw.put('packs/cc/b.pack', await raw.get('packs/cc/a.pack'));
  let err = await opened.backend.get('packs/cc/b.pack').catch((e) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect(err.message).toContain('packs/cc/b.pack');
  // one flipped bit
  const blob = await raw.get('packs/cc/a.pack');
  blob[blob.length - 20]! ^= 1;
  await raw.put('packs/cc/a.pack', blob);
  err = await opened.backend.get('packs/cc/a.pack').catch((e) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect(err.exitCode).toBe(4);
  // an object written without encryption
  await raw.put('packs/cc/plain.pack', Buffer.from('plain bytes'));
  err = await opened.backend.get('packs/cc/plain.pack').catch((e) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect(err.message).toContain('not a dbguard-enc/1 object');
  // a backend built with another key (bypassing the key check) fails the same way
  const other = new EncryptedBackend(raw, crypto.randomBytes(32), opened.encryption!);
  await expect(other.get('packs/cc/plain.pack')).rejects.toBeInstanceOf(IntegrityError);
  raw.destroy();
  opened.s3.destroy();
});

test('a missing or malformed DBGUARD_REMOTE_KEY is a ConfigError naming it', async () => {
  for (const key of [undefined, '', '   ']) {
    const err = await openRemoteBackend(remote('missing'), env(key)).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('DBGUARD_REMOTE_KEY is not set');
    expect(err.hint).toMatch(/lost key means/);
  }
  const short = await openRemoteBackend(remote('short'), env('short')).catch((e) => e);
  expect(short).toBeInstanceOf(ConfigError);
  expect(short.message).toContain('DBGUARD_REMOTE_KEY');
  expect(short.message).not.toContain('"short"');
});

test('remote.encryption that contradicts the store is a ConfigError either way', async () => {
  await createStore('was-encrypted', HEX_KEY).then((o) => o.s3.destroy());
  let err = await openRemoteBackend(remote('was-encrypted', false), env()).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain('remote.encryption is false');

  const plain = await openRemoteBackend(remote('was-plain', false), env());
  await plain.backend.put('config.json', Buffer.from(JSON.stringify({ format: 'dbguard-store/1', encryption: null })));
  plain.s3.destroy();
  err = await openRemoteBackend(remote('was-plain', true), env(HEX_KEY)).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain('created without encryption');
});

test('seal/unseal: fresh nonce per object, key check opens only with its key', () => {
  const key = crypto.randomBytes(32);
  const a = seal(key, 'k', Buffer.from('same'));
  const b = seal(key, 'k', Buffer.from('same'));
  expect(a.equals(b)).toBe(false);
  expect(unseal(key, 'k', a)!.toString()).toBe('same');
  expect(unseal(key, 'other-key', a)).toBeUndefined();
  const check = makeKeyCheck(key);
  expect(keyMatches(key, check)).toBe(true);
  expect(keyMatches(crypto.randomBytes(32), check)).toBe(false);
  expect(keyMatches(key, 'not base64 of anything')).toBe(false);
});
