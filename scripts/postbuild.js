// Marks the CLI entry executable after tsc (tsc does not keep file modes), and
// copies the dashboard's files (tsc copies only .ts output) into dist.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
fs.chmodSync(path.join(root, 'dist', 'cli', 'main.js'), 0o755);
fs.cpSync(path.join(root, 'src', 'daemon', 'ui', 'assets'), path.join(root, 'dist', 'daemon', 'ui', 'assets'), { recursive: true });
