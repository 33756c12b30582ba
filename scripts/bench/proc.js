'use strict';
// Process helpers for the bench: run a command as its own process group
// (so Ctrl-C handling can kill it and everything it started), time it, and
// optionally sample the memory of it and of its descendants from /proc.
const fs = require('node:fs');
const { spawn } = require('node:child_process');

let current; // the child process running now, if any

/** Kills the running child and its whole process group (its workers too). */
function killCurrent() {
  if (!current || current.exitCode !== null || current.signalCode !== null) return;
  try { process.kill(-current.pid, 'SIGKILL'); } catch { /* already gone */ }
}

const kib = (text, key) => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
};

function readStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    return { rss: kib(s, 'VmRSS'), hwm: kib(s, 'VmHWM') };
  } catch {
    return undefined;
  }
}

function ppidOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * Samples VmRSS (and VmHWM, the kernel's own peak) of `root` and of every
 * descendant every `everyMs`. New descendants are found by their parent PID
 * in /proc; to keep each tick cheap only PIDs above the root's are examined,
 * with a full /proc scan every 25th tick in case PIDs wrapped.
 */
function rssSampler(root, everyMs = 20) {
  const family = new Set([root]);
  const examined = new Set([root]);
  const main = { maxRss: 0, hwm: 0, samples: 0 };
  const workers = new Map(); // pid -> peak bytes (max of sampled VmRSS and VmHWM)
  let maxTotal = 0;
  let tick = 0;
  const sample = () => {
    tick++;
    let dirs = [];
    try { dirs = fs.readdirSync('/proc'); } catch { /* no /proc */ }
    for (const d of dirs) {
      const pid = Number(d);
      if (!Number.isInteger(pid) || examined.has(pid)) continue;
      if (pid < root && tick % 25 !== 0) continue;
      examined.add(pid);
      if (family.has(ppidOf(pid))) family.add(pid);
    }
    const m = readStatus(root);
    if (!m) return;
    main.samples++;
    main.maxRss = Math.max(main.maxRss, m.rss);
    main.hwm = Math.max(main.hwm, m.hwm);
    let total = m.rss;
    for (const pid of family) {
      if (pid === root) continue;
      const w = readStatus(pid);
      if (!w || !w.rss) continue; // gone or a zombie
      total += w.rss;
      workers.set(pid, Math.max(workers.get(pid) ?? 0, w.rss, w.hwm));
    }
    maxTotal = Math.max(maxTotal, total);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return {
        mainPeak: Math.max(main.maxRss, main.hwm), mainMaxRss: main.maxRss, mainHwm: main.hwm, samples: main.samples,
        workerCount: workers.size, workerPeak: Math.max(0, ...workers.values()), totalPeak: maxTotal,
      };
    },
  };
}

/**
 * Runs `cmd args` and resolves with { ms, code, signal, stdout, stderr, rss }.
 * `ms` is spawn to exit (wall time). `opts.rss` samples memory; `opts.stdout`
 * may be 'inherit' or a file descriptor instead of being collected.
 */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', opts.stdout ?? 'pipe', opts.stderr ?? 'pipe'] });
    current = child;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += d; });
    child.stderr?.on('data', (d) => { if (stderr.length < 100_000) stderr += d; });
    const sampler = opts.rss && child.pid ? rssSampler(child.pid) : undefined;
    let ms = 0;
    let rss;
    child.on('error', (err) => { sampler?.stop(); reject(new Error(`could not start ${cmd}: ${err.message}`)); });
    child.on('exit', () => {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      rss = sampler?.stop();
    });
    child.on('close', (code, signal) => {
      if (current === child) current = undefined;
      resolve({ ms, code, signal, stdout, stderr, rss });
    });
  });
}

module.exports = { run, killCurrent };
