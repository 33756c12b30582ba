'use strict';
// The store figures of `npm run bench` (issue 11), measured in one run on the
// bench database: BENCH_STORE_DAYS (default 30) daily backups in blocks
// format with 1% of the rows changed before each (scripts/bench/mutate.js),
// then restores of the oldest (store-only) backup. Returns the raw figures;
// scripts/bench.js prints them as ratios with their goals.
const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./proc');

const MUTATE = path.join(__dirname, 'mutate.js');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function must(what, cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}): ${cmd} ${args.join(' ')}\n${(r.stderr || r.stdout).trim().slice(0, 4000)}`);
  return r;
}

/**
 * Runs the store bench in `<dir>/store-bench` against `dbPath` (which it
 * modifies: run it last). Resolves with { days, fileBytes, storedBytes,
 * logicalBytes, backups: [ms], firstBackupMs, rss: [sampler results], cp: [ms],
 * cpSync: [ms] (cp then fsync of the copy), restore: [ms] (store-only backup),
 * restorePlain: [ms] (the newest backup, a plain file), restorePhases: [{...}] }.
 */
async function storeBackups({ node, cli, dir, dbPath, runs, days, log }) {
  const home = path.join(dir, 'store-bench');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'dbguard.config.json'), `${JSON.stringify({ backupDir: 'backups', keep: days + 10, storage: { format: 'blocks', plain: 1 }, targets: { production: { path: dbPath } } }, null, 2)}\n`);
  const sync = () => must('sync', 'sync', []);
  const backups = [];
  const rss = [];
  const ids = [];
  let firstBackupMs = 0;
  for (let day = 0; day < days; day++) {
    if (day > 0) await must('mutate', node, [MUTATE, dbPath, String(day)]);
    await sync();
    const r = await must('dbguard backup production (blocks)', node, [cli, 'backup', 'production', '--json'], { cwd: home, rss: true });
    const out = JSON.parse(r.stdout);
    const b = out.backups && out.backups[0];
    if (!out.ok || !b || b.status !== 'valid' || !b.store) throw new Error(`dbguard backup in blocks format did not produce a valid store backup:\n${r.stdout}`);
    ids.push(b.id);
    rss.push(r.rss);
    if (day === 0) firstBackupMs = r.ms; else backups.push(r.ms);
    log(`store: day ${day + 1}/${days}: backup ${(r.ms / 1000).toFixed(2)} s, ${b.store.newBlocks} new of ${b.store.blocks} blocks`);
  }
  const list = JSON.parse((await must('dbguard list', node, [cli, 'list', 'production', '--json'], { cwd: home })).stdout);
  const newest = list.backups[0];
  const plainFile = path.join(home, 'backups', path.basename(newest.file));
  const cp = [];
  const cpSync = [];
  const restore = [];
  const restorePlain = [];
  const restorePhases = [];
  const dest = path.join(home, 'restored.duckdb');
  for (let i = 1; i <= runs; i++) {
    log(`store: restore round ${i}/${runs}: cp of a backup, dbguard restore --from the oldest (store-only) backup`);
    await sync();
    cp.push((await must('cp', 'cp', [plainFile, dest])).ms);
    fs.rmSync(dest, { force: true });
    await sync();
    // a restore must be durable: cp followed by an fsync of the copy is the fair floor
    cpSync.push((await must('cp + sync', 'sh', ['-c', 'cp "$0" "$1" && sync "$1"', plainFile, dest])).ms);
    fs.rmSync(dest, { force: true });
    await sync();
    const rp = await must('dbguard restore (plain)', node, [cli, 'restore', 'production', '--from', newest.id, '--to', dest, '--yes', '--json'], { cwd: home });
    restorePlain.push(rp.ms);
    fs.rmSync(dest, { force: true });
    fs.rmSync(path.join(home, 'backups', 'pre-restore'), { recursive: true, force: true });
    await sync();
    const r = await must('dbguard restore (store)', node, [cli, 'restore', 'production', '--from', ids[0], '--to', dest, '--yes', '--json'], { cwd: home, rss: true });
    const out = JSON.parse(r.stdout);
    if (!out.ok || out.source !== 'store') throw new Error(`dbguard restore from the store failed:\n${r.stdout}`);
    restore.push(r.ms);
    restorePhases.push(out.phases || {});
    rss.push(r.rss);
    fs.rmSync(dest, { force: true });
    fs.rmSync(path.join(home, 'backups', 'pre-restore'), { recursive: true, force: true });
  }
  return {
    days, fileBytes: fs.statSync(plainFile).size, storedBytes: list.store.storedBytes, logicalBytes: list.store.logicalBytes, packs: list.store.packs,
    backups, firstBackupMs, rss, cp, cpSync, restore, restorePlain, restorePhases, median,
  };
}

module.exports = { storeBackups, median };
