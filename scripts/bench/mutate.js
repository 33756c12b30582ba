'use strict';
// One "day" of changes for the store bench: updates 1% of the rows of every
// table of the bench database (a contiguous id range that moves each day, as
// recent rows are the ones that change), then checkpoints so the file holds
// the change. Usage: node scripts/bench/mutate.js <file.duckdb> <day>
const { DuckDBInstance } = require('@duckdb/node-api');

async function main(file, day) {
  const instance = await DuckDBInstance.create(file, { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  try {
    let changed = 0;
    for (const [table, column] of [['customers', 'balance'], ['orders', 'amount'], ['events', 'value']]) {
      const [n] = (await conn.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0];
      const rows = Number(n);
      const width = Math.max(1, Math.floor(rows / 100));
      const start = (day * 7919 * width) % Math.max(1, rows - width);
      await conn.run(`UPDATE ${table} SET ${column} = ${column} + ${day + 1} WHERE id >= ${start} AND id < ${start + width}`);
      changed += width;
    }
    await conn.run('CHECKPOINT');
    process.stdout.write(`${JSON.stringify({ changed })}\n`);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

main(process.argv[2], Number(process.argv[3] ?? 0)).catch((err) => {
  process.stderr.write(`mutate: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
