/**
 * The local rebuild reads runs of blocks that lie back to back in a pack
 * with one read: runs stop at the size cap and at pack boundaries, and a
 * damaged block in the middle of a run is still taken from another intact
 * copy (bytes right) or, with none, named by pack and offset with no file left.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IntegrityError } from '../src/core/errors';
import { packKey } from '../src/storage/store/format';
import { planRuns } from '../src/storage/store/local-runs';
import { PackIndex } from '../src/storage/store/pack-index';
import { LocalBackend } from '../src/storage/store';
import { loadBlockList } from '../src/storage/store/read';
import { tempDir } from './helpers/db';
import { backupInto, openStore } from './helpers/store';

const PLAN = { headerBytes: 0, chunkBytes: 64 * 1024 };
const t = tempDir('dbguard-store-runs-');
afterAll(() => t.cleanup());

async function oneBackup(name: string) {
  const dir = path.join(t.dir, name);
  fs.mkdirSync(dir);
  const data = crypto.randomBytes(10 * 65536);
  const root = path.join(dir, 'store');
  const store = await openStore(root, 4 * 65536);
  fs.writeFileSync(path.join(dir, 'a.bin'), data);
  const r = await backupInto(store, path.join(dir, 'a.bin'), 'p', 'a_1.bin', PLAN);
  const backend = new LocalBackend(root);
  const packFile = (id: string) => path.join(root, ...packKey(id).split('/'));
  return { dir, root, data, store, snap: r.snap, packs: r.ingest.packs, backend, packFile };
}

test('runs follow the packs and stop at the size cap', async () => {
  const { backend, snap, packs } = await oneBackup('plan');
  const index = new PackIndex(backend);
  await index.refresh();
  const blocks = await loadBlockList(backend, snap);
  expect(planRuns(index, blocks).map((r) => [r.pack, r.at, r.bytes])).toEqual([
    [packs[0], 0, 4 * 65536], [packs[1], 4 * 65536, 4 * 65536], [packs[2], 8 * 65536, 2 * 65536],
  ]);
  expect(planRuns(index, blocks, 3 * 65536).map((r) => r.bytes)).toEqual([3, 1, 3, 1, 2].map((k) => k * 65536));
});

test('a damaged block in the middle of a run: named by pack and offset, no file left; with an intact copy elsewhere the bytes are right', async () => {
  const { dir, root, data, store, snap, packs, packFile } = await oneBackup('damage');
  const file = packFile(packs[1]!);
  const good = fs.readFileSync(file);
  const bad = Buffer.from(good);
  bad[2 * 65536 + 5] ^= 0xff; // block 6 of the file: the third of the pack's four
  fs.writeFileSync(file, bad);
  const dest = path.join(dir, 'out.bin');
  const err = await store.materialise(snap, dest).then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect((err as Error).message).toContain(`pack ${packKey(packs[1]!)} is damaged`);
  expect((err as Error).message).toContain(`offset ${2 * 65536}`);
  expect((err as Error).message).toContain(`offset ${6 * 65536} of backup p/a_1`);
  expect(fs.existsSync(dest)).toBe(false);

  // a second copy of the same blocks in another pack (as a killed repack leaves): the rebuild takes the intact one
  const copy = Buffer.concat([good, Buffer.from('x')]);
  const copyId = crypto.createHash('sha256').update(copy).digest('hex');
  fs.mkdirSync(path.dirname(packFile(copyId)), { recursive: true });
  fs.writeFileSync(packFile(copyId), copy);
  const idx = JSON.parse(fs.readFileSync(path.join(root, 'index', `${packs[1]}.json`), 'utf8'));
  fs.writeFileSync(path.join(root, 'index', `${copyId}.json`), JSON.stringify({ ...idx, pack: copyId, bytes: copy.length }));
  // whichever copy the index lists first, the damaged one must not win: try with each damaged
  for (const damaged of [packs[1]!, copyId]) {
    fs.writeFileSync(file, damaged === packs[1] ? bad : good);
    fs.writeFileSync(packFile(copyId), damaged === copyId ? Buffer.concat([bad, Buffer.from('x')]) : copy);
    await expect(store.materialise(snap, dest)).resolves.toMatchObject({ bytes: data.length });
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  }
});
