/**
 * The one object two first runs may race to create, a store's config.json,
 * is written with a conditional put (If-None-Match: *) against a real
 * S3-compatible server: a 412 from the service means another run created
 * the store first, and its config.json (its encryption parameters) stands.
 */
import { S3Backend, type RemoteConfig } from '../src/remote/s3-backend';
import { Store } from '../src/storage/store';
import type { ObjectBackend } from '../src/storage/store/backend';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

let s3: TestS3;
beforeAll(async () => { s3 = await startS3(['cond-test']); });
afterAll(async () => { await s3?.close(); });
afterEach(() => s3.clearFaults());

const remote = (url: string): RemoteConfig => ({ url, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, encryption: false, auto: false });
const backend = (url: string) => new S3Backend(remote(url), { ...S3_TEST_ENV }, { backoffMs: 10 });
const isConfigPut = (req: { method?: string; url?: string }) => req.method === 'PUT' && /config\.json(\?|$)/.test(req.url ?? '');

test('putIfAbsent sends If-None-Match: * and creates an absent object', async () => {
  const b = backend('s3://cond-test/a');
  try {
    s3.resetCounts();
    expect(await b.putIfAbsent('config.json', Buffer.from('{"first":true}'))).toBe(true);
    expect((await b.get('config.json')).toString()).toBe('{"first":true}');
    const put = s3.requests().find((r) => isConfigPut(r))!;
    expect(put.headers['if-none-match']).toBe('*');
  } finally {
    b.destroy();
  }
});

test('a 412 from the service is "it exists": false, nothing written, no retry', async () => {
  const b = backend('s3://cond-test/b');
  try {
    s3.answer({ times: 5, status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', match: isConfigPut });
    s3.resetCounts();
    expect(await b.putIfAbsent('config.json', Buffer.from('{"mine":true}'))).toBe(false);
    expect(s3.requests().filter((r) => isConfigPut(r))).toHaveLength(1);
    expect(await b.head('config.json')).toBeUndefined();
  } finally {
    b.destroy();
  }
});

test('Store.open that loses the race to create a store opens the store the other run created', async () => {
  const b = backend('s3://cond-test/c');
  const other = { format: 'dbguard-store/1', createdAt: '2024-01-15T02:00:00.000Z', hash: 'sha256', encryption: null };
  // the other run's config.json lands between our read (absent) and our conditional put, which the service refuses
  const racing: ObjectBackend = {
    where: b.where,
    put: (k, d, s) => b.put(k, d, s),
    get: (k, s) => b.get(k, s),
    head: (k, s) => b.head(k, s),
    list: (p, s) => b.list(p, s),
    delete: (k, s) => b.delete(k, s),
    putIfAbsent: async (k, d, s) => {
      await b.put(k, Buffer.from(JSON.stringify(other)), s);
      s3.answer({ times: 1, status: 412, code: 'PreconditionFailed', match: isConfigPut });
      return b.putIfAbsent(k, d, s);
    },
  };
  try {
    const store = await Store.open(racing, { create: true });
    expect(store.config.createdAt).toBe(other.createdAt);
    expect(JSON.parse((await b.get('config.json')).toString())).toEqual(other);
  } finally {
    b.destroy();
  }
});
