#!/usr/bin/env node
/**
 * A service stand-in for the live-backup tests and the bench: holds a DuckDB
 * file read-write and commits transactions whose invariants a torn or mixed
 * copy breaks:
 * - accounts: transfers between two accounts; the sum of balances never changes;
 * - ledger: one row per commit, seq 1..n without gaps;
 * - batches/items: every batch is appended whole (items count = batches.n),
 *   big batches (150,000 rows) are written to the main file before their commit;
 * - deletes of whole old batches, and a CHECKPOINT every `checkpointEvery` commits.
 *
 * Usage: node live-writer.js FILE [--checkpoint-every N] [--big-every N] [--rate COMMITS_PER_S] [--idle]
 * stdin lines: "checkpoint" (a commit, then CHECKPOINT), "big", "pause", "resume", "stop" (each answered by "ok <cmd>" on stdout),
 * "mark" (answered by "ok mark [latencies in ms since the last mark]");
 * stdout: "ready" once set up, and on stop a JSON line { commits, latencies }.
 */
const path = require('node:path');
const { DuckDBInstance } = require(path.resolve(__dirname, '../../node_modules/@duckdb/node-api'));

const ACCOUNTS = 100;
const TOTAL = ACCOUNTS * 1000;
const BIG = 150000;

const args = process.argv.slice(2);
const file = args[0];
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const checkpointEvery = opt('--checkpoint-every', 150);
const bigEvery = opt('--big-every', 40);
const rate = opt('--rate', 0); // 0: as fast as it can
let idle = args.includes('--idle');

async function setup(c) {
  await c.run(`CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)`);
  await c.run(`CREATE TABLE IF NOT EXISTS ledger (seq BIGINT PRIMARY KEY, kind VARCHAR NOT NULL, created TIMESTAMP DEFAULT now())`);
  await c.run(`CREATE TABLE IF NOT EXISTS batches (batch_id BIGINT PRIMARY KEY, n INTEGER NOT NULL)`);
  await c.run(`CREATE TABLE IF NOT EXISTS items (batch_id BIGINT NOT NULL, k INTEGER NOT NULL, payload VARCHAR)`);
  await c.run(`CREATE TABLE IF NOT EXISTS archive (id INTEGER, note VARCHAR)`);
  const n = Number((await c.runAndReadAll('SELECT count(*) FROM accounts')).getRows()[0][0]);
  if (n === 0) {
    await c.run(`INSERT INTO accounts SELECT i, ${TOTAL / ACCOUNTS} FROM range(${ACCOUNTS}) t(i)`);
    // a table the writer never touches again: the live-check tests damage its block
    await c.run(`INSERT INTO archive SELECT i, 'archived note ' || i FROM range(200000) t(i)`);
    await c.run('CHECKPOINT');
  }
}

async function main() {
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await setup(c);
  let seq = Number((await c.runAndReadAll('SELECT coalesce(max(seq), 0) FROM ledger')).getRows()[0][0]);
  let batch = Number((await c.runAndReadAll('SELECT coalesce(max(batch_id), 0) FROM batches')).getRows()[0][0]);
  const latencies = [];
  let commits = 0;
  let stopping = false;
  const queue = [];

  const txn = async (kind, body) => {
    const t0 = process.hrtime.bigint();
    await c.run('BEGIN');
    try {
      await body();
      seq++;
      await c.run(`INSERT INTO ledger (seq, kind) VALUES (${seq}, '${kind}')`);
      await c.run('COMMIT');
    } catch (e) {
      await c.run('ROLLBACK').catch(() => {});
      seq = Number((await c.runAndReadAll('SELECT coalesce(max(seq), 0) FROM ledger')).getRows()[0][0]);
      throw e;
    }
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    commits++;
  };
  const append = (rows) => txn('append', async () => {
    batch++;
    await c.run(`INSERT INTO batches VALUES (${batch}, ${rows})`);
    await c.run(`INSERT INTO items SELECT ${batch}, i, 'payload ' || i FROM range(${rows}) t(i)`);
  });
  const step = async (i) => {
    const r = i % 10;
    if (bigEvery > 0 && i % bigEvery === bigEvery - 1) return append(BIG);
    if (r < 6) {
      const a = Math.floor(Math.random() * ACCOUNTS);
      const b = (a + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
      const amt = 1 + Math.floor(Math.random() * 50);
      return txn('transfer', async () => {
        await c.run(`UPDATE accounts SET balance = balance - ${amt} WHERE id = ${a}`);
        await c.run(`UPDATE accounts SET balance = balance + ${amt} WHERE id = ${b}`);
      });
    }
    if (r < 9) return append(100 + Math.floor(Math.random() * 900));
    return txn('delete', async () => {
      const old = (await c.runAndReadAll('SELECT min(batch_id) FROM batches')).getRows()[0][0];
      if (old === null) return;
      await c.run(`DELETE FROM items WHERE batch_id = ${old}`);
      await c.run(`DELETE FROM batches WHERE batch_id = ${old}`);
    });
  };

  const stdinDone = new Promise((resolve) => {
    let buf = '';
    process.stdin.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { queue.push(buf.slice(0, nl).trim()); buf = buf.slice(nl + 1); }
    });
    process.stdin.on('end', resolve);
  });
  stdinDone.then(() => { stopping = true; });

  process.stdout.write('ready\n');
  const t0 = Date.now();
  for (let i = 0; !stopping; i++) {
    if (rate > 0) {
      const due = t0 + (i * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    while (queue.length) {
      const cmd = queue.shift();
      // one commit first: a CHECKPOINT with nothing new is a no-op that leaves the header (the fence) where it was
      if (cmd === 'checkpoint') { await append(100); await c.run('CHECKPOINT'); }
      else if (cmd === 'big') await append(BIG);
      else if (cmd === 'pause') idle = true;
      else if (cmd === 'resume') idle = false;
      else if (cmd === 'stop') stopping = true;
      // mark: the commit latencies (ms) since the last mark, for the bench
      if (cmd === 'mark') process.stdout.write(`ok mark ${JSON.stringify(latencies.splice(0))}\n`);
      else process.stdout.write(`ok ${cmd}\n`);
    }
    if (stopping) break;
    if (idle) { await new Promise((r) => setTimeout(r, 5)); continue; }
    await step(i);
    if (checkpointEvery > 0 && commits % checkpointEvery === 0) await c.run('CHECKPOINT');
  }
  c.closeSync();
  inst.closeSync();
  process.stdout.write(`${JSON.stringify({ commits, seq, latencies })}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
