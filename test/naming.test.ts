/**
 * Backup names `<target>_data_YYYYMMDD_HHMMSS[_N].duckdb` (local time), the
 * ids of new backups, and which temporary files belong to a target.
 */
import { newBackupId, newestFirst, parseBackupName, stampOf } from '../src/storage/naming';
import { tempFileTarget } from '../src/storage/repository';

describe('parseBackupName', () => {
  test.each([
    ['production_data_20240115_020000.duckdb', { target: 'production', id: 'production_data_20240115_020000', stamp: '20240115_020000', seq: 1, ext: '.duckdb' }],
    ['production_data_20240115_020000_2.duckdb', { target: 'production', id: 'production_data_20240115_020000_2', stamp: '20240115_020000', seq: 2, ext: '.duckdb' }],
    ['staging_data_20991231_235959_17.duckdb', { target: 'staging', id: 'staging_data_20991231_235959_17', stamp: '20991231_235959', seq: 17, ext: '.duckdb' }],
    ['my-app_data_20240115_020000.duckdb', { target: 'my-app', id: 'my-app_data_20240115_020000', stamp: '20240115_020000', seq: 1, ext: '.duckdb' }],
    // a target whose own name contains "_data_": the stamp decides where the name ends
    ['prod_data_x_data_20240115_020000.duckdb', { target: 'prod_data_x', id: 'prod_data_x_data_20240115_020000', stamp: '20240115_020000', seq: 1, ext: '.duckdb' }],
  ])('%s', (name, parsed) => {
    expect(parseBackupName(name)).toEqual(parsed);
  });

  test.each([
    'production_data_20240115_020000.duckdb.json',
    'production_data_20240115_020000.duckdb.wal',
    '.production_data_20240115_020000.tmp',
    'production_data_manual.duckdb',
    'production_data_2024011_020000.duckdb',
    'production_data_20240115_02000.duckdb',
    'production_data_20240115_020000_.duckdb',
    'production_data_20240115_020000_x.duckdb',
    'production_20240115_020000.duckdb',
    '_data_20240115_020000.duckdb',
    '1prod_data_20240115_020000.duckdb',
    'production_data_20240115_020000.DUCKDB',
    'production_data_20240115_020000.duckdb.bak',
    'notes.txt',
    '',
  ])('not a backup name: %j', (name) => {
    expect(parseBackupName(name)).toBeUndefined();
  });
});

describe('stampOf and newBackupId', () => {
  const at = new Date(2024, 0, 15, 2, 3, 4, 999); // local time

  test('the stamp is local time to the second', () => {
    expect(stampOf(at)).toBe('20240115_020304');
    expect(stampOf(new Date(2024, 11, 31, 23, 59, 59))).toBe('20241231_235959');
  });

  test('a free second gets the plain name', () => {
    expect(newBackupId('production', at, () => false)).toBe('production_data_20240115_020304');
  });

  test('taken names get _2, _3, … in order', () => {
    const taken = new Set(['production_data_20240115_020304', 'production_data_20240115_020304_2']);
    expect(newBackupId('production', at, (id) => taken.has(id))).toBe('production_data_20240115_020304_3');
  });

  test('a gap is reused: _2 when only the plain name and _3 are taken', () => {
    const taken = new Set(['production_data_20240115_020304', 'production_data_20240115_020304_3']);
    expect(newBackupId('production', at, (id) => taken.has(id))).toBe('production_data_20240115_020304_2');
  });

  test('every new id parses back to its target and stamp', () => {
    const id = newBackupId('my-app', at, (x) => x === 'my-app_data_20240115_020304');
    expect(parseBackupName(`${id}.duckdb`)).toEqual({ target: 'my-app', id, stamp: '20240115_020304', seq: 2, ext: '.duckdb' });
  });
});

describe('backup names of other engines', () => {
  const exts = ['.duckdb', '.db', '.sqlite', '.gdbm'];
  test.each(['.db', '.sqlite', '.gdbm'])('%s is a backup name when an engine registers that extension', (ext) => {
    expect(parseBackupName(`musique_data_20240115_020000${ext}`, exts)).toEqual({ target: 'musique', id: 'musique_data_20240115_020000', stamp: '20240115_020000', seq: 1, ext });
  });

  test('an extension no engine registers is not a backup name', () => {
    expect(parseBackupName('musique_data_20240115_020000.bak', exts)).toBeUndefined();
  });
});

describe('newestFirst', () => {
  test('orders by stamp, then by suffix', () => {
    const names = ['production_data_20240115_020000.duckdb', 'production_data_20240116_010000.duckdb', 'production_data_20240115_020000_10.duckdb', 'production_data_20240115_020000_2.duckdb', 'production_data_20231231_235959.duckdb'];
    const sorted = names.map((n) => parseBackupName(n)!).sort(newestFirst).map((p) => p.id);
    expect(sorted).toEqual(['production_data_20240116_010000', 'production_data_20240115_020000_10', 'production_data_20240115_020000_2', 'production_data_20240115_020000', 'production_data_20231231_235959']);
  });
});

describe('tempFileTarget', () => {
  test.each([
    ['.production_data_20240115_020000.tmp', 'production'],
    ['.production_data_20240115_020000_2.tmp', 'production'],
    ['.production_data_20240115_020000.tmp.wal', 'production'],
    ['.production_data_20240115_020000.tmp-wal', 'production'],
    ['.production_data_20240115_020000.tmp-journal', 'production'],
    ['.production_data_20240115_020000.tmp.tmp', 'production'],
    ['.production_data_20240115_020000.duckdb.json.12345.tmp', 'production'],
    ['.prod_data_x_data_20240115_020000.tmp', 'prod_data_x'],
    ['.staging_data_20240115_020000.tmp', 'staging'],
  ])('%s belongs to %s', (name, target) => {
    expect(tempFileTarget(name)).toBe(target);
  });

  test.each([
    'production_data_20240115_020000.duckdb',
    'production_data_20240115_020000.tmp',
    '.production_data_notes.tmp',
    '.production_data_20240115_020000',
    '.production_data_20240115_020000.tmpx',
    '.production.lock',
    '.production.lock.123.new',
    'notes.tmp',
  ])('%s is no temporary file of dbguard', (name) => {
    expect(tempFileTarget(name)).toBeUndefined();
  });
});
