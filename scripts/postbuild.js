// Marks the CLI entry executable after tsc (tsc does not keep file modes).
const fs = require('node:fs');
const path = require('node:path');
fs.chmodSync(path.join(__dirname, '..', 'dist', 'cli', 'main.js'), 0o755);
