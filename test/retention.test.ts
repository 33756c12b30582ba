/**
 * planRetention is a pure function (backups, policy, now) → { keep, remove,
 * reasons }: a table of cases with fixed local dates.
 */
import { planRetention, type RetentionItem, type RetentionPolicy } from '../src/core/retention';

const NOW = new Date(2024, 2, 10, 12, 0, 0); // Sun 10 Mar 2024, local time

/** `b('2024-03-09 02:00')`, `b('2024-03-09 02:00', 'invalid')`: an item whose id is its date (and status). */
function b(when: string, status: RetentionItem['status'] = 'valid'): RetentionItem {
  const [d, t = '00:00'] = when.split(' ');
  const [y, mo, da] = d!.split('-').map(Number);
  const [h, mi] = t.split(':').map(Number);
  return { id: status === 'valid' ? when : `${when} ${status}`, createdAt: new Date(y!, mo! - 1, da!, h!, mi!), status };
}

/** n valid backups one day apart, newest first, ending the day before NOW. */
const daily = (n: number) => Array.from({ length: n }, (_, i) => b(`2024-03-${String(9 - i).padStart(2, '0')} 02:00`));

interface Case {
  name: string;
  items: RetentionItem[];
  policy: RetentionPolicy;
  remove: string[];
  now?: Date;
}

const cases: Case[] = [
  { name: 'empty list', items: [], policy: { keep: 30 }, remove: [] },
  { name: 'keep 3 of 5: the 2 oldest go', items: daily(5), policy: { keep: 3 }, remove: ['2024-03-06 02:00', '2024-03-05 02:00'] },
  { name: 'keep more than there are: nothing goes', items: daily(4), policy: { keep: 30 }, remove: [] },
  { name: 'keep 1: only the newest stays', items: daily(4), policy: { keep: 1 }, remove: ['2024-03-08 02:00', '2024-03-07 02:00', '2024-03-06 02:00'] },
  { name: 'keep 0 still keeps the newest valid backup', items: daily(3), policy: { keep: 0 }, remove: ['2024-03-08 02:00', '2024-03-07 02:00'] },
  { name: 'no counts at all still keep the newest valid backup', items: daily(3), policy: {}, remove: ['2024-03-08 02:00', '2024-03-07 02:00'] },
  { name: 'input order does not matter (oldest first)', items: daily(4).reverse(), policy: { keep: 2 }, remove: ['2024-03-07 02:00', '2024-03-06 02:00'] },
  {
    name: 'invalid and incomplete backups are neither counted nor removed',
    items: [b('2024-03-09 03:00', 'invalid'), b('2024-03-09 02:00'), b('2024-03-08 05:00', 'incomplete'), b('2024-03-08 02:00'), b('2024-03-07 02:00'), b('2020-01-01 00:00', 'invalid'), b('2020-01-01 00:00', 'incomplete')],
    policy: { keep: 2 },
    remove: ['2024-03-07 02:00'],
  },
  {
    name: 'an invalid backup newer than every valid one does not push out the newest valid one',
    items: [b('2024-03-09 23:00', 'invalid'), b('2024-03-09 22:00', 'invalid'), b('2024-03-01 02:00'), b('2024-02-01 02:00')],
    policy: { keep: 1 },
    remove: ['2024-02-01 02:00'],
  },
  { name: 'only invalid and incomplete backups: nothing goes', items: [b('2024-03-09 02:00', 'invalid'), b('2024-03-08 02:00', 'incomplete')], policy: { keep: 1 }, remove: [] },
  {
    name: 'a backup dated in the future (clock skew) is kept and not counted',
    items: [b('2024-03-11 02:00'), ...daily(3)],
    policy: { keep: 2 },
    remove: ['2024-03-07 02:00'],
  },
  {
    name: 'with only future-dated backups, all are kept',
    items: [b('2025-01-01 02:00'), b('2024-12-01 02:00')],
    policy: { keep: 1 },
    remove: [],
  },
  {
    name: 'with keep 1, the newest counted backup stays besides a future-dated one',
    items: [b('2030-01-01 00:00'), b('2024-03-10 12:00'), b('2024-03-10 11:00')],
    policy: { keep: 1 },
    remove: ['2024-03-10 11:00'],
  },
  {
    name: 'daily: the newest of each of the last N days that have backups (empty days do not count)',
    items: [b('2024-03-09 14:00'), b('2024-03-09 02:00'), b('2024-03-05 14:00'), b('2024-03-05 02:00'), b('2024-03-01 02:00')],
    policy: { keep: 1, daily: 2 },
    remove: ['2024-03-09 02:00', '2024-03-05 02:00', '2024-03-01 02:00'],
  },
  {
    name: 'weekly: ISO weeks, across the turn of the year',
    // Mon 1 Jan 2024 is 2024-W01; Sun 31 and Sat 30 Dec 2023 are 2023-W52; Sun 1 Jan 2023 is 2022-W52
    items: [b('2024-01-01 02:00'), b('2023-12-31 02:00'), b('2023-12-30 02:00'), b('2023-01-01 02:00')],
    policy: { keep: 1, weekly: 3 },
    now: new Date(2024, 0, 2),
    remove: ['2023-12-30 02:00'],
  },
  {
    name: 'monthly: the newest of each of the last N months with backups',
    items: [b('2024-03-02 02:00'), b('2024-03-01 02:00'), b('2024-02-20 02:00'), b('2024-02-10 02:00'), b('2023-12-31 23:00'), b('2023-12-01 02:00'), b('2023-11-30 02:00')],
    policy: { keep: 1, monthly: 3 },
    remove: ['2024-03-01 02:00', '2024-02-10 02:00', '2023-12-01 02:00', '2023-11-30 02:00'],
  },
  {
    name: 'keep, daily, weekly and monthly together keep the union',
    // Fri 5 Jan, Sat 20 Jan, Sat 10 Feb (W06), Mon 26 Feb – Fri 1 Mar (W09)
    items: [b('2024-03-01 02:00'), b('2024-02-28 14:00'), b('2024-02-28 02:00'), b('2024-02-27 02:00'), b('2024-02-26 02:00'), b('2024-02-10 02:00'), b('2024-01-20 02:00'), b('2024-01-05 02:00')],
    policy: { keep: 1, daily: 3, weekly: 2, monthly: 3 },
    remove: ['2024-02-28 02:00', '2024-02-26 02:00', '2024-01-05 02:00'],
  },
  {
    name: 'zero GFS counts behave like absent ones',
    items: daily(3),
    policy: { keep: 2, daily: 0, weekly: 0, monthly: 0 },
    remove: ['2024-03-07 02:00'],
  },
];

describe('planRetention', () => {
  test.each(cases)('$name', ({ items, policy, remove, now }) => {
    const input = items.map((i) => ({ ...i }));
    const plan = planRetention(input, policy, now ?? NOW);
    expect([...plan.remove].sort()).toEqual([...remove].sort());
    // every item is either kept or removed, never both, never lost
    expect([...plan.keep, ...plan.remove].sort()).toEqual(items.map((i) => i.id).sort());
    expect(plan.keep.filter((id) => plan.remove.includes(id))).toEqual([]);
    // only valid backups are ever removed
    for (const id of plan.remove) expect(items.find((i) => i.id === id)!.status).toBe('valid');
    // each decision has a reason
    for (const i of items) expect(plan.reasons[i.id]).toEqual(expect.any(String));
    // the newest valid backup (not in the future) is always kept
    const newest = items.filter((i) => i.status === 'valid' && i.createdAt <= (now ?? NOW)).sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime())[0];
    if (newest) expect(plan.keep).toContain(newest.id);
    // pure: the input is left as it was
    expect(input).toEqual(items);
  });

  test('reasons say why, in words for prune --dry-run', () => {
    const items = [b('2024-03-11 02:00'), ...daily(3), b('2024-03-01 02:00', 'invalid')];
    const plan = planRetention(items, { keep: 2 }, NOW);
    expect(plan.reasons['2024-03-11 02:00']).toMatch(/future/);
    expect(plan.reasons['2024-03-09 02:00']).toMatch(/newest valid/);
    expect(plan.reasons['2024-03-08 02:00']).toMatch(/2 of the newest 2/);
    expect(plan.reasons['2024-03-07 02:00']).toMatch(/beyond the newest 2/);
    expect(plan.reasons['2024-03-01 02:00 invalid']).toMatch(/invalid.*never removed/);
  });

  test('the same input gives the same plan (deterministic)', () => {
    const items = daily(10);
    expect(planRetention(items, { keep: 3, daily: 5 }, NOW)).toEqual(planRetention(items, { keep: 3, daily: 5 }, NOW));
  });
});
