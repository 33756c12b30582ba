'use strict';
// Live-backup figures for the bench (issue 9): a live backup of the bench
// database while scripts/bench/live-writer.js holds it read-write and commits
// (transfers, appends, deletes, big appends, checkpoints), against a locked
// backup of the same file with no writer; attempts per live backup; and the
// writer's commit latency p50/p99 without and with a live backup running.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { run } = require('./proc');

const WRITER = path.join(__dirname, 'live-writer.js');

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

function startWriter(node, db, args) {
  const child = spawn(node, [WRITER, db, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  const waiting = [];
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const i = waiting.findIndex((w) => line.startsWith(w.prefix));
      if (i >= 0) waiting.splice(i, 1)[0].resolve(line);
    }
  });
  const next = (prefix) => new Promise((resolve, reject) => {
    waiting.push({ prefix, resolve });
    child.once('exit', (code) => reject(new Error(`the bench writer exited (${code})`)));
  });
  const ready = next('ready');
  return ready.then(() => ({
    mark: async () => { const l = next('ok mark'); child.stdin.write('mark\n'); return JSON.parse((await l).slice('ok mark '.length)); },
    stop: async () => { const l = next('{'); child.stdin.end(); await l; },
  }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function backupOnce(node, cli, dir, backupDir, args = []) {
  const r = await run(node, [cli, 'backup', 'production', '--json', ...args], { cwd: dir });
  let out;
  try { out = JSON.parse(r.stdout); } catch { out = undefined; }
  fs.rmSync(backupDir, { recursive: true, force: true });
  return { ms: r.ms, code: r.code, backup: out && out.backups && out.backups[0], stderr: r.stderr };
}

/**
 * Returns { locked: [ms], live: [ms], attempts: [n], failures, latencyIdle: [ms], latencyLive: [ms], commits }.
 * `runs` locked backups (no writer) and `liveRuns` live backups (writer running).
 */
async function liveBackups({ node, cli, dir, dbPath, runs, liveRuns, idleMs, log }) {
  const backupDir = path.join(dir, 'backups');
  log('live backup: adding the writer\'s tables to the bench database');
  await (await startWriter(node, dbPath, ['--idle'])).stop();
  const locked = [];
  for (let i = 1; i <= runs; i++) {
    log(`live backup: locked backup ${i}/${runs} (no writer)`);
    const r = await backupOnce(node, cli, dir, backupDir);
    if (r.code !== 0 || r.backup.consistency !== 'locked') throw new Error(`locked backup failed (${r.code}): ${r.stderr}`);
    locked.push(r.ms);
  }
  // a service, not a hot loop: 200 commits/s, a 150,000-row append every 500 commits, a checkpoint every 150
  const writer = await startWriter(node, dbPath, ['--checkpoint-every', '150', '--big-every', '500', '--rate', '200']);
  const sizeBefore = fs.statSync(dbPath).size;
  try {
    await sleep(1000);
    await writer.mark(); // warm-up commits are not counted
    log(`live backup: writer alone for ${idleMs / 1000} s (commit latency without a backup)`);
    await sleep(idleMs);
    const latencyIdle = await writer.mark();
    const live = [];
    const attempts = [];
    let failures = 0;
    for (let i = 1; i <= liveRuns; i++) {
      log(`live backup: live backup ${i}/${liveRuns} while the writer commits`);
      const r = await backupOnce(node, cli, dir, backupDir);
      if (r.code === 0 && r.backup.consistency === 'live') {
        live.push(r.ms);
        attempts.push(r.backup.attempts);
      } else {
        failures++;
        log(`live backup ${i} failed (exit ${r.code}): ${r.stderr.split('\n').filter(Boolean).pop()}`);
      }
    }
    const latencyLive = await writer.mark();
    return { locked, live, attempts, failures, latencyIdle, latencyLive, sizeBefore, sizeAfter: fs.statSync(dbPath).size };
  } finally {
    await writer.stop().catch(() => undefined);
  }
}

module.exports = { liveBackups, pct };
