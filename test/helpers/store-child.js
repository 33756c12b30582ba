'use strict';
/*
 * A separate process that uses the store (the built dist/), for the store
 * tests' locks and kills:
 *   ingest STORE FILE TARGET FILENAME PACKBYTES  shared lock, ingest, publish; prints the IngestResult JSON
 *   collect STORE PACKBYTES [REPACKBELOW]        collect (takes the exclusive lock); prints the CollectResult JSON
 *   hold-shared STORE                            takes a shared lock, prints "locked", waits until stdin closes
 *   probe STORE MARKS KIND ROUNDS                tries KIND (shared|exclusive) ROUNDS times (more until it got it once); while holding it, checks in
 *                                                MARKS that no conflicting holder is inside; prints {"got":N,"busy":M}
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
  } else if (op === 'probe') {
    const fs = require('node:fs');
    const [marks, kind, rounds] = rest;
    let got = 0;
    let busy = 0;
    for (let i = 0; i < Number(rounds) || got === 0; i++) { // at least ROUNDS tries, and until it had the lock once
      let lock;
      try {
        lock = kind === 'shared' ? await store.lockShared('probe') : await store.lockExclusive('probe');
      } catch (err) {
        if (err && err.exitCode === 5) { busy++; continue; }
        throw err;
      }
      const mine = path.join(marks, `${kind}-${process.pid}`);
      fs.writeFileSync(mine, '');
      const inside = fs.readdirSync(marks).filter((m) => m !== path.basename(mine));
      const conflict = kind === 'exclusive' ? inside : inside.filter((m) => m.startsWith('exclusive'));
      if (conflict.length) { process.stderr.write(`${kind} lock held together with ${conflict.join(', ')}\n`); process.exit(9); }
      await new Promise((r) => setImmediate(r));
      fs.rmSync(mine);
      got++;
      await lock.release();
    }
    process.stdout.write(JSON.stringify({ got, busy }));
  } else {
    throw new Error(`unknown op ${op}`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.message}\n`);
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});
