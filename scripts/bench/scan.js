'use strict';
// Plain DuckDB full scan, the baseline for `check` and `backup`:
// open the file READ_ONLY and read every column of every table with
// `SELECT count(*), sum(hash(COLUMNS(*))) FROM t`. Timed by the bench as a
// whole process (start-up and open included). Prints a JSON summary on stdout.
// Usage: node scripts/bench/scan.js <file.duckdb>
const { DuckDBInstance } = require('@duckdb/node-api');

const quote = (s) => `"${String(s).replace(/"/g, '""')}"`;

async function main(file) {
  const instance = await DuckDBInstance.create(file, {
    access_mode: 'READ_ONLY',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const conn = await instance.connect();
  try {
    const tables = (await conn.runAndReadAll(
      "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY ALL",
    )).getRows();
    let rows = 0;
    for (const [schema, name] of tables) {
      const r = (await conn.runAndReadAll(`SELECT count(*), sum(hash(COLUMNS(*))) FROM ${quote(schema)}.${quote(name)}`)).getRows()[0];
      rows += Number(r[0]);
    }
    process.stdout.write(`${JSON.stringify({ tables: tables.length, rows })}\n`);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(`scan failed: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
