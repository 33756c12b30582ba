'use strict';
// Builds the bench database: three tables with primary keys (so there are
// ART index blocks too), hex strings from md5() and random doubles, so the
// file is mostly incompressible and ~1 GiB comes from ~10 M rows. Rows are
// added in rounds until the checkpointed file reaches the target size.
const fs = require('node:fs');
const { DuckDBInstance } = require('@duckdb/node-api');

const SCHEMA = [
  `CREATE TABLE customers (
     id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR NOT NULL,
     country VARCHAR, balance DOUBLE, created_at TIMESTAMP)`,
  `CREATE TABLE orders (
     id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, amount DOUBLE,
     status VARCHAR, reference VARCHAR, created_at TIMESTAMP)`,
  `CREATE TABLE events (
     id BIGINT PRIMARY KEY, kind VARCHAR, payload VARCHAR, value DOUBLE, happened_at TIMESTAMP)`,
  'CREATE SEQUENCE order_seq',
  'CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 900',
];

// Per "unit" of growth: 1 customer, 2 orders, 4 events.
const TABLES = [
  { name: 'customers', per: 1, select: (a, b) => `
      SELECT i, md5(i::VARCHAR), md5((i * 31)::VARCHAR) || '@example.com',
             ['NL','DE','FR','US','GB','SE','ES','IT'][1 + (hash(i) % 8)::INT],
             random() * 10000, TIMESTAMP '2015-01-01' + to_seconds((hash(i) % 315360000)::BIGINT)
      FROM range(${a}, ${b}) r(i)` },
  { name: 'orders', per: 2, select: (a, b) => `
      SELECT i, (hash(i) % 1000000)::BIGINT, random() * 1000,
             ['new','paid','shipped','returned'][1 + (hash(i * 7) % 4)::INT],
             md5((i * 17)::VARCHAR), TIMESTAMP '2018-01-01' + to_seconds((hash(i * 3) % 220000000)::BIGINT)
      FROM range(${a}, ${b}) r(i)` },
  { name: 'events', per: 4, select: (a, b) => `
      SELECT i, ['view','click','buy','search','login'][1 + (hash(i) % 5)::INT],
             md5((i * 13)::VARCHAR) || md5((i * 29)::VARCHAR), random(),
             TIMESTAMP '2020-01-01' + to_seconds((hash(i * 5) % 150000000)::BIGINT)
      FROM range(${a}, ${b}) r(i)` },
];

/**
 * Creates `file` and grows it to at least `targetBytes` (checkpointed size).
 * `log` receives progress lines. Resolves with { bytes, units, rows }.
 */
async function generate(file, targetBytes, log) {
  const instance = await DuckDBInstance.create(file);
  const conn = await instance.connect();
  try {
    for (const sql of SCHEMA) await conn.run(sql);
    await conn.run('CHECKPOINT');
    const size = () => fs.statSync(file).size;
    let units = 0;
    let bytesPerUnit = 0;
    const t0 = Date.now();
    // First round is small, to learn bytes per unit; later rounds aim for the
    // target (+2%), at most ~128 MiB per round so progress stays visible.
    let next = 50_000;
    for (let round = 1; ; round++) {
      const before = size();
      for (const t of TABLES) {
        await conn.run(`INSERT INTO ${t.name} ${t.select(units * t.per, (units + next) * t.per)}`);
      }
      await conn.run('CHECKPOINT');
      units += next;
      const after = size();
      if (after > before) bytesPerUnit = Math.max(bytesPerUnit * 0.5, (after - before) / next);
      const rows = units * TABLES.reduce((s, t) => s + t.per, 0);
      log(`generate: round ${round}: ${(after / 2 ** 20).toFixed(0)} MiB of ${(targetBytes / 2 ** 20).toFixed(0)} MiB, ${rows.toLocaleString('en-US')} rows, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      if (after >= targetBytes) return { bytes: after, units, rows };
      const perUnit = bytesPerUnit || 200;
      const wanted = Math.ceil(((targetBytes - after) * 1.02) / perUnit);
      next = Math.max(10_000, Math.min(wanted, Math.ceil((128 * 2 ** 20) / perUnit)));
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

module.exports = { generate };

// As a child process of the bench: node generate.js <file> <targetBytes>
// Progress on stderr, the result as JSON on stdout.
if (require.main === module) {
  generate(process.argv[2], Number(process.argv[3]), (line) => process.stderr.write(`${line}\n`))
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((err) => {
      process.stderr.write(`generate failed: ${err && err.message ? err.message : err}\n`);
      process.exit(1);
    });
}
