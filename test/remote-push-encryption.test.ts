/**
 * push / restore --remote with remote.encryption through the built CLI and a
 * real S3-compatible server: the right key round-trips the exact rows on a
 * new machine and the provider's files hold no table name or row text; a
 * wrong key is exit 3 with a clear message, and nothing is written to the
 * remote or restored.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupTarget } from '../src/ops/backup';
import { contentOf, makeProject, manualClock, type Project } from './helpers/backup';
import { recorded } from './helpers/blocks';
import { hasStackTrace, runCliAsync } from './helpers/cli';
import { tempDir, writeConfig } from './helpers/db';
import { S3_TEST_ENV, startS3, type TestS3 } from './helpers/s3';

const BUCKET = 'enc-test';
const KEY = crypto.randomBytes(32).toString('hex');
const ENV = { ...S3_TEST_ENV, DBGUARD_TEST_REMOTE_FAST: '1', DBGUARD_REMOTE_KEY: KEY };

let s3: TestS3;
let p: Project;
beforeAll(async () => {
  s3 = await startS3([BUCKET]);
  p = await makeProject(1, { remote: { url: `s3://${BUCKET}/sealed`, endpoint: s3.endpoint, forcePathStyle: true, encryption: true } });
});
afterAll(async () => { p?.cleanup(); await s3?.close(); });

/** Every file s3rver wrote for the bucket, recursively. */
function providerFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? providerFiles(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

test('an encrypted remote round-trips with the right key; a wrong key is exit 3 and changes nothing', async () => {
  const b = await backupTarget(p.config(), 'production', { clock: manualClock(new Date(2024, 0, 1, 2)) });
  let r = await runCliAsync(['push', 'production', '--json'], { cwd: p.dir, env: ENV });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.json.targets[0].pushed.map((x: any) => x.id)).toEqual([b.id]);
  // the provider never sees a table name or the rows' text
  const files = providerFiles(s3.dir);
  expect(files.length).toBeGreaterThan(3);
  for (const f of files) {
    const text = fs.readFileSync(f).toString('latin1');
    expect(text).not.toContain('tracks');
    expect(text).not.toContain('albums');
  }
  expect(JSON.stringify(r.json)).not.toContain(KEY);

  const m = tempDir('dbguard-enc-newmachine-');
  try {
    writeConfig(m.dir, { remote: { url: `s3://${BUCKET}/sealed`, endpoint: s3.endpoint, forcePathStyle: true, encryption: true } });
    const dest = path.join(m.dir, 'data', 'production.duckdb');

    s3.resetCounts();
    const wrong = { ...ENV, DBGUARD_REMOTE_KEY: crypto.randomBytes(32).toString('hex') };
    for (const args of [['restore', 'production', '--remote', '--yes'], ['push', 'production'], ['list', 'production', '--remote']]) {
      r = await runCliAsync(args, { cwd: m.dir, env: wrong });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('DBGUARD_REMOTE_KEY does not match');
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(r.stderr).not.toContain(wrong.DBGUARD_REMOTE_KEY);
    }
    expect(fs.existsSync(dest)).toBe(false);
    expect(s3.requests().filter((q) => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([]);

    r = await runCliAsync(['restore', 'production', '--remote', '--yes', '--json'], { cwd: m.dir, env: ENV });
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, source: 'remote', from: b.id });
    const manifest = JSON.parse(fs.readFileSync(`${b.file}.json`, 'utf8'));
    expect(await contentOf(dest)).toEqual(recorded(manifest));
  } finally {
    m.cleanup();
  }
});
