/**
 * The remote store lock (remote/remote-lock.ts) on a LocalBackend, which has
 * the same ObjectBackend contract as S3 (times are the objects' modification
 * times): a live lock of another host blocks the exclusive lock, one not
 * rewritten for the stale time is removed, one of a dead PID on this host
 * too, and a held lock is rewritten (its heartbeat) while it is held.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { BusyError } from '../src/core/errors';
import { listRemoteLocks, RemoteStoreLocker } from '../src/remote/remote-lock';
import { LocalBackend } from '../src/storage/store';
import { deadPid } from './helpers/backup';
import { tempDir } from './helpers/db';
import { waitFor } from './helpers/daemon';

const t = tempDir('dbguard-remote-lock-');
afterAll(() => t.cleanup());

const lockOf = (host: string, pid: number) => Buffer.from(JSON.stringify({ pid, host, command: 'push production', startedAt: new Date().toISOString() }));

test('another host\'s live lock blocks the exclusive lock; stale ones (not refreshed, or a dead PID here) are removed', async () => {
  const b = new LocalBackend(`${t.dir}/a`);
  const locker = new RemoteStoreLocker(b, 60000, 30 * 60000);
  await b.put('locks/shared-111-aaaaaaaa.json', lockOf('elsewhere', 111));
  const err = await locker.exclusive('prune').catch((e) => e);
  expect(err).toBeInstanceOf(BusyError);
  expect(err.message).toContain('push production, PID 111 on elsewhere');
  const shared = await locker.shared('push staging');
  await shared.release();

  // not rewritten for 31 minutes: its run died on the other host
  const old = new Date(Date.now() - 31 * 60000);
  fs.utimesSync(b.pathOf('locks/shared-111-aaaaaaaa.json'), old, old);
  await b.put('locks/shared-222-bbbbbbbb.json', lockOf(os.hostname(), deadPid()));
  const live = await listRemoteLocks(b, new Date());
  expect(live.filter((l) => l.live)).toEqual([]);
  const ex = await locker.exclusive('prune');
  expect((await b.list('locks/')).map((o) => o.key)).toEqual([ex.where.slice(b.where.length + 1)]);
  await ex.release();
  expect(await b.list('locks/')).toEqual([]);
});

test('a held lock is rewritten every refresh period and removed on release', async () => {
  const b = new LocalBackend(`${t.dir}/b`);
  const lock = await new RemoteStoreLocker(b, 50).shared('push production');
  const key = lock.where.slice(b.where.length + 1);
  const first = (await b.head(key))!.modifiedAt.getTime();
  await waitFor('a refresh of the lock object', async () => ((await b.head(key))?.modifiedAt.getTime() ?? 0) > first);
  const [entry] = await listRemoteLocks(b, new Date());
  expect(entry).toMatchObject({ key, kind: 'shared', live: true, info: { command: 'push production', pid: process.pid } });
  await lock.release();
  expect(await b.list('locks/')).toEqual([]);
});
