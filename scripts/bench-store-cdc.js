#!/usr/bin/env node
'use strict';
/*
 * node scripts/bench-store-cdc.js — what content-defined chunking (CDC) would
 * gain over the store's format-aligned chunks (issue 11), measured, not
 * built: on a generated DuckDB database (BENCH_CDC_MB, default 256 MiB) and
 * a copy changed by 1% of the rows (an UPDATE, then separately an INSERT),
 * how many bytes of the new version a store would have to add:
 *   aligned: the engine's chunk plan (12,288-byte header, then one chunk per
 *            DuckDB block of block_alloc_size = 256 KiB) — what the store does;
 *   CDC:     a gear rolling hash with FastCDC's normalised cut points
 *            (min 64 KiB, average ~256 KiB, max 1 MiB).
 * Needs the built dist/ (npm run build). Everything lives in a temporary
 * folder removed at the end. Prints a table; timings are not a test.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DuckDBInstance } = require('@duckdb/node-api');
const { generate } = require('./bench/generate');
const { engineNamed } = require('../dist/engines/registry');

const MiB = 2 ** 20;
const READ = 8 * MiB;

/** Aligned chunks per the engine's plan: Map hash → length, in one streamed read. */
function alignedChunks(file) {
  const plan = engineNamed('duckdb').chunking(file);
  const out = new Map();
  const fd = fs.openSync(file, 'r');
  try {
    let pos = 0;
    for (let size = plan.headerBytes || plan.chunkBytes; ; size = plan.chunkBytes) {
      const buf = Buffer.allocUnsafe(size);
      const n = fs.readSync(fd, buf, 0, size, pos);
      if (n === 0) break;
      out.set(crypto.createHash('sha256').update(buf.subarray(0, n)).digest('hex'), n);
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { plan, chunks: out };
}

// A fixed gear table (seeded), so runs are comparable.
const GEAR = new Uint32Array(256);
{
  let s = 0x9e3779b9;
  for (let i = 0; i < 256; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; GEAR[i] = s >>> 0; }
}
const MIN = 64 * 1024;
const AVG = 256 * 1024;
const MAX = 1024 * 1024;
// FastCDC normalised chunking: a harder mask before the average size, an easier one after (top bits of the gear hash).
const MASK_S = (0xffffffff << (32 - 20)) >>> 0; // 20 bits
const MASK_L = (0xffffffff << (32 - 16)) >>> 0; // 16 bits

/** CDC chunks of `file`: Map hash → length. */
function cdcChunks(file) {
  const out = new Map();
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(READ);
  let h = 0;
  let len = 0;
  let hash = crypto.createHash('sha256');
  const cut = () => { out.set(hash.digest('hex'), len); hash = crypto.createHash('sha256'); h = 0; len = 0; };
  try {
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, buf, 0, READ, pos);
      if (n === 0) break;
      pos += n;
      let start = 0;
      for (let i = 0; i < n; i++) {
        len++;
        if (len < MIN) continue;
        h = ((h << 1) + GEAR[buf[i]]) >>> 0;
        if ((h & (len < AVG ? MASK_S : MASK_L)) === 0 || len >= MAX) {
          hash.update(buf.subarray(start, i + 1));
          start = i + 1;
          cut();
        }
      }
      if (start < n) hash.update(buf.subarray(start, n));
    }
    if (len > 0) cut();
  } finally {
    fs.closeSync(fd);
  }
  return { chunks: out };
}

/** Bytes of `next`'s distinct chunks that `prev` lacks. */
function newBytes(prev, next) {
  let bytes = 0;
  for (const [h, n] of next) if (!prev.has(h)) bytes += n;
  return bytes;
}

async function change(src, dest, sql) {
  fs.copyFileSync(src, dest);
  const instance = await DuckDBInstance.create(dest);
  const conn = await instance.connect();
  try {
    for (const s of sql) await conn.run(s);
    await conn.run('CHECKPOINT');
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function main() {
  const target = Number(process.env.BENCH_CDC_MB || 256) * MiB;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-bench-cdc-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    const v1 = path.join(tmp, 'v1.duckdb');
    const gen = await generate(v1, target, (l) => process.stderr.write(`${l}\n`));
    const scenarios = [
      ['UPDATE 1% of the rows', [`UPDATE orders SET amount = amount + 1 WHERE id % 100 = 0`, `UPDATE events SET value = value + 1 WHERE id % 100 = 0`, `UPDATE customers SET balance = balance + 1 WHERE id % 100 = 0`]],
      ['INSERT 1% more rows', [`INSERT INTO events SELECT i + ${gen.units * 4}, 'view', md5(i::VARCHAR) || md5((i * 3)::VARCHAR), random(), TIMESTAMP '2024-01-01' FROM range(0, ${Math.ceil(gen.units * 4 / 100)}) r(i)`]],
    ];
    const base = { aligned: alignedChunks(v1), cdc: cdcChunks(v1) };
    const size1 = fs.statSync(v1).size;
    const rows = [];
    for (const [name, sql] of scenarios) {
      const v2 = path.join(tmp, 'v2.duckdb');
      await change(v1, v2, sql);
      const size2 = fs.statSync(v2).size;
      const a = alignedChunks(v2);
      const c = cdcChunks(v2);
      rows.push({ name, size2, aligned: newBytes(base.aligned.chunks, a.chunks), cdc: newBytes(base.cdc.chunks, c.chunks), cdcAvg: size2 / c.chunks.size, plan: a.plan });
      fs.rmSync(v2);
    }
    const pct = (n, of) => `${((100 * n) / of).toFixed(2)}%`;
    const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;
    console.log(`database: ${mib(size1)}, ${gen.rows.toLocaleString('en-US')} rows; aligned plan ${JSON.stringify(rows[0].plan)}; CDC gear/FastCDC min 64 KiB, avg 256 KiB, max 1 MiB`);
    console.log(`${'change'.padEnd(24)}${'new file'.padStart(12)}${'aligned: new bytes'.padStart(26)}${'CDC: new bytes'.padStart(26)}${'CDC avg chunk'.padStart(16)}`);
    for (const r of rows) {
      console.log(`${r.name.padEnd(24)}${mib(r.size2).padStart(12)}${`${mib(r.aligned)} (${pct(r.aligned, r.size2)})`.padStart(26)}${`${mib(r.cdc)} (${pct(r.cdc, r.size2)})`.padStart(26)}${`${(r.cdcAvg / 1024).toFixed(0)} KiB`.padStart(16)}`);
    }
  } finally {
    cleanup();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
