/**
 * Child-process entry for every DuckDB operation. A fatal DuckDB error, an
 * abort or a segfault on an untrusted file ends this process, never the
 * caller. One request per process; results go back over IPC.
 */
import * as fs from 'node:fs';
import { readCatalog, libraryVersion } from './catalog';
import { classifyDuckdbError } from './classify';
import { openDuckdb, queryRows, type OpenDb } from './open';
import type { InspectResult, LiveFinalizeResult, ScanResult, SnapshotResult, WorkerMessage, WorkerRequest } from './protocol';
import { scanAll } from './scan';
import { salvage } from './salvage';
import { ddlStatements, readDdl } from './ddl';
import { readFileHeader } from './header';
import { scrubBlocks } from './scrub';

const currentDatabase = async (db: OpenDb) => String((await queryRows(db.conn, 'SELECT current_database() AS d'))[0]!.d);

const send = (msg: WorkerMessage) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));
const progress = (phase: string, done: number, total: number) => void process.send!({ type: 'progress', phase, done, total } satisfies WorkerMessage);

async function inspect(file: string): Promise<InspectResult> {
  const db = await openDuckdb(file);
  try {
    return { library: await libraryVersion(db.conn), ...(await readCatalog(db.conn)) };
  } finally {
    db.close();
  }
}

async function scan(file: string): Promise<ScanResult & InspectResult> {
  const started = Date.now();
  let db = await openDuckdb(file);
  try {
    const library = await libraryVersion(db.conn);
    const { catalog, nullPrimaryKeys } = await readCatalog(db.conn);
    const scanned = await scanAll(file, db, catalog, (done, total) => progress('scan', done, total));
    db = scanned.db;
    return { library, catalog, nullPrimaryKeys, tables: scanned.tables, durationMs: Date.now() - started };
  } finally {
    db.close();
  }
}

/** Copies a file while reporting how far the copy got, by polling the destination size. */
async function copyWithProgress(src: string, dest: string, total: number): Promise<void> {
  const timer = setInterval(() => {
    fs.stat(dest, (err, st) => { if (!err) progress('copy', st.size, total); });
  }, 200);
  try {
    await fs.promises.copyFile(src, dest, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
  } finally {
    clearInterval(timer);
  }
  progress('copy', total, total);
}

/**
 * Holds DuckDB's shared lock (a READ_ONLY open) for the whole copy of the file
 * and its WAL, so no writer can change either mid-copy, and records the
 * catalog and row counts as they were at copy time.
 */
async function snapshot(file: string, dest: string, destWal: string): Promise<SnapshotResult> {
  const opened = Date.now();
  const db = await openDuckdb(file);
  let result: Omit<SnapshotResult, 'lockHeldMs'>;
  try {
    // The shared lock is held from here until close: the copy and the catalog
    // see the same state, so they run side by side.
    const size = fs.statSync(file).size;
    const wal = `${file}.wal`;
    const walSize = fs.existsSync(wal) ? fs.statSync(wal).size : 0;
    const started = Date.now();
    // The WAL is copied beside the main file, not after it: the service cannot start while the lock is held.
    const copying = Promise.all([
      copyWithProgress(file, dest, size + walSize),
      walSize > 0 ? fs.promises.copyFile(wal, destWal, fs.constants.COPYFILE_EXCL) : undefined,
    ]).then(() => Date.now() - started);
    copying.catch(() => undefined);
    const library = await libraryVersion(db.conn);
    const { catalog, nullPrimaryKeys, unreadable } = await readCatalog(db.conn);
    const ddl = ddlStatements(await readDdl(db.conn, await currentDatabase(db)));
    const copyMs = await copying;
    result = { library, catalog, nullPrimaryKeys, unreadable, ddl, walCopied: walSize > 0, bytes: size + walSize, copyMs };
  } finally {
    db.close();
  }
  return { ...result, lockHeldMs: Date.now() - opened };
}

/**
 * Finalizes a live copy, a private file no other process knows: folds its WAL
 * in with a checkpoint (when it has one), then reads the catalog, the schema
 * as SQL and every column of every table back from disk, with a block scrub
 * of the file beside that read (as `check` does).
 */
async function finalizeLive(file: string): Promise<LiveFinalizeResult> {
  if (fs.existsSync(`${file}.wal`)) await checkpoint(file);
  progress('checkpointed', 1, 1);
  const started = Date.now();
  let db = await openDuckdb(file);
  try {
    const library = await libraryVersion(db.conn);
    const { catalog, nullPrimaryKeys, unreadable } = await readCatalog(db.conn);
    const ddl = ddlStatements(await readDdl(db.conn, await currentDatabase(db)));
    const header = readFileHeader(file).active;
    const scrubbing = header ? scrubBlocks(file, header) : undefined;
    scrubbing?.catch(() => undefined);
    const scanned = await scanAll(file, db, catalog, (done, total) => progress('scan', done, total));
    db = scanned.db;
    const scrub = await scrubbing;
    const badBlocks = header ? [...scrub!.badBlocks, ...scrub!.missingBlocks] : [-1];
    return { library, catalog, nullPrimaryKeys, unreadable, ddl, tables: scanned.tables, durationMs: Date.now() - started, badBlocks };
  } finally {
    db.close();
  }
}

/** Opens a private copy read-write and checkpoints it, folding its WAL into the one file. */
async function checkpoint(file: string): Promise<{ ok: true }> {
  const db = await openDuckdb(file, true);
  try {
    await db.conn.run('CHECKPOINT');
  } finally {
    db.close();
  }
  return { ok: true };
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.action) {
    case 'inspect': return inspect(req.file);
    case 'scan':
    case 'validate': return scan(req.file);
    case 'snapshot': return snapshot(req.file, req.dest, req.destWal);
    case 'finalize': {
      // One process for both steps of a new backup: fold the WAL in, then read everything back from disk.
      await checkpoint(req.file);
      progress('checkpointed', 1, 1);
      return scan(req.file);
    }
    case 'finalize-live': return finalizeLive(req.file);
    case 'execute': {
      const db = await openDuckdb(req.file, true);
      try { await db.conn.run(req.sql); await db.conn.run('CHECKPOINT'); return { ok: true }; } finally { db.close(); }
    }
    case 'salvage': return salvage(req.file, req.dest, (done, total) => progress('salvage', done, total));
    case 'ddl': {
      const db = await openDuckdb(req.file);
      try { return await readDdl(db.conn, await currentDatabase(db)); } finally { db.close(); }
    }
    case 'probe': {
      const db = await openDuckdb(req.file);
      db.close();
      return { ok: true };
    }
    case 'version': {
      const db = await openDuckdb(':memory:', true);
      try { return { library: await libraryVersion(db.conn) }; } finally { db.close(); }
    }
  }
}

// If the caller dies (even by SIGKILL) the IPC channel closes: stop at once so no
// lock on a source database outlives the run that took it.
process.on('disconnect', () => process.exit(1));
// A terminal's Ctrl-C or a service manager's SIGTERM reaches the whole process group: the parent decides
// (finish, or abort and kill this worker), so a signal alone must not end a copy half-way.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {});

process.once('message', (req: WorkerRequest) => {
  handle(req)
    .then((result) => send({ type: 'result', result }))
    .catch((err) => send({ type: 'failure', failure: classifyDuckdbError(err) }))
    .finally(() => process.exit(0));
});
