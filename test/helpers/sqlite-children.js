// Child processes for SQLite tests: real writers that hold locks, crash, or write while a backup runs.
const Database = require('better-sqlite3');
const [mode, file] = process.argv.slice(2);

if (mode === 'hot-journal') {
  // a big transaction in rollback-journal mode with a tiny cache: pages spill into the database
  // before commit, so a SIGKILL leaves a hot journal that SQLite needs to roll back
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  db.pragma('cache_size = 10');
  db.exec('BEGIN');
  db.prepare("UPDATE tracks SET lyrics = 'overwritten by a crashed writer'").run();
  db.prepare('DELETE FROM tracks WHERE id % 2 = 0').run();
  console.log('ready');
  setInterval(() => {}, 1000);
} else if (mode === 'lock') {
  // holds the EXCLUSIVE lock of a rollback-journal database until killed
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  db.exec('BEGIN EXCLUSIVE');
  db.prepare("UPDATE artists SET name = name || '!' WHERE id = 1").run();
  console.log('ready');
  setInterval(() => {}, 1000);
} else if (mode === 'ledger') {
  // WAL mode: transfers keep sum(balance) constant; every transfer appends one ledger row (gapless seq)
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER, memo TEXT)`);
  if (db.prepare('SELECT count(*) AS n FROM accounts').get().n === 0) {
    db.transaction(() => { for (let i = 1; i <= 100; i++) db.prepare('INSERT INTO accounts VALUES (?, 1000)').run(i); })();
  }
  const move = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?');
  const log = db.prepare('INSERT INTO ledger (seq, src, dst, amount, memo) VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM ledger), ?, ?, ?, ?)');
  const transfer = db.transaction((a, b, x) => { move.run(-x, a); move.run(x, b); log.run(a, b, x, 'x'.repeat(200)); });
  let n = 0;
  const tick = () => {
    for (let i = 0; i < 50; i++) { const a = 1 + Math.floor(Math.random() * 100); transfer(a, 1 + ((a + 7) % 100), 1 + Math.floor(Math.random() * 50)); n++; }
    if (n === 50) console.log('ready');
    setImmediate(tick);
  };
  tick();
  process.on('SIGTERM', () => { db.close(); console.log(`transfers ${n}`); process.exit(0); });
}
