'use strict';
// Daemon figures for the bench (issue 5): the overhead of a scheduled backup
// over the same backup run by the CLI, and the idle daemon's memory with 10
// targets. The daemon runs as a real `dbguard daemon` process; its job history
// (backups/.dbguard-history.jsonl) says when and how long each run took.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const NEVER = '0 3 1 1 *'; // 03:00 on 1 January: no scheduled run during the bench, only the catch-up

function readHistory(backupDir) {
  try {
    return fs.readFileSync(path.join(backupDir, '.dbguard-history.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function rssOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (key) => Number((new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s) || [0, 0])[1]) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

async function until(what, cond, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `dbguard daemon --config <file>` in its own process group; `stop()` sends SIGTERM and waits. */
function startDaemon(node, cli, dir, configFile) {
  const child = spawn(node, [cli, 'daemon', '--config', configFile], { cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 50_000) stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    pid: child.pid,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const r = await exited;
      if (r.code !== 0) throw new Error(`dbguard daemon exited ${r.signal ?? r.code}:\n${stderr.slice(-3000)}`);
    },
    kill() { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } },
  };
}

/**
 * Runs the daemon `runs` times on a config with one target and no previous
 * backup, so its catch-up backs the target up at once; returns each run's
 * duration as the daemon recorded it (ms).
 */
async function scheduledBackups({ node, cli, dir, dbPath, runs, log }) {
  const backupDir = path.join(dir, 'daemon-backups');
  const configFile = path.join(dir, 'daemon.config.json');
  fs.writeFileSync(configFile, JSON.stringify({ backupDir, targets: { production: { path: dbPath } }, schedule: { backup: NEVER, check: NEVER, timezone: 'local' }, http: { host: '127.0.0.1', port: 0 } }));
  const durations = [];
  for (let i = 1; i <= runs; i++) {
    log(`daemon round ${i}/${runs}: a scheduled (catch-up) backup by dbguard daemon`);
    fs.rmSync(backupDir, { recursive: true, force: true });
    const d = startDaemon(node, cli, dir, configFile);
    try {
      const rec = await until('the daemon\'s backup', () => {
        if (!d.alive()) throw new Error(`dbguard daemon stopped:\n${d.stderr().slice(-3000)}`);
        return readHistory(backupDir).find((r) => r.kind === 'backup' && (r.state === 'succeeded' || r.state === 'failed'));
      }, 600_000);
      if (rec.state !== 'succeeded') throw new Error(`the daemon's backup failed: ${JSON.stringify(rec.error)}`);
      durations.push(rec.durationMs);
      await d.stop();
    } catch (err) {
      d.kill();
      throw err;
    }
  }
  fs.rmSync(backupDir, { recursive: true, force: true });
  return durations;
}

/**
 * Starts the daemon with 10 small targets, lets its catch-up back each up,
 * then leaves it idle for `idleSeconds` and reads its memory.
 */
async function idleMemory({ node, cli, dir, dist, idleSeconds, log }) {
  const data = path.join(dir, 'idle-data');
  fs.mkdirSync(data, { recursive: true });
  const { runWorker } = require(path.join(dist, 'engines', 'duckdb', 'client.js'));
  const { demoSql } = require(path.join(dist, 'engines', 'duckdb', 'demo-data.js'));
  const first = path.join(data, 't01.duckdb');
  await runWorker({ action: 'execute', file: first, sql: demoSql('bench', 1) });
  const targets = {};
  for (let i = 1; i <= 10; i++) {
    const name = `t${String(i).padStart(2, '0')}`;
    const file = path.join(data, `${name}.duckdb`);
    if (i > 1) fs.copyFileSync(first, file);
    targets[name] = { path: file };
  }
  const backupDir = path.join(dir, 'idle-backups');
  const configFile = path.join(dir, 'idle.config.json');
  fs.writeFileSync(configFile, JSON.stringify({ backupDir, targets, schedule: { backup: NEVER, check: NEVER, timezone: 'local' }, http: { host: '127.0.0.1', port: 0 } }));
  log(`idle daemon: 10 targets of ${(fs.statSync(first).size / 2 ** 20).toFixed(1)} MiB; catch-up backups, then ${idleSeconds} s idle`);
  const d = startDaemon(node, cli, dir, configFile);
  try {
    await until('10 catch-up backups', () => readHistory(backupDir).filter((r) => r.kind === 'backup' && r.state === 'succeeded').length >= 10, 600_000);
    const afterCatchUp = rssOf(d.pid);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idle = rssOf(d.pid);
    await d.stop();
    return { afterCatchUp, idle };
  } catch (err) {
    d.kill();
    throw err;
  }
}

module.exports = { scheduledBackups, idleMemory };
