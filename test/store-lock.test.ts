/**
 * The store lock: shared holders (real processes) ingest into one store at
 * once; the exclusive lock (collect) is refused while a shared holder lives,
 * and the reverse; locks of dead processes are taken over.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError } from '../src/core/errors';
import { LocalBackend, ObjectStoreLocker } from '../src/storage/store';
import { deadPid } from './helpers/backup';
import { tempDir } from './helpers/db';
import { openStore, runStoreChild, type StoreChild } from './helpers/store';

const t = tempDir('dbguard-store-lock-');
afterAll(() => t.cleanup());
let n = 0;
const fresh = () => { const d = path.join(t.dir, `case${++n}`); fs.mkdirSync(d); return d; };
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

async function holdShared(root: string): Promise<StoreChild> {
  const c = runStoreChild(['hold-shared', root]);
  await new Promise<void>((resolve, reject) => {
    c.child.stdout!.on('data', () => { if (c.stdout().includes('locked')) resolve(); });
    c.child.on('close', () => reject(new Error(`hold-shared ended early: ${c.stderr()}`)));
  });
  return c;
}

test('two processes ingest different files into one store at once; both snapshots rebuild', async () => {
  const dir = fresh();
  const root = path.join(dir, 'store');
  const store = await openStore(root);
  const data = { a: crypto.randomBytes(3 << 20), b: crypto.randomBytes(3 << 20) };
  for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(dir, `${k}.bin`), v);
  const holder = await holdShared(root); // a third shared holder for the whole time: shared locks never exclude each other
  try {
    const runs = ['a', 'b'].map((k) => runStoreChild(['ingest', root, path.join(dir, `${k}.bin`), k === 'a' ? 'production' : 'staging', `${k}_1.bin`, String(1 << 20)]));
    const exits = await Promise.all(runs.map((r) => r.exit));
    expect(exits.map((e, i) => [e.code, runs[i]!.stderr()])).toEqual([[0, ''], [0, '']]);
  } finally {
    holder.child.stdin!.end();
    await holder.exit;
  }
  const snaps = await store.snapshots();
  expect(snaps.map((s) => `${s.target}/${s.fileName}`).sort()).toEqual(['production/a_1.bin', 'staging/b_1.bin']);
  for (const s of snaps) {
    const out = path.join(dir, `out-${s.fileName}`);
    await store.materialise(s, out);
    expect(sha(fs.readFileSync(out))).toBe(sha(data[s.fileName[0] as 'a' | 'b']));
  }
  expect((await store.check({ readData: true })).ok).toBe(true);
  expect(fs.readdirSync(path.join(root, 'locks'))).toEqual([]);
});

test('the exclusive lock and collect are refused (exit 5, naming the holder) while a shared holder lives; then they work', async () => {
  const root = path.join(fresh(), 'store');
  const store = await openStore(root);
  const holder = await holdShared(root);
  try {
    const err = await store.lockExclusive('collect').then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(BusyError);
    expect(err).toMatchObject({ exitCode: 5, pid: holder.child.pid });
    expect(err.message).toContain(`test hold, PID ${holder.child.pid} on ${os.hostname()}`);
    expect(err.message).toContain(path.join(root, 'locks'));
    await expect(store.collect()).rejects.toBeInstanceOf(BusyError);
    expect(fs.readdirSync(path.join(root, 'locks')).filter((f) => f.startsWith('exclusive'))).toEqual([]);
    const shared = await store.lockShared('another backup');
    await shared.release();
  } finally {
    holder.child.stdin!.end();
    await holder.exit;
  }
  const lock = await store.lockExclusive('collect');
  expect(lock.kind).toBe('exclusive');
  const file = path.join(root, 'locks', 'exclusive.json');
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, host: os.hostname(), command: 'collect', startedAt: expect.any(String) });
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  await lock.release();
  await lock.release();
  expect(fs.readdirSync(path.join(root, 'locks'))).toEqual([]);
});

test('a shared lock (another process\'s backup) is refused while the exclusive lock is held', async () => {
  const dir = fresh();
  const root = path.join(dir, 'store');
  const store = await openStore(root);
  fs.writeFileSync(path.join(dir, 'f.bin'), crypto.randomBytes(1000));
  const lock = await store.lockExclusive('collect');
  try {
    const child = runStoreChild(['ingest', root, path.join(dir, 'f.bin'), 'p', 'f_1.bin', '0']);
    expect((await child.exit).code).toBe(5);
    expect(child.stderr()).toContain(`exclusive lock of another dbguard run (collect, PID ${process.pid}`);
  } finally {
    await lock.release();
  }
  expect(await store.snapshots()).toEqual([]);
});

test('locks of dead processes are taken over; an unreadable lock entry is busy and named', async () => {
  const root = path.join(fresh(), 'store');
  const store = await openStore(root);
  const locks = path.join(root, 'locks');
  fs.mkdirSync(locks, { recursive: true });
  const dead = deadPid();
  const info = { pid: dead, host: os.hostname(), command: 'backup', startedAt: '2024-01-01T00:00:00.000Z' };
  fs.writeFileSync(path.join(locks, `shared-${dead}-0a0b0c0d.json`), JSON.stringify(info));
  fs.writeFileSync(path.join(locks, 'exclusive.json'), JSON.stringify({ ...info, command: 'collect' }));
  const lock = await store.lockExclusive('collect');
  expect(lock.tookOverFrom.map((i) => i.command).sort()).toEqual(['backup', 'collect']);
  expect(fs.readdirSync(locks)).toEqual(['exclusive.json']);
  await lock.release();

  fs.writeFileSync(path.join(locks, 'shared-1-deadbeef.json'), 'garbage');
  const err = await store.lockExclusive('collect').then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(BusyError);
  expect(err.message).toContain(path.join(locks, 'shared-1-deadbeef.json'));
});

test('the object-store locker (lock objects on any backend) keeps the same rules', async () => {
  const backend = new LocalBackend(path.join(fresh(), 'objects'));
  const locker = new ObjectStoreLocker(backend);
  const s1 = await locker.shared('backup');
  const s2 = await locker.shared('backup');
  await expect(locker.exclusive('collect')).rejects.toBeInstanceOf(BusyError);
  await s1.release();
  await s2.release();
  const x = await locker.exclusive('collect');
  await expect(locker.shared('backup')).rejects.toBeInstanceOf(BusyError);
  await expect(locker.exclusive('collect')).rejects.toBeInstanceOf(BusyError);
  expect((await backend.list('locks/')).map((o) => o.key)).toEqual([expect.stringMatching(/^locks\/exclusive-\d+-[0-9a-f]{8}\.json$/)]);
  await x.release();
  expect(await backend.list('locks/')).toEqual([]);
});

test('racing processes: an exclusive holder is never inside together with any other holder', async () => {
  const dir = fresh();
  const root = path.join(dir, 'store');
  await openStore(root);
  const marks = path.join(dir, 'marks');
  fs.mkdirSync(marks);
  const kinds = ['exclusive', 'exclusive', 'exclusive', 'shared', 'shared'];
  const runs = kinds.map((k) => runStoreChild(['probe', root, marks, k, '40']));
  const exits = await Promise.all(runs.map((r) => r.exit));
  expect(exits.map((e, i) => [e.code, runs[i]!.stderr()])).toEqual(kinds.map(() => [0, '']));
  const results = runs.map((r) => JSON.parse(r.stdout()) as { got: number; busy: number });
  expect(results.every((r) => r.got > 0 && r.got + r.busy >= 40)).toBe(true); // each had its lock, not only refusals
  expect(fs.readdirSync(path.join(root, 'locks'))).toEqual([]);
});
