'use strict';
// The remote figures of `npm run bench` (issue 12), measured in one run on the
// bench database against a local S3-compatible server (s3rver, as in the test
// suite, in its own process on 127.0.0.1): a first push, then a push after 1%
// of the rows changed (scripts/bench/mutate.js), whose bytes are counted both
// by dbguard (`bytesUploaded`) and by the server (the object bytes it stored);
// then `restore --remote` of the newest backup against `cp` of the same file.
// Returns the raw figures; scripts/bench.js prints them as ratios with goals.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./proc');

const MUTATE = path.join(__dirname, 'mutate.js');
const S3RVER_CHILD = path.join(__dirname, '..', '..', 'test', 'helpers', 's3rver-child.js');
const BUCKET = 'dbguard-bench';

async function must(what, cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}): ${cmd} ${args.join(' ')}\n${(r.stderr || r.stdout).trim().slice(0, 4000)}`);
  return r;
}

/** Starts s3rver on 127.0.0.1 (a random port) storing in `dir`; resolves { port, stop() }. */
function startServer(node, dir) {
  const child = spawn(node, ['--openssl-legacy-provider', S3RVER_CHILD, dir, BUCKET], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGKILL'); }) });
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${err}`)));
  });
}

/** Bytes of the objects the server stores (its `._S3rver_object` files), recursively. */
function storedBytes(dir) {
  let n = 0;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) n += storedBytes(p);
    else if (d.name.endsWith('._S3rver_object')) n += fs.statSync(p).size;
  }
  return n;
}

/**
 * Runs the remote bench in `<dir>/remote-bench` against `dbPath` (which it
 * modifies). Resolves with { fileBytes, first: { uploaded, stored }, incremental:
 * { uploaded, stored, pushMs }, cp: [ms], restore: [ms], rss: [...] }.
 */
async function remoteFigures({ node, cli, dir, dbPath, runs, log }) {
  const home = path.join(dir, 'remote-bench');
  const serverDir = path.join(dir, 'remote-bench-s3');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(serverDir, { recursive: true });
  const server = await startServer(node, serverDir);
  try {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true', NO_COLOR: '1' };
    fs.writeFileSync(path.join(home, 'dbguard.config.json'), `${JSON.stringify({
      backupDir: 'backups', keep: 10, targets: { production: { path: dbPath } },
      remote: { url: `s3://${BUCKET}/dbguard`, endpoint: `http://127.0.0.1:${server.port}`, forcePathStyle: true },
    }, null, 2)}\n`);
    const sync = () => must('sync', 'sync', []);
    const backup = async () => JSON.parse((await must('dbguard backup', node, [cli, 'backup', 'production', '--json'], { cwd: home, env })).stdout).backups[0];
    const push = async () => {
      const before = storedBytes(serverDir);
      await sync();
      const r = await must('dbguard push', node, [cli, 'push', 'production', '--json'], { cwd: home, env, rss: true });
      const t = JSON.parse(r.stdout).targets[0];
      if (!t.ok || t.pushed.length !== 1) throw new Error(`dbguard push did not push one backup:\n${r.stdout}`);
      return { uploaded: t.bytesUploaded, stored: storedBytes(serverDir) - before, pushMs: r.ms, rss: r.rss };
    };
    log('remote: backup and first push');
    await backup();
    const first = await push();
    log(`remote: first push ${(first.uploaded / 2 ** 20).toFixed(1)} MiB; 1% of the rows changed, backup, push`);
    await must('mutate', node, [MUTATE, dbPath, '4242']);
    const b = await backup();
    const incremental = await push();
    const file = path.join(home, 'backups', path.basename(b.file));
    const dest = path.join(home, 'restored.duckdb');
    const cp = [];
    const cpSync = [];
    const restore = [];
    const rss = [first.rss, incremental.rss];
    const phases = [];
    for (let i = 1; i <= runs; i++) {
      log(`remote: restore round ${i}/${runs}: cp of the backup, dbguard restore --remote`);
      await sync();
      cp.push((await must('cp', 'cp', [file, dest])).ms);
      fs.rmSync(dest, { force: true });
      await sync();
      cpSync.push((await must('cp + sync', 'sh', ['-c', 'cp "$0" "$1" && sync "$1"', file, dest])).ms);
      fs.rmSync(dest, { force: true });
      await sync();
      const r = await must('dbguard restore --remote', node, [cli, 'restore', 'production', '--remote', '--from', b.id, '--to', dest, '--yes', '--json'], { cwd: home, env, rss: true });
      const out = JSON.parse(r.stdout);
      if (!out.ok || out.source !== 'remote') throw new Error(`dbguard restore --remote failed:\n${r.stdout}`);
      restore.push(r.ms);
      phases.push(out.phases || {});
      rss.push(r.rss);
      fs.rmSync(dest, { force: true });
      fs.rmSync(path.join(home, 'backups', 'pre-restore'), { recursive: true, force: true });
    }
    return { fileBytes: fs.statSync(file).size, first, incremental, cp, cpSync, restore, rss, phases };
  } finally {
    await server.stop();
  }
}

module.exports = { remoteFigures };
