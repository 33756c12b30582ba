#!/usr/bin/env node
/**
 * Measures the two ways to copy a live SQLite file while another process
 * commits in WAL mode (issue 10: "choose by measurement"):
 *   vacuum-into     VACUUM INTO: one statement, one read transaction, a rebuilt file
 *   backup-steps    the online backup API, 100 pages per step (restarts when another connection writes)
 *   backup-held     the online backup API in one step inside a read transaction we hold (dbguard's choice)
 * For each: time, restarts, and whether the copy keeps the writer's invariants
 * (constant sum of balances, gapless ledger). Usage: node scripts/bench-sqlite-copy.js [MB] [rounds]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Database = require('better-sqlite3');

const MB = Number(process.argv[2] ?? 40);
const ROUNDS = Number(process.argv[3] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-bench-sqlite-'));
const file = path.join(dir, 'live.db');

function seed() {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL); CREATE TABLE ledger (seq INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER, memo TEXT)');
  db.transaction(() => {
    for (let i = 1; i <= 100; i++) db.prepare('INSERT INTO accounts VALUES (?, 1000)').run(i);
    const ins = db.prepare("INSERT INTO ledger (seq, src, dst, amount, memo) VALUES (?, 0, 0, 0, ?)");
    const rows = Math.floor((MB * 1024 * 1024) / 260);
    for (let i = 1; i <= rows; i++) ins.run(i, 'x'.repeat(200));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function invariants(copy) {
  const db = new Database(copy, { readonly: true });
  try {
    const sum = db.prepare('SELECT sum(balance) AS s FROM accounts').get().s;
    const l = db.prepare('SELECT count(*) AS n, max(seq) AS m FROM ledger').get();
    const ok = db.pragma('quick_check', { simple: true }) === 'ok';
    return { consistent: ok && sum === 100000 && l.n === l.m, rows: l.n };
  } finally { db.close(); }
}

async function run(method, copy) {
  const src = new Database(file, { readonly: true });
  const started = Date.now();
  let restarts = 0;
  let last = Infinity;
  let gaveUp;
  try {
    if (method === 'vacuum-into') src.prepare('VACUUM INTO ?').run(copy);
    else if (method === 'backup-steps') {
      await src.backup(copy, { progress: ({ remainingPages }) => { if (remainingPages > last) restarts++; last = remainingPages; if (Date.now() - started > 30000) throw new Error('gave up after 30 s'); return 100; } }).catch((e) => { gaveUp = e.message; });
    } else {
      src.exec('BEGIN');
      src.prepare('SELECT count(*) FROM ledger').get();
      await src.backup(copy, { progress: () => 1 << 30 });
      src.exec('COMMIT');
    }
  } finally { src.close(); }
  return { ms: Date.now() - started, restarts, gaveUp };
}

(async () => {
  seed();
  const writer = spawn(process.execPath, [path.join(__dirname, '..', 'test', 'helpers', 'sqlite-children.js'), 'ledger', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => writer.stdout.on('data', (d) => { if (String(d).includes('ready')) r(); }));
  const results = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const method of ['vacuum-into', 'backup-held', 'backup-steps']) {
      const copy = path.join(dir, `${method}-${round}.db`);
      const before = new Database(file, { readonly: true }).prepare('SELECT max(seq) AS m FROM ledger').get().m;
      const r = await run(method, copy);
      const after = new Database(file, { readonly: true }).prepare('SELECT max(seq) AS m FROM ledger').get().m;
      const inv = r.gaveUp ? { consistent: false } : invariants(copy);
      const agg = (results[method] ??= { rounds: 0, consistent: 0, ms: [], restarts: 0, writerCommitsDuringCopy: [], bytes: 0 });
      agg.rounds++; agg.consistent += inv.consistent ? 1 : 0; agg.ms.push(r.ms); agg.restarts += r.restarts; agg.gaveUp = (agg.gaveUp ?? 0) + (r.gaveUp ? 1 : 0);
      agg.writerCommitsDuringCopy.push(after - before); if (!r.gaveUp) agg.bytes = fs.statSync(copy).size;
      fs.rmSync(copy, { force: true });
    }
  }
  writer.kill('SIGTERM');
  const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  for (const [m, a] of Object.entries(results)) {
    console.log(`${m.padEnd(13)} consistent ${a.consistent}/${a.rounds}  median ${median(a.ms)} ms  restarts ${a.restarts}  unfinished ${a.gaveUp}  writer commits during copy (median) ${median(a.writerCommitsDuringCopy)}  copy ${(a.bytes / 1048576).toFixed(1)} MiB`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
})();
