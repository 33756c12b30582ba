/**
 * "I could not check" is never "healthy": `dbguard check` of a file another
 * process holds, for engines without a live scrub, is busy (exit 5) naming
 * the holder, through the built CLI with real holders: a gdbmtool writer
 * (gdbm's flock lock) and a SQLite rollback-journal writer (fcntl lock).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gdbmEngine } from '../src/engines/gdbm';
import { anyLockHolder, writeLockHolder } from '../src/engines/proc-locks';
import { runCli } from './helpers/cli';
import { sha256, tempDir } from './helpers/db';
import { createGdbm, holdForWriting, requireGdbmtool } from './helpers/gdbm';
import { createSqliteDb, killChild, startChild } from './helpers/sqlite';

let t: ReturnType<typeof tempDir>;
const cli = (...args: string[]) => runCli(args, { cwd: t.dir });
const config = (target: Record<string, unknown>) =>
  fs.writeFileSync(path.join(t.dir, 'dbguard.config.json'), JSON.stringify({ backupDir: 'backups', targets: { app: target } }));

beforeAll(() => requireGdbmtool());
beforeEach(() => {
  t = tempDir('dbguard-busy-check-');
  fs.mkdirSync(path.join(t.dir, 'data'));
});
afterEach(() => t.cleanup());

describe('GDBM held by a writer', () => {
  let db: string;
  beforeEach(() => {
    db = path.join(t.dir, 'data', 'flower.db');
    createGdbm(db, 50);
    config({ path: 'data/flower.db', engine: 'gdbm' });
  });

  test('/proc/locks flock entries name the writer; none once it has closed the file', async () => {
    expect(writeLockHolder(db)).toBeUndefined();
    const held = await holdForWriting(db);
    try {
      expect(writeLockHolder(db)).toBe(held.pid);
      expect(anyLockHolder(db)).toBe(held.pid);
      expect(gdbmEngine.holder(db)).toEqual({ pid: held.pid, exe: expect.stringMatching(/gdbmtool$/) });
    } finally {
      await held.release();
    }
    expect(gdbmEngine.holder(db)).toBeUndefined();
  });

  test('check exits 5, names the PID, hints at stopping the service or pre-update, never says healthy; the file is unchanged', async () => {
    const before = sha256(db);
    const held = await holdForWriting(db);
    try {
      const plain = cli('check', 'app');
      expect(plain.code).toBe(5);
      expect(plain.stdout).toContain(`BUSY  in use by PID ${held.pid}`);
      expect(plain.stdout).toMatch(/nothing was checked/);
      expect(plain.stdout).toMatch(/stop the service.*pre-update app/);
      expect(plain.stdout).not.toMatch(/healthy/);
      const json = cli('check', 'app', '--json');
      expect(json.code).toBe(5);
      expect(json.json.ok).toBe(false);
      expect(json.json.targets[0]).toMatchObject({ ok: false, live: null, busy: { pid: held.pid, hint: expect.stringContaining('pre-update') } });
      // --full cannot take a live copy of a GDBM file either: gdbm's writer lock excludes readers
      const full = cli('check', 'app', '--full', '--json');
      expect(full.code).toBe(5);
      expect(full.json.targets[0].busy).toMatchObject({ pid: held.pid });
      expect(fs.readdirSync(path.join(t.dir, 'backups')).filter((f) => !f.startsWith('.'))).toEqual([]);
    } finally {
      await held.release();
    }
    expect(sha256(db)).toBe(before);
    const after = cli('check', 'app');
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/healthy {2}full read in /);
  });
});

describe('SQLite in rollback-journal mode with a writer holding its lock', () => {
  test('check exits 5 naming the writer, not healthy', async () => {
    const db = path.join(t.dir, 'data', 'app.db');
    createSqliteDb(db, { journalMode: 'delete', tracks: 200 });
    config({ path: 'data/app.db', engine: 'sqlite' });
    const child = await startChild('lock', db);
    try {
      const plain = cli('check', 'app');
      expect(plain.code).toBe(5);
      expect(plain.stdout).toContain(`BUSY  in use by PID ${child.pid}`);
      expect(plain.stdout).not.toMatch(/healthy/);
      const json = cli('check', 'app', '--json');
      expect(json.code).toBe(5);
      expect(json.json.targets[0]).toMatchObject({ ok: false, busy: { pid: child.pid } });
    } finally {
      await killChild(child);
    }
    expect(cli('check', 'app').code).toBe(0);
  });
});
