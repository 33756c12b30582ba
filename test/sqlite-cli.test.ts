/**
 * SQLite targets end to end through the built CLI (issue 10): check, backup,
 * list, verify, repair, restore and guard on real files; a hot journal and a
 * stale -wal travel with their database and are never deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupRepository } from '../src/storage/repository';
import { runCli } from './helpers/cli';
import { exitOf, freePort, get, Spawned, waitFor } from './helpers/daemon';
import { sha256, tempDir } from './helpers/db';
import { btreePages, createSqliteDb, killChild, scribble, startChild, withSqlite } from './helpers/sqlite';

const json = (s: string) => JSON.parse(s);
const count = (file: string, table: string) => withSqlite(file, (c) => (c.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);

describe('SQLite targets through the CLI', () => {
  let t: ReturnType<typeof tempDir>;
  let db: string;
  beforeEach(() => {
    t = tempDir();
    db = path.join(t.dir, 'data', 'musique.db');
    fs.writeFileSync(path.join(t.dir, 'dbguard.config.json'), JSON.stringify({ backupDir: 'backups', targets: { musique: { path: 'data/musique.db', engine: 'sqlite' }, postflow: { path: 'data/postflow.sqlite' } } }));
  });
  afterEach(() => t.cleanup());

  test('check, backup (named .db, 0600, engine sqlite in the manifest), list, verify; the source keeps its bytes', () => {
    createSqliteDb(db);
    createSqliteDb(path.join(t.dir, 'data', 'postflow.sqlite'), { tracks: 100 });
    const before = sha256(db);
    const c = runCli(['check', 'musique,postflow', '--json'], { cwd: t.dir });
    expect(c.code).toBe(0);
    expect(json(c.stdout).targets[0].tables.map((x: { name: string; rows: number }) => [x.name, x.rows])).toEqual([['artists', 50], ['albums', 200], ['tracks', 2000]]);
    const b = runCli(['backup', 'musique,postflow', '--json'], { cwd: t.dir });
    expect(b.code).toBe(0);
    const [m, p] = json(b.stdout).backups;
    expect(path.basename(m.file)).toMatch(/^musique_data_\d{8}_\d{6}\.db$/);
    // detected from the magic bytes (no engine key), named with the source's extension
    expect(path.basename(p.file)).toMatch(/^postflow_data_\d{8}_\d{6}\.sqlite$/);
    const file = path.resolve(t.dir, m.file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    expect(json(fs.readFileSync(`${file}.json`, 'utf8')).engine.name).toBe('sqlite');
    expect(count(file, 'tracks')).toBe(2000);
    expect(runCli(['verify', 'musique', '--latest'], { cwd: t.dir }).code).toBe(0);
    const l = runCli(['list', 'musique', '--json'], { cwd: t.dir });
    expect(json(l.stdout).backups.map((x: { status: string }) => x.status)).toEqual(['valid']);
    expect(sha256(db)).toBe(before);
  });

  test('a damaged index page: check exits 4 with integrity-check; repair salvages every row; check is healthy again', () => {
    createSqliteDb(db);
    const leaf = btreePages(db, 'tracks_title').filter((x) => x.pagetype === 'leaf')[2]!;
    scribble(db, (leaf.pageno - 1) * 4096 + 8, 64);
    const c = runCli(['check', 'musique', '--json'], { cwd: t.dir });
    expect(c.code).toBe(4);
    expect(json(c.stdout).targets[0].findings.map((f: { code: string }) => f.code)).toContain('integrity-check');
    const r = runCli(['repair', 'musique', '--yes', '--json'], { cwd: t.dir });
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out.strategy).toBe('salvage');
    expect(fs.readdirSync(out.quarantine)).toContain('musique.db');
    expect(count(db, 'tracks')).toBe(2000);
    expect(runCli(['check', 'musique'], { cwd: t.dir }).code).toBe(0);
  });

  test('check --quick runs PRAGMA quick_check: a damaged table (b-tree leaf) page exits 4, naming the file; a healthy file exits 0', () => {
    createSqliteDb(db);
    expect(runCli(['check', 'musique', '--quick'], { cwd: t.dir }).code).toBe(0);
    const leaf = btreePages(db, 'tracks').filter((x) => x.pagetype === 'leaf')[10]!;
    scribble(db, (leaf.pageno - 1) * 4096 + 8, 64);
    const before = sha256(db);
    const c = runCli(['check', 'musique', '--quick', '--json'], { cwd: t.dir });
    expect(c.code).toBe(4);
    const finding = json(c.stdout).targets[0].findings.find((f: { code: string }) => f.code === 'integrity-check');
    expect(finding.message).toContain(db);
    expect(finding.message).toContain('PRAGMA quick_check');
    expect(finding.hint).toBe('dbguard repair musique');
    expect(sha256(db)).toBe(before);
  });

  test('restore moves the database and its stale -wal aside together: the -wal is not replayed into the restored file', () => {
    createSqliteDb(db);
    expect(runCli(['backup', 'musique'], { cwd: t.dir }).code).toBe(0);
    // a newer generation of the file, killed with its WAL un-checkpointed
    withSqlite(db, (c) => { c.pragma('wal_autocheckpoint = 0'); c.exec('DELETE FROM tracks WHERE id > 100'); fs.copyFileSync(`${db}-wal`, path.join(t.dir, 'saved-wal')); }, false);
    fs.copyFileSync(path.join(t.dir, 'saved-wal'), `${db}-wal`);
    const r = runCli(['restore', 'musique', '--yes', '--json'], { cwd: t.dir });
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(fs.existsSync(`${db}-wal`)).toBe(false);
    const aside = fs.readdirSync(path.join(t.dir, 'backups', 'pre-restore')).map((d) => fs.readdirSync(path.join(t.dir, 'backups', 'pre-restore', d))).flat();
    expect(aside).toEqual(expect.arrayContaining(['musique.db', 'musique.db-wal']));
    void out;
    expect(count(db, 'tracks')).toBe(2000);
  });

  test('a hot journal from a killed writer: check warns and exits 0, backup holds the rolled-back state; database and journal keep their bytes', async () => {
    createSqliteDb(db, { journalMode: 'delete', tracks: 4000 });
    const child = await startChild('hot-journal', db);
    await killChild(child);
    const journal = `${db}-journal`;
    const before = [sha256(db), sha256(journal)];
    const c = runCli(['check', 'musique', '--json'], { cwd: t.dir });
    expect(json(c.stdout).targets[0].findings.map((f: { code: string }) => f.code)).toContain('hot-journal');
    expect(c.code).toBe(0);
    expect([sha256(db), sha256(journal)]).toEqual(before);
    const b = runCli(['backup', 'musique', '--json'], { cwd: t.dir });
    expect(b.code).toBe(0);
    const file = path.resolve(t.dir, json(b.stdout).backups[0].file);
    // the backup holds the committed state: the killed transaction's deletes are rolled back in it
    expect(count(file, 'tracks')).toBe(4000);
    expect(fs.existsSync(journal)).toBe(true);
    expect([sha256(db), sha256(journal)]).toEqual(before);
  });

  test('restore refuses while an application has the WAL database open: exit 5 naming its PID; nothing moved', async () => {
    fs.mkdirSync(path.dirname(db), { recursive: true });
    fs.closeSync(fs.openSync(db, 'w'));
    const writer = await startChild('ledger', db);
    try {
      expect(runCli(['backup', 'musique'], { cwd: t.dir }).code).toBe(0);
      const r = runCli(['restore', 'musique', '--yes'], { cwd: t.dir });
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`PID ${writer.pid}`);
      expect(fs.existsSync(path.join(t.dir, 'backups', 'pre-restore'))).toBe(false);
      expect(fs.existsSync(`${db}-wal`)).toBe(true);
    } finally {
      await killChild(writer, 'SIGTERM');
    }
  });

  test('guard checks the SQLite target, then runs the command and exits with its code', () => {
    createSqliteDb(db);
    const g = runCli(['guard', 'musique', '--', process.execPath, '-e', 'process.exit(7)'], { cwd: t.dir });
    expect(g.code).toBe(7);
  });

  test('a DuckDB file configured as sqlite: check names the mismatch, exit 4', () => {
    fs.mkdirSync(path.dirname(db), { recursive: true });
    fs.writeFileSync(db, Buffer.concat([Buffer.alloc(8), Buffer.from('DUCK'), Buffer.alloc(20000)]));
    const c = runCli(['check', 'musique', '--json'], { cwd: t.dir });
    expect(c.code).toBe(4);
    const f = json(c.stdout).targets[0].findings;
    expect(f.map((x: { code: string }) => x.code)).toContain('not-sqlite');
  });

  test('the daemon backs a SQLite target up on schedule while a child process writes it; /metrics names the engine; SIGTERM exits 0', async () => {
    const ledger = path.join(t.dir, 'data', 'ledger.db');
    fs.mkdirSync(path.dirname(ledger), { recursive: true });
    fs.closeSync(fs.openSync(ledger, 'w'));
    const writer = await startChild('ledger', ledger);
    const spawned = new Spawned();
    try {
      const port = await freePort();
      fs.writeFileSync(path.join(t.dir, 'dbguard.config.json'), JSON.stringify({
        backupDir: 'backups', keep: 5, targets: { ledger: { path: 'data/ledger.db', engine: 'sqlite' } },
        schedule: { backup: '*/2 * * * * *', check: '0 0 1 1 *', timezone: 'local' }, http: { host: '127.0.0.1', port },
      }));
      const d = spawned.start(t.dir);
      const repo = new BackupRepository(path.join(t.dir, 'backups'));
      const valid = () => repo.list('ledger').filter((e) => e.status === 'valid');
      await waitFor('two scheduled SQLite backups', () => valid().length >= 2, 50000, 100);
      const metrics = await get(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.body).toMatch(/dbguard_target_info\{[^}]*engine="sqlite"[^}]*\} 1/);
      for (const e of valid()) {
        const file = path.join(t.dir, 'backups', `${e.id}.db`);
        withSqlite(file, (c) => {
          expect((c.prepare('SELECT sum(balance) AS s FROM accounts').get() as { s: number }).s).toBe(100000);
          const l = c.prepare('SELECT count(*) AS n, max(seq) AS m FROM ledger').get() as { n: number; m: number };
          expect(l.m).toBe(l.n);
        });
      }
      d.child.kill('SIGTERM');
      expect(await exitOf(d)).toEqual({ code: 0, signal: null });
    } finally {
      await spawned.killAll();
      await killChild(writer, 'SIGTERM');
    }
  }, 60000);
});
