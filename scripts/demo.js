#!/usr/bin/env node
// `npm run demo`: the main job on sample databases, in ./demo (created on first run).
// init --demo (when needed), then check, backup and list all three targets (two DuckDB, one SQLite).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const dir = path.join(root, 'demo');
if (!fs.existsSync(cli)) {
  console.error('dist/ is missing: run `npm ci` (or `npm run build`) first');
  process.exit(1);
}
fs.mkdirSync(dir, { recursive: true });

function step(args, okCodes = [0]) {
  console.log(`\n$ dbguard ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, stdio: 'inherit' });
  if (!okCodes.includes(r.status)) {
    console.error(`\ndemo stopped: dbguard ${args.join(' ')} exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

console.log(`demo folder: ${dir}`);
if (!fs.existsSync(path.join(dir, 'data', 'production.duckdb'))) step(['init', '--demo']);
step(['check', 'all']);
step(['backup', 'all']);
step(['list', 'all']);
console.log('\nThe demo keeps its files in ./demo; run `npm run demo` again to add backups, or delete ./demo to start over.');
