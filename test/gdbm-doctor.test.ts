/** `dbguard doctor` on a setup with a GDBM target, through the built CLI. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir, writeConfig } from './helpers/db';
import { runCli } from './helpers/cli';
import { createGdbm, requireGdbmtool } from './helpers/gdbm';

const t = tempDir('dbguard-gdbm-doctor-');
beforeAll(() => {
  requireGdbmtool();
  writeConfig(t.dir, { targets: { flower: { path: 'data/flower.db' } } });
  fs.mkdirSync(path.join(t.dir, 'data'));
  fs.mkdirSync(path.join(t.dir, 'backups'));
  createGdbm(path.join(t.dir, 'data', 'flower.db'), 10);
});
afterAll(() => t.cleanup());

test('a GDBM target: doctor reports gdbmtool and its version', () => {
  const r = runCli(['doctor', '--json'], { cwd: t.dir });
  const gdbm = r.json.items.find((i: { check: string }) => i.check === 'gdbm');
  expect(gdbm).toMatchObject({ ok: true, severity: 'ok', detail: expect.stringMatching(/^gdbmtool \(gdbm\) 1\.\d+/) });
  expect(r.code).toBe(0);
});

test('gdbmtool missing: doctor fails (exit 3) and says how to install it', () => {
  const r = runCli(['doctor'], { cwd: t.dir, env: { DBGUARD_GDBMTOOL: path.join(t.dir, 'no-gdbmtool') } });
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/gdbm +FAIL +gdbmtool is not installed/);
  expect(r.stdout).toContain('gdbm: apt-get install gdbmtool (Debian package gdbmtool)');
});
