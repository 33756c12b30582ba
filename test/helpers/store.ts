/** Helpers for the store tests (test/store-*.test.ts): open a local store, publish a file, run a store child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChunkPlan } from '../../src/engines/engine';
import { MANIFEST_FORMAT, type Manifest } from '../../src/storage/manifest';
import { LocalBackend, Store, type StoreSnapshot } from '../../src/storage/store';

export const STORE_CHILD = path.resolve(__dirname, 'store-child.js');

/** Opens (creating) the store at `dir` with small packs, so small test files span several packs. */
export function openStore(dir: string, packBytes = 1 << 20): Promise<Store> {
  return Store.open(new LocalBackend(dir), { create: true, packBytes });
}

/** A minimal valid backup manifest for `target`/`id`. */
export function manifestFor(target: string, id: string, bytes = 0, sha256 = ''): Manifest {
  return {
    format: MANIFEST_FORMAT, id, target, source: `/data/${target}`, createdAt: new Date().toISOString(), bytes, sha256,
    engine: { name: 'test', library: 'test', storageVersion: null }, tables: [], sequences: [], views: [], indexes: [],
    validation: { status: 'valid', checkedAt: new Date().toISOString(), durationMs: 1 },
  };
}

/** Ingests `file` under a shared lock and publishes it as `<target>/<fileName>` (id = fileName without its extension). */
export async function backupInto(store: Store, file: string, target: string, fileName: string, plan: ChunkPlan) {
  const lock = await store.lockShared('test backup');
  try {
    const ingest = await store.ingestFile(file, plan);
    const snap = await store.publish(target, fileName, manifestFor(target, fileName.replace(/\.[^.]+$/, '')), ingest);
    return { ingest, snap };
  } finally {
    await lock.release();
  }
}

export const findSnap = (snaps: StoreSnapshot[], fileName: string) => {
  const s = snaps.find((x) => x.fileName === fileName);
  if (!s) throw new Error(`no snapshot ${fileName} among ${snaps.map((x) => x.fileName).join(', ')}`);
  return s;
};

export interface StoreChild { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

/** Runs test/helpers/store-child.js (against dist/) with `args` and extra environment (e.g. DBGUARD_TEST_FAIL_AT). */
export function runStoreChild(args: string[], env: Record<string, string> = {}): StoreChild {
  const child = spawn(process.execPath, [STORE_CHILD, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Every file under `dir`, recursively, as sorted `/`-separated relative paths ([] when `dir` does not exist). */
export function treeOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/**
 * The object-store view of a local folder: only the ObjectBackend methods
 * (no ranged reads), counting `get`s per key — what the store sees of an S3
 * or encrypted backend.
 */
export function objectsOnly(inner: import('../../src/storage/store').LocalBackend): import('../../src/storage/store').ObjectBackend & { gets: Map<string, number> } {
  const gets = new Map<string, number>();
  return {
    where: `objects:${inner.where}`,
    gets,
    put: (k, d, s) => inner.put(k, d, s),
    get: (k, s) => { gets.set(k, (gets.get(k) ?? 0) + 1); return inner.get(k, s); },
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
  };
}

/**
 * A stand-in for an encrypting backend (the real one is src/remote/): every
 * object but config.json is stored with a 32-byte seal in front (so stored
 * sizes differ from the plaintext's, as with AES-GCM), and a get of an
 * object whose seal does not match throws IntegrityError, as a failed
 * authentication does. No ranged reads.
 */
export function sealed(inner: import('../../src/storage/store').LocalBackend): import('../../src/storage/store').ObjectBackend {
  const { IntegrityError } = require('../../src/core/errors') as typeof import('../../src/core/errors');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const seal = (key: string, d: Buffer) => crypto.createHash('sha256').update(key).update(d).digest();
  return {
    where: `sealed:${inner.where}`,
    put: (k, d, s) => inner.put(k, k === 'config.json' ? d : Buffer.concat([seal(k, d), d]), s),
    get: async (k, s) => {
      const b = await inner.get(k, s);
      if (k === 'config.json') return b;
      const d = b.subarray(32);
      if (b.length < 32 || !seal(k, d).equals(b.subarray(0, 32))) throw new IntegrityError(`${k} failed its authentication`, 'run verify', 'remote-object-damaged');
      return d;
    },
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
  };
}
