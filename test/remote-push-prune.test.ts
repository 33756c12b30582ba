/**
 * prune --remote while another push runs (two real processes, a real
 * S3-compatible server): the push is held just before its re-check, after
 * it uploaded its packs and took blocks it reuses from packs that only the
 * backup the prune removes still needed. The prune removes that backup but
 * deletes no object while the push holds its lock. Then a collect that was
 * already under way when the push started (run here directly) deletes those
 * packs; released, the push finds them gone, stores them again and
 * publishes. Afterwards every remote backup verifies with --read-data, and a
 * prune with no push running collects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { push } from '../src/ops/push';
import { S3Backend } from '../src/remote/s3-backend';
import { Store } from '../src/storage/store';
import { makeProject, manualClock, type Project } from './helpers/backup';
import { runCliAsync, startCli } from './helpers/cli';
import { execSql } from './helpers/db';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

const BUCKET = 'prune-test';
const day = (n: number) => new Date(2024, 0, 1 + n, 2, 0, 0);
// small packs, so that the blocks only the oldest backup has lie in packs of their own
const ENV = { ...S3_TEST_ENV, DBGUARD_TEST_REMOTE_FAST: '1', DBGUARD_TEST_PACK_BYTES: String(64 * 1024) };

let s3: TestS3;
let p: Project;
beforeAll(async () => {
  s3 = await startS3([BUCKET]);
  p = await makeProject(1, { remote: { url: `s3://${BUCKET}/shared`, endpoint: s3.endpoint, forcePathStyle: true } });
});
afterAll(async () => { p?.cleanup(); await s3?.close(); });

const raw = () => new S3Backend({ url: `s3://${BUCKET}/shared`, endpoint: s3.directEndpoint, forcePathStyle: true, region: 'us-east-1', encryption: false, auto: false }, { ...S3_TEST_ENV });

/** Resolves once the provider's clock is `ms` past `after` (its LastModified of a probe object), so "older than the push" is a fact, not a race. */
async function providerClockPast(after: Date, ms: number): Promise<void> {
  const b = raw();
  try {
    for (;;) {
      await b.put('probe/clock', Buffer.from('t'));
      const at = (await b.head('probe/clock'))!.modifiedAt;
      if (at.getTime() >= after.getTime() + ms) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await b.delete('probe/clock');
    b.destroy();
  }
}

test('prune --remote beside a running push deletes no object; a collect already under way is caught by the push re-check; every remote backup verifies with --read-data', async () => {
  const saved = path.join(p.dir, 'day0.duckdb');
  const a0 = await backupTarget(p.config(), 'production', { clock: manualClock(day(0)) });
  fs.copyFileSync(p.db, saved);
  await execSql(p.db, "UPDATE tracks SET title = title || ' (remastered)' WHERE id % 3 = 0;");
  const a1 = await backupTarget(p.config(), 'production', { clock: manualClock(day(1)) });
  // day 2 is day 0 again: its blocks are the ones only a0 has on the remote
  fs.copyFileSync(saved, p.db);
  const b = await backupTarget(p.config(), 'production', { clock: manualClock(day(2)) });

  const first = await push(p.config(), 'production', { env: ENV, only: [a0.id, a1.id] });
  expect(first[0]).toMatchObject({ ok: true });
  expect(first[0]!.pushed.map((x) => x.id)).toEqual([a0.id, a1.id]);
  const listed = await raw().list('packs/');
  await providerClockPast(new Date(Math.max(...listed.map((o) => o.modifiedAt.getTime()))), 1500);

  const pusher = startCli(['push', 'production', '--json'], { cwd: p.dir, env: { ...ENV, DBGUARD_TEST_FAIL_AT: 'push-recheck=PAUSE' } });
  await pusher.stderrIncludes('paused at push-recheck');
  const before = (await raw().list('')).map((o) => o.key).sort();
  const dry = await runCliAsync(['prune', 'production', '--remote', '--keep', '1', '--dry-run', '--json'], { cwd: p.dir, env: ENV });
  expect(dry.code).toBe(0);
  expect(dry.json.targets[0].removed.map((x: any) => x.id)).toEqual([a0.id]);
  expect((await raw().list('')).map((o) => o.key).sort()).toEqual(before);
  const pruned = await runCliAsync(['prune', 'production', '--remote', '--keep', '1', '--json'], { cwd: p.dir, env: ENV });
  expect(pruned.stderr).toBe('');
  expect(pruned.code).toBe(0);
  expect(pruned.json.targets[0].removed.map((x: any) => x.id)).toEqual([a0.id]);
  // the push holds the remote: nothing is deleted, and the prune says why
  expect(pruned.json.remote.deletedPacks).toEqual([]);
  expect(pruned.json.remote.repackedPacks).toEqual([]);
  expect(pruned.json.remote.problems.join('\n')).toMatch(/another dbguard run holds the remote \(push production/);
  const afterPrune = (await raw().list('')).map((o) => o.key).filter((k) => !k.startsWith('locks/')).sort();
  expect(afterPrune).toEqual(before.filter((k) => !k.startsWith('locks/') && !k.includes(a0.id)));

  // a collect already under way when the push read the index: it deletes the packs only a0 needed
  const under = raw();
  const early = await (await Store.open(under)).collect({ lock: false, keepNewerThan: new Date(Math.max(...listed.map((o) => o.modifiedAt.getTime())) + 1000) });
  under.destroy();
  expect(early.deletedPacks.length + early.repackedPacks.length).toBeGreaterThan(0);

  pusher.child.kill('SIGUSR2');
  const done = await pusher.done;
  expect(done.stderr).not.toContain('error');
  expect(done.code).toBe(0);
  const mine = done.json.targets[0];
  expect(mine.pushed.map((x: any) => x.id)).toEqual([b.id]);
  // the blocks the prune removed went up again before publication
  expect(mine.pushed[0].newBytes).toBeGreaterThan(0);

  const verified = await runCliAsync(['verify', 'production', '--remote', '--all', '--read-data', '--json'], { cwd: p.dir, env: ENV });
  expect(verified.code).toBe(0);
  expect(verified.json.results.map((r: any) => [r.id, r.ok])).toEqual([[b.id, true], [a1.id, true]]);

  const later = await runCliAsync(['prune', 'production', '--remote', '--keep', '2', '--json'], { cwd: p.dir, env: ENV });
  expect(later.code).toBe(0);
  expect(later.json.remote.problems).toEqual([]);
});
