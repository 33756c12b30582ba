#!/usr/bin/env node
'use strict';
/*
 * npm run bench — dbguard's performance figures (issues 2 and 3), in one run,
 * on a generated DuckDB database of at least 1 GiB (BENCH_SIZE_MB overrides
 * the size, e.g. BENCH_SIZE_MB=100 npm run bench for a quick try).
 *
 *   1. check (full) ÷ (plain DuckDB full scan + dbguard block scrub)   goal ≤ 1.3
 *   2. dbguard --version start time, median of 10                      goal < 0.25 s
 *   3. backup copy phase ÷ cp                                           goal ≤ 1.1
 *      whole backup ÷ (cp + plain DuckDB full scan of the copy)         goal ≤ 1.3
 *      peak RSS of the dbguard process                                  goal < 300 MiB
 *   4. a scheduled backup (dbguard daemon) ÷ the same backup by the CLI goal ≤ 1.05
 *      idle daemon RSS after 60 s with 10 targets (BENCH_IDLE_S)        goal ≤ 100 MiB
 *   5. live backup (a writer holds the file and commits) ÷ locked backup goal ≤ 1.3
 *      writer commit latency p99 during live backups ÷ without          goal ≤ 2
 *      attempts per live backup (BENCH_LIVE_RUNS live backups, default 10)
 *   6. store (storage.format "blocks", issue 11), BENCH_STORE_DAYS daily backups
 *      (default 30) with 1% of the rows updated before each:
 *      store size ÷ one copy                                           goal ≤ 1.5
 *      daily backup in blocks format ÷ (cp + plain full scan of copy)  goal ≤ 1.3
 *      restore from the store ÷ cp                                     goal ≤ 1.5
 *      peak RSS of dbguard during those backups and restores           goal < 300 MiB
 *
 *   7. remote (issue 12), against a local S3-compatible server (s3rver):
 *      push after 1% of the rows changed ÷ database size (the server's
 *      own stored object bytes)                                        goal ≤ 5%
 *      restore --remote ÷ cp                                           goal ≤ 2
 *
 * BENCH_ONLY=store runs only the backup baseline (3) and the store figures (6);
 * BENCH_ONLY=remote only the backup baseline (3) and the remote figures (7).
 *
 * Every timing is the median of 3 runs, warm cache (the file is read once
 * before timing; dropping the page cache needs root). Pending writes are
 * flushed with `sync` (untimed) before each timed command so one
 * measurement's writeback does not land in the next. Everything lives in a
 * temporary folder that is removed at the end, on error and on Ctrl-C.
 * Needs the built CLI (npm run build); it runs a copy of dist/ taken at the
 * start, so a rebuild elsewhere mid-run cannot mix two builds. The DuckDB
 * baselines are scripts/bench/scan.js and scrub.js, the data generator
 * scripts/bench/generate.js. Exits 0 whether or not goals are met:
 * timings are information, not a test.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { run, killCurrent } = require('./bench/proc');
const daemonBench = require('./bench/daemon');
const liveBench = require('./bench/live');
const storeBench = require('./bench/store');
const remoteBench = require('./bench/remote');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const SCAN = path.join(__dirname, 'bench', 'scan.js');
const SCRUB = path.join(__dirname, 'bench', 'scrub.js');
const GENERATE = path.join(__dirname, 'bench', 'generate.js');
const NODE = process.execPath;
const RUNS = 3;
const VERSION_RUNS = 10;
const MiB = 2 ** 20;

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const sec = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 2)} s`;
const mib = (bytes) => `${(bytes / MiB).toFixed(0)} MiB`;
const runsOf = (xs) => `[${xs.map((x) => (x / 1000).toFixed(3)).join(', ')}]`;

let tmp;
function cleanup() {
  killCurrent();
  if (tmp) {
    try { fs.rmSync(tmp, { recursive: true, force: true }); } catch (err) { log(`could not remove ${tmp}: ${err.message}`); }
    tmp = undefined;
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping and removing the temporary folder`);
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

function requireBuild() {
  const needed = [path.join(DIST, 'cli', 'main.js'), path.join(DIST, 'engines', 'duckdb', 'header.js'), path.join(DIST, 'engines', 'duckdb', 'scrub.js'), path.join(DIST, 'engines', 'duckdb', 'worker.js')];
  const missing = needed.filter((f) => !fs.existsSync(f));
  if (missing.length) {
    process.stderr.write(`bench: the built CLI is missing (${missing.map((f) => path.relative(ROOT, f)).join(', ')}).\n  Run \`npm run build\` first, then \`npm run bench\` again.\n`);
    process.exit(1);
  }
}

/** Runs a command and throws with its stderr when it fails. */
async function must(what, cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}): ${cmd} ${args.join(' ')}\n${(r.stderr || r.stdout).trim().slice(0, 4000)}`);
  }
  return r;
}

const sync = () => must('sync', 'sync', []);

/** Newest modification time under dist/. */
function distStamp(dir = DIST) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? distStamp(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Copies dist/ (and package.json, with node_modules linked) into the
 * temporary folder, so every run measures the same build even when someone
 * runs `npm run build` / `npm test` meanwhile. Waits until dist/ has been
 * quiet for 5 s and checks it did not change during the copy.
 */
async function snapshotBuild(dest) {
  for (let attempt = 1; ; attempt++) {
    let stamp = 0;
    try { stamp = distStamp(); } catch { /* being rewritten */ }
    if (stamp && Date.now() - stamp >= 5000) {
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(dest, { recursive: true });
      fs.cpSync(DIST, path.join(dest, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dest, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
      let after = 0;
      try { after = distStamp(); } catch { /* being rewritten */ }
      if (after === stamp) return stamp;
    }
    if (attempt >= 60) throw new Error('dist/ keeps changing (a build running elsewhere?); run the bench again when it is quiet');
    if (attempt === 1) log('dist/ is being rebuilt; waiting for it to settle');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function main() {
  requireBuild();
  const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1024);
  if (!Number.isFinite(sizeMb) || sizeMb <= 0) throw new Error(`BENCH_SIZE_MB must be a positive number of MiB (got "${process.env.BENCH_SIZE_MB}")`);
  const target = Math.round(sizeMb * MiB);
  const only = process.env.BENCH_ONLY;
  if (only !== undefined && only !== 'store' && only !== 'remote') throw new Error(`BENCH_ONLY must be "store" or "remote" (got "${only}")`);
  const storeDays = Number(process.env.BENCH_STORE_DAYS ?? 30);
  if (!Number.isInteger(storeDays) || storeDays < 2) throw new Error(`BENCH_STORE_DAYS must be a whole number ≥ 2 (got "${process.env.BENCH_STORE_DAYS}")`);
  const loadStart = os.loadavg();

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-bench-'));
  fs.mkdirSync(path.join(tmp, 'data'));
  const db = path.join(tmp, 'data', 'production.duckdb');
  const backupDir = path.join(tmp, 'backups');
  const copy = path.join(tmp, 'cp-copy.duckdb');
  fs.writeFileSync(path.join(tmp, 'dbguard.config.json'), `${JSON.stringify({ backupDir: 'backups', targets: { production: { path: 'data/production.duckdb' } } }, null, 2)}\n`);
  log(`temporary folder ${tmp}`);
  const build = path.join(tmp, 'build');
  const builtAt = await snapshotBuild(build);
  const dist = path.join(build, 'dist');
  const CLI = path.join(dist, 'cli', 'main.js');

  // --- the database -------------------------------------------------------
  log(`generating a DuckDB database of at least ${mib(target)} ...`);
  const gen = await must('generating the database', NODE, [GENERATE, db, String(target)], { stderr: 'inherit' });
  const genInfo = JSON.parse(gen.stdout);
  const fileSize = fs.statSync(db).size;
  log(`generated ${mib(fileSize)}, ${genInfo.rows.toLocaleString('en-US')} rows in ${sec(gen.ms)}`);

  log('warm-up read of the file (cat > /dev/null) so every measurement is warm-cache');
  const devNull = fs.openSync('/dev/null', 'w');
  const warm = await must('warm-up read', 'cat', [db], { stdout: devNull });
  fs.closeSync(devNull);
  await sync();

  // --- 2. start-up ---------------------------------------------------------
  log(`dbguard --version x ${VERSION_RUNS} (and bare node for comparison)`);
  await must('dbguard --version', NODE, [CLI, '--version']); // warm-up, untimed
  const version = [];
  const bare = [];
  let versionText = '';
  for (let i = 0; i < (only ? 0 : VERSION_RUNS); i++) {
    const r = await must('dbguard --version', NODE, [CLI, '--version'], { cwd: tmp });
    versionText = r.stdout.trim();
    version.push(r.ms);
    bare.push((await must('node -e 0', NODE, ['-e', '0'])).ms);
  }

  // --- 1. check -------------------------------------------------------------
  const scan = [];
  const scrub = [];
  const check = [];
  const checkRss = [];
  const quick = [];
  const scanRss = [];
  let scanInfo;
  let checkInfo;
  for (let i = 1; i <= (only ? 0 : RUNS); i++) {
    log(`check round ${i}/${RUNS}: plain DuckDB full scan, block scrub, dbguard check production (full, then --quick)`);
    await sync();
    const s = await must('plain DuckDB full scan', NODE, [SCAN, db], { rss: true });
    scan.push(s.ms);
    scanRss.push(s.rss);
    scanInfo = JSON.parse(s.stdout);
    await sync();
    const b = await must('block scrub', NODE, [SCRUB, dist, db]);
    scrub.push(b.ms);
    await sync();
    const c = await must('dbguard check production', NODE, [CLI, 'check', 'production', '--json'], { cwd: tmp, rss: true });
    check.push(c.ms);
    checkRss.push(c.rss);
    checkInfo = JSON.parse(c.stdout);
    if (!checkInfo.ok) throw new Error(`dbguard check reported damage on the generated file:\n${c.stdout}`);
    await sync();
    quick.push((await must('dbguard check production --quick', NODE, [CLI, 'check', 'production', '--quick', '--json'], { cwd: tmp })).ms);
  }
  const checkRows = only ? 0 : checkInfo.targets[0].tables.reduce((n, t) => n + Number(t.rows), 0);
  if (!only && checkRows !== scanInfo.rows) throw new Error(`row counts differ: check ${checkRows}, plain scan ${scanInfo.rows}`);

  // --- 3. backup ------------------------------------------------------------
  const cp = [];
  const cpSync = [];
  const scanCopy = [];
  const backup = [];
  const copyPhase = [];
  const backupRss = [];
  const phaseRuns = [];
  const backupInternal = [];
  for (let i = 1; i <= RUNS; i++) {
    log(`backup round ${i}/${RUNS}: cp, plain DuckDB full scan of the copy, dbguard backup production`);
    await sync();
    cp.push((await must('cp', 'cp', [db, copy])).ms);
    const t0 = Date.now();
    await sync();
    cpSync.push(cp[cp.length - 1] + (Date.now() - t0));
    scanCopy.push((await must('plain DuckDB full scan of the copy', NODE, [SCAN, copy])).ms);
    fs.rmSync(copy, { force: true });
    fs.rmSync(`${copy}.wal`, { force: true });
    await sync();
    const r = await must('dbguard backup production', NODE, [CLI, 'backup', 'production', '--json'], { cwd: tmp, rss: true });
    const out = JSON.parse(r.stdout);
    const b = out.backups && out.backups[0];
    if (!out.ok || !b || b.status !== 'valid') throw new Error(`dbguard backup did not produce a valid backup:\n${r.stdout}`);
    if (typeof b.phases?.copy !== 'number') throw new Error(`dbguard backup --json has no backups[0].phases.copy:\n${r.stdout}`);
    backup.push(r.ms);
    backupInternal.push(b.durationMs);
    copyPhase.push(b.phases.copy);
    phaseRuns.push(b.phases);
    backupRss.push(r.rss);
    // Keep every round identical: no earlier backups to rotate or read.
    fs.rmSync(backupDir, { recursive: true, force: true });
  }

  // --- 4. daemon --------------------------------------------------------------
  const scheduled = only ? [] : await daemonBench.scheduledBackups({ node: NODE, cli: CLI, dir: tmp, dbPath: db, runs: RUNS, log });
  const idleSeconds = Number(process.env.BENCH_IDLE_S ?? 60);
  const idle = only ? undefined : await daemonBench.idleMemory({ node: NODE, cli: CLI, dir: tmp, dist, idleSeconds, log });
  // --- 5. live backup ---------------------------------------------------------
  const liveRuns = Number(process.env.BENCH_LIVE_RUNS ?? 10);
  const lv = only ? undefined : await liveBench.liveBackups({ node: NODE, cli: CLI, dir: tmp, dbPath: db, runs: RUNS, liveRuns, idleMs: 10000, log });
  // --- 6. store (last: it changes the database) --------------------------------
  const st = only === 'remote' ? undefined : await storeBench.storeBackups({ node: NODE, cli: CLI, dir: tmp, dbPath: db, runs: RUNS, days: storeDays, log });
  // --- 7. remote (after the store: it changes the database too) ----------------
  const rm = only === 'store' ? undefined : await remoteBench.remoteFigures({ node: NODE, cli: CLI, dir: tmp, dbPath: db, runs: RUNS, log });
  const loadEnd = os.loadavg();

  // --- report ---------------------------------------------------------------
  const cpus = os.cpus();
  const lines = [];
  const goals = [];
  const out = (s = '') => lines.push(s);
  const figure = (label, value, goal, ok, detail) => {
    goals.push(ok);
    out(`${label.padEnd(40)} ${value.padStart(10)}   goal ${goal.padEnd(9)} ${ok ? 'OK    ' : 'MISSED'}  ${detail}`);
  };

  out('dbguard bench');
  out(`machine: ${os.availableParallelism ? os.availableParallelism() : cpus.length} CPUs (nproc), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${cpus[0] ? cpus[0].model.trim() : 'unknown CPU'}, ${os.platform()} ${os.release()}, Node ${process.version}`);
  out(`load average: ${loadStart.map((x) => x.toFixed(2)).join(' ')} at start, ${loadEnd.map((x) => x.toFixed(2)).join(' ')} at end (the machine may be shared; timings are wall time)`);
  out(`database: ${mib(fileSize)} (${fileSize.toLocaleString('en-US')} bytes), ${genInfo.rows.toLocaleString('en-US')} rows, generated in ${sec(gen.ms)} in ${tmp} (removed at the end)`);
  out(`cache: warm — the file was read once (cat > /dev/null, ${sec(warm.ms)}) before timing; the page cache is not dropped (needs root). \`sync\` (untimed) before each timed command.`);
  out(`build: a copy of dist/ as built at ${new Date(builtAt).toISOString()} (the same build for every run)`);
  out(`timings: wall time of each process from spawn to exit, median of ${RUNS} runs (start-up: median of ${VERSION_RUNS}); all runs in seconds in brackets`);
  out();

  if (!only) {
  const mCheck = median(check);
  const mScan = median(scan);
  const mScrub = median(scrub);
  const rCheck = mCheck / (mScan + mScrub);
  figure('check ÷ (plain full scan + block scrub)', rCheck.toFixed(2), '≤ 1.3', rCheck <= 1.3,
    `check ${sec(mCheck)} ÷ (scan ${sec(mScan)} + scrub ${sec(mScrub)} = ${sec(mScan + mScrub)})`);

  const mVersion = median(version);
  figure('dbguard --version start-up', sec(mVersion), '< 0.25 s', mVersion < 250,
    `bare \`node -e 0\` ${sec(median(bare))} for comparison; prints "${versionText}"`);
  }

  const mCp = median(cp);
  const mCopy = median(copyPhase);
  const rCopy = mCopy / mCp;
  figure('backup copy phase ÷ cp', rCopy.toFixed(2), '≤ 1.1', rCopy <= 1.1,
    `copy phase ${sec(mCopy)} (backups[0].phases.copy: the bytes copied under the shared lock) ÷ cp ${sec(mCp)}`);

  const mBackup = median(backup);
  const mScanCopy = median(scanCopy);
  const rBackup = mBackup / (mCp + mScanCopy);
  figure('backup ÷ (cp + plain full scan of copy)', rBackup.toFixed(2), '≤ 1.3', rBackup <= 1.3,
    `backup ${sec(mBackup)} ÷ (cp ${sec(mCp)} + scan ${sec(mScanCopy)} = ${sec(mCp + mScanCopy)})`);

  const peak = Math.max(...backupRss.map((r) => r.mainPeak));
  figure('backup peak RSS, dbguard main process', mib(peak), '< 300 MiB', peak < 300 * MiB,
    `VmHWM ${mib(Math.max(...backupRss.map((r) => r.mainHwm)))}, max sampled VmRSS ${mib(Math.max(...backupRss.map((r) => r.mainMaxRss)))} (every 20 ms), highest of ${RUNS} runs`);

  const mInternal = median(backupInternal);
  if (!only) {
  const mScheduled = median(scheduled);
  const rScheduled = mScheduled / mInternal;
  figure('scheduled backup ÷ CLI backup', rScheduled.toFixed(2), '≤ 1.05', rScheduled <= 1.05,
    `daemon run ${sec(mScheduled)} (its job history) ÷ CLI ${sec(mInternal)} (backups[0].durationMs), same file`);
  figure(`idle daemon RSS, 10 targets, ${idleSeconds} s`, mib(idle.idle.rss), '≤ 100 MiB', idle.idle.rss <= 100 * MiB,
    `VmRSS after ${idleSeconds} s idle (${mib(idle.afterCatchUp.rss)} right after the 10 catch-up backups; VmHWM ${mib(idle.idle.hwm)})`);
  const mLive = median(lv.live);
  const mLocked = median(lv.locked);
  figure('live backup (writer running) ÷ locked', (mLive / mLocked).toFixed(2), '≤ 1.3', mLive / mLocked <= 1.3,
    `live ${sec(mLive)} (${lv.live.length} of ${liveRuns} succeeded, ${lv.failures} exit 5) ÷ locked ${sec(mLocked)} (no writer)`);
  const p99Idle = liveBench.pct(lv.latencyIdle, 99);
  const p99Live = liveBench.pct(lv.latencyLive, 99);
  figure('commit p99 during live backups ÷ without', (p99Live / p99Idle).toFixed(2), '≤ 2', p99Live / p99Idle <= 2,
    `p99 ${p99Live.toFixed(1)} ms (p50 ${liveBench.pct(lv.latencyLive, 50).toFixed(1)} ms, ${lv.latencyLive.length} commits) vs p99 ${p99Idle.toFixed(1)} ms (p50 ${liveBench.pct(lv.latencyIdle, 50).toFixed(1)} ms, ${lv.latencyIdle.length} commits in 10 s) without`);
  }

  if (rm) {
    const rPush = rm.incremental.stored / rm.fileBytes;
    figure('push after a 1% change ÷ database size', `${(100 * rPush).toFixed(2)}%`, '≤ 5%', rPush <= 0.05,
      `the server stored ${mib(rm.incremental.stored)} of new objects (dbguard counted ${mib(rm.incremental.uploaded)} sent) for a ${mib(rm.fileBytes)} backup; the first push stored ${mib(rm.first.stored)}`);
    const mR = median(rm.restore);
    const mRcp = median(rm.cp);
    figure('restore --remote ÷ cp', (mR / mRcp).toFixed(2), '≤ 2', mR / mRcp <= 2,
      `restore --remote from the local server ${sec(mR)} ÷ cp of the backup ${sec(mRcp)}`);
    const remotePeak = Math.max(...rm.rss.map((r) => r.mainPeak));
    figure('push/restore --remote peak RSS', mib(remotePeak), '< 300 MiB', remotePeak < 300 * MiB, `dbguard main process, highest of ${rm.rss.length} runs`);
  }
  if (st) {
  const rStore = st.storedBytes / st.fileBytes;
  figure(`store after ${st.days} daily backups ÷ one copy`, rStore.toFixed(2), '≤ 1.5', rStore <= 1.5,
    `store ${mib(st.storedBytes)} (${st.packs} packs) ÷ the newest backup ${mib(st.fileBytes)}; ${mib(st.logicalBytes)} as plain copies (${(st.logicalBytes / st.fileBytes).toFixed(1)}×)`);
  const mBlocks = median(st.backups);
  const rBlocks = mBlocks / (mCp + mScanCopy);
  figure('blocks backup ÷ (cp + plain full scan)', rBlocks.toFixed(2), '≤ 1.3', rBlocks <= 1.3,
    `daily backup in blocks format ${sec(mBlocks)} (median of ${st.backups.length}) ÷ (cp ${sec(mCp)} + scan ${sec(mScanCopy)}); plain backup ${sec(mBackup)}`);
  const mRestore = median(st.restore);
  const mStoreCp = median(st.cp);
  figure('restore from the store ÷ cp', (mRestore / mStoreCp).toFixed(2), '≤ 1.5', mRestore / mStoreCp <= 1.5,
    `restore --from the oldest backup ${sec(mRestore)} ÷ cp of a backup ${sec(mStoreCp)}`);
  const storePeak = Math.max(...st.rss.map((r) => r.mainPeak));
  figure('blocks backup/restore peak RSS', mib(storePeak), '< 300 MiB', storePeak < 300 * MiB,
    `dbguard main process, highest of ${st.rss.length} runs (VmHWM and VmRSS sampled every 20 ms)`);
  }
  out();

  const workerPeak = Math.max(...backupRss.map((r) => r.workerPeak));
  out('not goals, for context:');
  const phaseOf = (n) => median(st.restorePhases.map((p) => p[n] ?? 0));
  if (rm) {
    const ph = (n) => median(rm.phases.map((p) => p[n] ?? 0));
    out(`  restore --remote phases (median): ${[...new Set(rm.phases.flatMap((p) => Object.keys(p)))].map((n) => `${n} ${sec(ph(n))}`).join(', ')}; the rest is process start-up, opening the remote (bucket, config.json, indexes) and exit`);
    out(`  restore --remote ÷ (cp + sync of the copy) = ${(median(rm.restore) / median(rm.cpSync)).toFixed(2)} (${sec(median(rm.restore))} ÷ ${sec(median(rm.cpSync))})`);
    out(`  push after 1% change: ${sec(rm.incremental.pushMs)} (first push ${sec(rm.first.pushMs)}, ${mib(rm.first.uploaded)} sent)`);
  }
  if (st) out(`  restore from the store ÷ (cp + sync of the copy) = ${(median(st.restore) / median(st.cpSync)).toFixed(2)} (${sec(median(st.restore))} ÷ ${sec(median(st.cpSync))}): a restore fsyncs the file before it swaps it in, cp does not; restore of the newest backup from its plain file ${sec(median(st.restorePlain))} (÷ cp + sync = ${(median(st.restorePlain) / median(st.cpSync)).toFixed(2)})`);
  if (st) out(`  store: the first backup in blocks format (every block new) took ${sec(st.firstBackupMs)}; restore from the store = write and hash-check the blocks ${sec(phaseOf('prepare'))} + full read by DuckDB ${sec(phaseOf('read'))} + place ${sec(phaseOf('place'))} + quick check ${sec(phaseOf('check'))} (medians)`);
  if (!only) {
  out(`  live backup: the writer commits 200 transactions/s (transfers, appends, deletes, a 150,000-row append every 500, a CHECKPOINT every 150); the file grew from ${mib(lv.sizeBefore)} to ${mib(lv.sizeAfter)} during the live runs`);
  out(`  attempts per live backup: ${lv.attempts.join(', ')} (mean ${(lv.attempts.reduce((a, b) => a + b, 0) / Math.max(1, lv.attempts.length)).toFixed(2)}); a retry means a checkpoint of the writer moved the fence during the copy`);
  out(`  backup peak RSS of one DuckDB worker (child process of dbguard): ${mib(workerPeak)}; ${backupRss.map((r) => r.workerCount).join('/')} workers seen per run; main + workers at once: ${mib(Math.max(...backupRss.map((r) => r.totalPeak)))}`);
  out(`  check peak RSS: dbguard main process ${mib(Math.max(...checkRss.map((r) => r.mainPeak)))}, one DuckDB worker ${mib(Math.max(...checkRss.map((r) => r.workerPeak)))}; the plain DuckDB full scan process: ${mib(Math.max(...scanRss.map((r) => r.mainPeak)))}`);
  out(`  check --quick (header, open, catalog, row counts, NULL primary keys; no full read, no scrub): ${sec(median(quick))}`);
  }
  const phaseNames = [...new Set(phaseRuns.flatMap((p) => Object.keys(p)))];
  const phaseMedians = phaseNames.map((n) => [n, median(phaseRuns.map((p) => p[n] ?? 0))]);
  // `copy` is the part of `snapshot` spent copying bytes; count it once
  const phaseSum = phaseMedians.filter(([n]) => !['copy', 'readBack', 'hash', 'fsync'].includes(n)).reduce((s, [, v]) => s + v, 0);
  out(`  backup phases (median): ${phaseMedians.map(([n, v]) => `${n} ${sec(v)} (${((100 * v) / mBackup).toFixed(0)}%)`).join(', ')}; process start-up, lock, rotation and exit ${sec(Math.max(0, mBackup - phaseSum))}`);
  out(`  snapshot = worker start, read-only open (the shared lock), catalog and the copy; copy is its byte-copying part.`);
  out(`  validate = readBack (the worker's full read of the copy) beside hash (sha256) and fsync, which run side by side in the dbguard process.`);
  out(`  cp then sync (the writeback a durable copy waits for): ${sec(median(cpSync))}; backup ÷ (cp + sync + plain scan) = ${(mBackup / (median(cpSync) + mScanCopy)).toFixed(2)}`);
  out(`  cp copies without fsync; backup fsyncs the copy (beside its validation read, in the validate phase).`);
  out();
  out('all runs (s):');
  out(`  plain full scan      ${runsOf(scan)}`);
  out(`  block scrub          ${runsOf(scrub)}`);
  out(`  check production     ${runsOf(check)}`);
  out(`  check --quick        ${runsOf(quick)}`);
  out(`  dbguard --version    ${runsOf(version)}`);
  out(`  node -e 0            ${runsOf(bare)}`);
  out(`  cp                   ${runsOf(cp)}`);
  out(`  plain scan of copy   ${runsOf(scanCopy)}`);
  out(`  backup production    ${runsOf(backup)}`);
  out(`  backup copy phase    ${runsOf(copyPhase)}`);
  out(`  backup (durationMs)  ${runsOf(backupInternal)}`);
  if (!only) {
  out(`  scheduled backup     ${runsOf(scheduled)}`);
  out(`  locked (no writer)   ${runsOf(lv.locked)}`);
  out(`  live (writer)        ${runsOf(lv.live)}`);
  }
  if (st) {
  out(`  blocks backup        ${runsOf(st.backups)}`);
  out(`  cp (store section)   ${runsOf(st.cp)}`);
  out(`  cp + sync (store)    ${runsOf(st.cpSync)}`);
  out(`  restore from plain   ${runsOf(st.restorePlain)}`);
  out(`  restore from store   ${runsOf(st.restore)}`);
  }
  if (rm) {
  out(`  cp (remote section)  ${runsOf(rm.cp)}`);
  out(`  restore --remote     ${runsOf(rm.restore)}`);
  out(`  push after 1% change ${sec(rm.incremental.pushMs)}`);
  }
  out();
  out(`${goals.filter(Boolean).length} of ${goals.length} goals met.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (tmp) log(`removing ${tmp}`);
    cleanup();
  });
