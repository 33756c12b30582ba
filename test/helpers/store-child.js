'use strict';
/*
 * A separate process that uses the store (the built dist/), for the store
 * tests' locks and kills:
 *   ingest STORE FILE TARGET FILENAME PACKBYTES  shared lock, ingest, publish; prints the IngestResult JSON
 *   collect STORE PACKBYTES [REPACKBELOW]        collect (takes the exclusive lock); prints the CollectResult JSON
 *   hold-shared STORE                            takes a shared lock, prints "locked", waits until stdin closes
 * Exits with the error's exitCode (and its message on stderr) on a dbguard error.
 */
const path = require('node:path');
const { LocalBackend, Store } = require(path.resolve(__dirname, '../../dist/storage/store'));

async function main() {
  const [op, dir, ...rest] = process.argv.slice(2);
  const packBytes = Number(op === 'ingest' ? rest[3] : rest[0]) || 1 << 20;
  const store = await Store.open(new LocalBackend(dir), { create: true, packBytes });
  if (op === 'ingest') {
    const [file, target, fileName] = rest;
    const lock = await store.lockShared('test ingest');
    try {
      const r = await store.ingestFile(file, { headerBytes: 0, chunkBytes: 64 * 1024 });
      const now = new Date().toISOString();
      await store.publish(target, fileName, {
        format: 'dbguard-backup/1', id: fileName.replace(/\.[^.]+$/, ''), target, source: file, createdAt: now, bytes: r.bytes, sha256: r.sha256,
        engine: { name: 'test', library: 'test', storageVersion: null }, tables: [], sequences: [], views: [], indexes: [],
        validation: { status: 'valid', checkedAt: now, durationMs: 1 },
      }, r);
      process.stdout.write(JSON.stringify({ ...r, blocks: r.blocks.length }));
    } finally {
      await lock.release();
    }
  } else if (op === 'collect') {
    const r = await store.collect({ repackBelow: rest[1] === undefined ? 0.5 : Number(rest[1]) });
    process.stdout.write(JSON.stringify(r));
  } else if (op === 'hold-shared') {
    const lock = await store.lockShared('test hold');
    process.stdout.write('locked\n');
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on('end', resolve));
    await lock.release();
  } else {
    throw new Error(`unknown op ${op}`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.message}\n`);
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});
