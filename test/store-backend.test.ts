/** LocalBackend: the ObjectBackend contract, modes, ranged reads, keys that would leave the root, temporary files of killed puts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalBackend } from '../src/storage/store';
import { deadPid } from './helpers/backup';
import { backendContract } from './helpers/backend-contract';
import { tempDir } from './helpers/db';

const t = tempDir('dbguard-store-backend-');
afterAll(() => t.cleanup());
let n = 0;
const fresh = () => new LocalBackend(path.join(t.dir, `b${++n}`));

backendContract('LocalBackend', fresh);

test('folders 0700, files 0600; getRange reads part of an object and reports a short one', async () => {
  const b = fresh();
  await b.put('packs/ab/x.pack', Buffer.from('0123456789'));
  expect(fs.statSync(path.join(b.where, 'packs')).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(b.where, 'packs', 'ab')).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(b.where, 'packs', 'ab', 'x.pack')).mode & 0o777).toBe(0o600);
  expect((await b.getRange('packs/ab/x.pack', 3, 4)).toString()).toBe('3456');
  await expect(b.getRange('packs/ab/x.pack', 8, 4)).rejects.toMatchObject({ code: 'ESHORT' });
  await expect(b.getRange('packs/ab/none.pack', 0, 1)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('keys that would leave the root are refused', async () => {
  const b = fresh();
  for (const k of ['../x', '/etc/passwd', 'a//b', 'a/./b', '']) await expect(b.put(k, Buffer.from('x'))).rejects.toThrow('invalid store key');
});

test('temporary files of killed puts are not objects, and sweepTemporaries removes only those of dead processes', async () => {
  const b = fresh();
  await b.put('index/a.json', Buffer.from('{}'));
  const dir = path.join(b.where, 'index');
  const dead = path.join(dir, `.b.json.${deadPid()}.0a0b0c0d.tmp`);
  const live = path.join(dir, `.c.json.${process.ppid}.0a0b0c0d.tmp`);
  fs.writeFileSync(dead, 'x');
  fs.writeFileSync(live, 'x');
  expect((await b.list('index/')).map((o) => o.key)).toEqual(['index/a.json']);
  expect(await b.sweepTemporaries()).toBe(1);
  expect(fs.readdirSync(dir).sort()).toEqual([path.basename(live), 'a.json'].sort());
});
