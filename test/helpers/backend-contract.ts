/**
 * The ObjectBackend contract (src/storage/store/backend.ts) as jest tests,
 * for any backend: LocalBackend here, S3Backend and EncryptedBackend in
 * src/remote/ can run the same. `make()` returns a fresh, empty backend.
 */
import { isMissing, type ObjectBackend } from '../../src/storage/store';

export function backendContract(name: string, make: () => Promise<ObjectBackend> | ObjectBackend): void {
  describe(`${name} keeps the ObjectBackend contract`, () => {
    test('put then get returns the bytes; put replaces; head gives the size; delete is idempotent', async () => {
      const b = await make();
      await b.put('packs/ab/one.pack', Buffer.from('hello'));
      expect((await b.get('packs/ab/one.pack')).toString()).toBe('hello');
      await b.put('packs/ab/one.pack', Buffer.from('hello, world'));
      expect((await b.get('packs/ab/one.pack')).toString()).toBe('hello, world');
      const info = await b.head('packs/ab/one.pack');
      expect(info?.key).toBe('packs/ab/one.pack');
      expect(info!.bytes).toBeGreaterThanOrEqual(12); // stored size: more when encrypted
      expect(Number.isFinite(info!.modifiedAt.getTime())).toBe(true);
      await b.delete('packs/ab/one.pack');
      await b.delete('packs/ab/one.pack');
      expect(await b.head('packs/ab/one.pack')).toBeUndefined();
      const err = await b.get('packs/ab/one.pack').catch((e) => e);
      expect(isMissing(err)).toBe(true);
    });

    test('list(prefix) gives exactly the objects under it, at any depth', async () => {
      const b = await make();
      for (const k of ['packs/ab/1.pack', 'packs/cd/2.pack', 'index/1.json', 'snapshots/p/x.json', 'snapshots/pp/y.json', 'config.json']) await b.put(k, Buffer.from(k));
      const keys = async (p: string) => (await b.list(p)).map((o) => o.key).sort();
      expect(await keys('packs/')).toEqual(['packs/ab/1.pack', 'packs/cd/2.pack']);
      expect(await keys('snapshots/p/')).toEqual(['snapshots/p/x.json']);
      expect(await keys('')).toEqual(['config.json', 'index/1.json', 'packs/ab/1.pack', 'packs/cd/2.pack', 'snapshots/p/x.json', 'snapshots/pp/y.json']);
      expect(await keys('nothing/')).toEqual([]);
      expect((await b.list('index/'))[0]!.bytes).toBeGreaterThan(0);
    });
  });
}
