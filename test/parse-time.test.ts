import { parseTime } from '../src/core/parse-time';

/** Local times, as the backup names and `--at` use local time. */
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => new Date(y, mo - 1, d, h, mi, s, ms);
const endOf = (y: number, mo: number, d: number) => local(y, mo, d, 23, 59, 59, 999);
const NOW = local(2024, 3, 10, 12, 0, 0);

describe('parseTime', () => {
  test.each([
    ['2024-01-15 02:00', local(2024, 1, 15, 2, 0)],
    ['2024-01-15 02:00:30', local(2024, 1, 15, 2, 0, 30)],
    ['2024-01-15 02', local(2024, 1, 15, 2)],
    ['  2024-01-15 02:00  ', local(2024, 1, 15, 2, 0)],
    ['2024-01-15T02:00', local(2024, 1, 15, 2, 0)],
    ['2024-01-15T02:00:00Z', new Date(Date.UTC(2024, 0, 15, 2, 0, 0))],
    ['2024-01-15T02:00:00+01:00', new Date(Date.UTC(2024, 0, 15, 1, 0, 0))],
    ['20240115_020000', local(2024, 1, 15, 2, 0, 0)],
    ['20240115 020000', local(2024, 1, 15, 2, 0, 0)],
    ['15.01.2024 02:00', local(2024, 1, 15, 2, 0)],
    ['2024/01/15 02:00', local(2024, 1, 15, 2, 0)],
  ])('%s', (text, want) => {
    expect(parseTime(text, NOW)).toEqual(want);
  });

  test.each([['2024-01-15'], ['20240115'], ['15.01.2024'], ['2024/01/15']])('a date alone (%s) means the end of that day', (text) => {
    expect(parseTime(text, NOW)).toEqual(endOf(2024, 1, 15));
  });

  test.each([
    ['3h ago', 3 * 3600000],
    ['3 hours ago', 3 * 3600000],
    ['1 hour ago', 3600000],
    ['2 hrs ago', 2 * 3600000],
    ['2d ago', 2 * 86400000],
    ['1 day ago', 86400000],
    ['90m ago', 90 * 60000],
    ['30 min ago', 30 * 60000],
    ['5 mins ago', 5 * 60000],
    ['10 minutes ago', 10 * 60000],
    ['1w ago', 7 * 86400000],
    ['2 weeks ago', 14 * 86400000],
    ['3H AGO', 3 * 3600000],
  ])('relative: %s', (text, ms) => {
    expect(parseTime(text, NOW)).toEqual(new Date(NOW.getTime() - ms));
  });

  test.each([[''], ['yesterday'], ['tomorrow'], ['latest'], ['2024-13-01'], ['2024-02-30'], ['2024-01-15 25:00'], ['3 months ago'], ['3 parsecs ago'], ['in 3h'], ['15/01/2024'], ['2024-01-15 02:00 garbage'], ['1705284000']])('not a time: %j', (text) => {
    expect(parseTime(text, NOW)).toBeUndefined();
  });

  test('relative times count back from the given now', () => {
    const now = local(2030, 6, 1, 0, 0);
    expect(parseTime('1d ago', now)).toEqual(local(2030, 5, 31, 0, 0));
  });
});
