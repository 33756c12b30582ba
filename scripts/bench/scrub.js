'use strict';
// dbguard's block scrub alone (the built dist/ code): read the header, then
// verify every block's checksum. Timed by the bench as a whole process.
// Prints a JSON summary on stdout; exit 1 if any block is bad.
// Usage: node scripts/bench/scrub.js <dist dir> <file.duckdb>
const path = require('node:path');

async function main(dist, file) {
  const { readFileHeader } = require(path.join(dist, 'engines', 'duckdb', 'header.js'));
  const { scrubBlocks } = require(path.join(dist, 'engines', 'duckdb', 'scrub.js'));
  const header = readFileHeader(file);
  if (!header.active) throw new Error(`${file}: no valid database header (kind ${header.kind})`);
  const r = await scrubBlocks(file, header.active);
  process.stdout.write(`${JSON.stringify({ blockCount: r.blockCount, checked: r.checked, bad: r.badBlocks.length + r.badFreeBlocks.length + r.missingBlocks.length, bytesRead: r.bytesRead })}\n`);
  if (r.badBlocks.length || r.missingBlocks.length) process.exit(1);
}

main(process.argv[2], process.argv[3]).catch((err) => {
  process.stderr.write(`scrub failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
