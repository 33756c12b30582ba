/**
 * The schema baseline (core/schema-baseline.ts) and the retention rule that
 * protects the newest backup holding a lost table (core/retention.ts): pure
 * functions, no I/O.
 */
import { planRetention } from '../src/core/retention';
import { expectedObjects, lostObjects, type SchemaAcceptance } from '../src/core/schema-baseline';

const t = (name: string) => ({ schema: 'main', name });
const backup = (id: string, tables: string[], sequences: string[] = []) => ({ id, tables: tables.map(t), sequences: sequences.map(t) });
// newest first, as the repository lists them
const B3 = backup('p_data_20240103_020000', ['artists', 'albums']);
const B2 = backup('p_data_20240102_020000', ['artists', 'albums']);
const B1 = backup('p_data_20240101_020000', ['artists', 'albums', 'tracks'], ['track_id_seq']);

test('an object of an older backup stays expected after newer backups without it, naming the newest backup that has it', () => {
  const lost = lostObjects(expectedObjects([B3, B2, B1]), { tables: [t('artists'), t('albums')], sequences: [] });
  expect(lost).toEqual([
    { kind: 'table', schema: 'main', name: 'tracks', heldBy: B1.id },
    { kind: 'sequence', schema: 'main', name: 'track_id_seq', heldBy: B1.id },
  ]);
});

test('names match on schema and name: a table of the same name in another schema is not the lost one', () => {
  const lost = lostObjects(expectedObjects([B1]), { tables: [t('artists'), t('albums'), { schema: 'archive', name: 'tracks' }], sequences: [t('track_id_seq')] });
  expect(lost.map((o) => o.name)).toEqual(['tracks']);
});

test('an acceptance covers the backups it names, and its own schema stays expected', () => {
  const acceptance: SchemaAcceptance = {
    format: 'dbguard-accepted-schema/1', target: 'p', acceptedAt: '2024-01-03T12:00:00Z',
    covers: [B3.id, B2.id, B1.id], tables: [t('artists'), t('albums')], sequences: [], dropped: [{ kind: 'table', ...t('tracks') }],
  };
  expect(lostObjects(expectedObjects([B3, B2, B1], acceptance), { tables: [t('artists'), t('albums')], sequences: [] })).toEqual([]);
  // lost after the acceptance, before any new backup: the accepted schema still expects it
  expect(lostObjects(expectedObjects([B3, B2, B1], acceptance), { tables: [t('artists')], sequences: [] })).toEqual([{ kind: 'table', schema: 'main', name: 'albums', heldBy: B3.id }]);
  // a backup made after the acceptance counts again
  const B4 = backup('p_data_20240104_020000', ['artists', 'albums', 'playlists']);
  expect(lostObjects(expectedObjects([B4, B3, B2, B1], acceptance), { tables: [t('artists'), t('albums')], sequences: [] }).map((o) => o.name)).toEqual(['playlists']);
});

test('planRetention keeps a protected backup beyond keep, with the reason, and only valid counted ones', () => {
  const items = [B3, B2, B1].map((b, i) => ({ id: b.id, createdAt: new Date(Date.UTC(2024, 0, 3 - i, 2)), status: 'valid' as const }));
  const reason = 'newest valid backup holding table tracks, which the database has lost';
  const plan = planRetention(items, { keep: 1 }, new Date(Date.UTC(2024, 0, 4)), [{ id: B1.id, reason }, { id: 'not-a-backup', reason }]);
  expect(plan.keep).toEqual([B3.id, B1.id]);
  expect(plan.remove).toEqual([B2.id]);
  expect(plan.reasons[B1.id]).toBe(reason);
});
