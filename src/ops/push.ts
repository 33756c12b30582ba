/**
 * `push`: copies every valid local backup the remote lacks into the remote
 * store. The remote is a dbguard-store/1 Store, so only blocks it does not
 * have travel, and targets share it under `snapshots/<target>/`.
 */
import * as path from 'node:path';
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { DbguardError, InterruptedError, StorageError, errorMessage } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import { failpoint, holdpoint } from '../storage/failpoint';
import type { Manifest } from '../storage/manifest';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { DEFAULT_CHUNK_PLAN, type IngestResult, type Store, type StoreLock } from '../storage/store';
import { engineOfBackup } from './engine-of';
import type { ProgressFn } from './progress';
import { withRemoteStore, type RemoteSession } from './remote-store';
import { recordPush } from './remote-state';
import { chunkPlanOf, localStoreExists, openLocalStore, plainUsable, snapshotOf } from './store-access';

export interface PushedBackup {
  id: string;
  bytes: number;
  /** Bytes of new blocks stored on the remote for this backup. */
  newBytes: number;
  newBlocks: number;
  reusedBlocks: number;
}

export interface PushResult {
  target: string;
  ok: boolean;
  /** Backups published on the remote by this run, oldest first. */
  pushed: PushedBackup[];
  /** Valid local backups the remote already had. */
  alreadyThere: number;
  /** Body bytes sent to the provider for this target (packs, indexes, block lists, manifests). */
  bytesUploaded: number;
  blocksReused: number;
  /** The error that stopped this target's push (the others still ran). */
  error?: { message: string; hint: string; exitCode: number };
  /** Newest backup on the remote after the run (null when none). */
  newestRemote: { id: string; createdAt: string } | null;
}

export interface PushOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** How long to wait for a busy lock (a local collect, a remote exclusive holder). */
  waitMs?: number;
  /** Only these backup ids (auto-push: the backup just made); default every valid one the remote lacks. */
  only?: string[];
}

/** The manifest as it goes to the remote: today's dbguard-backup/1, the store part is filled in by publish. */
function manifestToPush(m: Manifest): Manifest {
  const copy = { ...m } as Manifest & { store?: unknown };
  delete copy.store;
  return copy;
}

/** Reads `entry`'s bytes into the remote store: from the plain file when it matches its manifest, else from the local store's blocks. */
async function ingestEntry(remote: Store, entry: BackupEntry, local: () => Promise<Store>, opts: PushOptions & { onBytes: (done: number, total: number) => void }): Promise<IngestResult> {
  const snap = snapshotOf(entry);
  const total = entry.manifest!.bytes;
  if (plainUsable(entry) || !snap) {
    const engine = engineOfBackup(entry);
    const plan = snap?.manifest.store.chunking ?? (engine ? chunkPlanOf(engine, entry.file) : DEFAULT_CHUNK_PLAN);
    return remote.ingestFile(entry.file, plan, { signal: opts.signal, onProgress: opts.onBytes, totalBytes: total });
  }
  const store = await local();
  return remote.ingestStream(store.readBlocks(snap, { signal: opts.signal }), snap.manifest.store.chunking, { signal: opts.signal, onProgress: opts.onBytes, totalBytes: total });
}

/**
 * Pushes one backup: ingest (packs + indexes uploaded first), then a
 * re-check that every block still lies in a pack that exists (a
 * `prune --remote` may have collected blocks this push reuses; what
 * vanished is stored again, twice at most), then publish (block list, then
 * manifest). A kill at any point leaves no remote backup referring to
 * missing data; a re-run reuses every pack that was uploaded with its index.
 */
async function pushOne(remote: Store, entry: BackupEntry, local: () => Promise<Store>, opts: PushOptions): Promise<PushedBackup> {
  const onBytes = (done: number, total: number) => opts.onProgress?.({ target: entry.target, phase: `push ${entry.id}`, done, total });
  let result = await ingestEntry(remote, entry, local, { ...opts, onBytes });
  let newBytes = result.newBytes;
  let newBlocks = result.newBlocks;
  for (let round = 0; ; round++) {
    if (round === 0) await holdpoint('push-recheck', opts.signal);
    if (opts.signal?.aborted) throw new InterruptedError(`push of ${entry.id} interrupted before it was published; the remote has no such backup yet (run dbguard push again to resume)`);
    const missing = await remote.missingBlocks(result.blocks, opts.signal);
    if (missing.length === 0) break;
    if (round >= 2) {
      throw new StorageError(`${missing.length} block(s) of ${entry.id} vanished from the remote twice while it was pushed (a prune --remote removing them)`, 'run dbguard push again once the prune has finished; nothing was published', 'push-blocks-vanished');
    }
    result = await ingestEntry(remote, entry, local, { ...opts, onBytes });
    newBytes += result.newBytes;
    newBlocks += result.newBlocks;
  }
  failpoint('push-publish');
  await remote.publish(entry.target, path.basename(entry.file), manifestToPush(entry.manifest!), result);
  return { id: entry.id, bytes: result.bytes, newBytes, newBlocks, reusedBlocks: result.reusedBlocks };
}

/**
 * `push [targets]`: for each selected target, every valid, non-future local
 * backup the remote lacks, oldest first, under one shared remote lock
 * (refreshed while it runs). Opens (and creates when empty) the remote
 * store; a target's failure is in its result (`ok` false, `error`) and the
 * next target still runs. Throws ConfigError (no remote, refused
 * credentials, wrong key), StorageError (unreachable, permission, another
 * tool's objects), BusyError, InterruptedError.
 */
export async function push(config: Config, selector: string | undefined, opts: PushOptions = {}): Promise<PushResult[]> {
  const env = opts.env ?? process.env;
  const names = selectTargets(config, selector, env.ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  try {
    return await pushAll(config, names, repo, env, opts);
  } catch (err) {
    // a remote that cannot be opened fails every target's push: status and /metrics must show it
    if (config.remote && !(err instanceof InterruptedError)) {
      for (const t of names) {
        try { recordPush(repo.dir, t, { ok: false, error: errorMessage(err), bytesUploaded: 0, newest: null }); } catch { /* see pushTarget */ }
      }
    }
    throw err;
  }
}

function pushAll(config: Config, names: string[], repo: BackupRepository, env: NodeJS.ProcessEnv, opts: PushOptions): Promise<PushResult[]> {
  return withRemoteStore(config, env, { create: true, signal: opts.signal }, async (session) => {
    const lock = await retryWhileBusy(() => session.store.lockShared(`push ${names.join(',')}`), opts.waitMs ?? 0, opts.signal);
    let localStore: { store: Store; lock: StoreLock } | undefined;
    const local = async () => {
      if (!localStore) {
        const store = await openLocalStore(config.backupDir);
        localStore = { store, lock: await retryWhileBusy(() => store.lockShared('push'), opts.waitMs ?? 0, opts.signal) };
      }
      return localStore.store;
    };
    try {
      const out: PushResult[] = [];
      for (const target of names) out.push(await pushTarget(session, repo, target, local, opts));
      return out;
    } finally {
      await localStore?.lock.release().catch(() => undefined);
      await lock.release().catch(() => undefined);
    }
  });
}

async function pushTarget(session: RemoteSession, repo: BackupRepository, target: string, local: () => Promise<Store>, opts: PushOptions): Promise<PushResult> {
  const startBytes = session.uploaded();
  const result: PushResult = { target, ok: true, pushed: [], alreadyThere: 0, bytesUploaded: 0, blocksReused: 0, newestRemote: null };
  try {
    const have = new Set((await session.store.snapshots(target)).map((s) => s.id));
    const candidates = repo.list(target)
      .filter((e) => e.status === 'valid' && !e.future && e.manifest && (!opts.only || opts.only.includes(e.id)))
      .filter((e) => e.location !== 'store' || localStoreExists(repo.dir))
      .reverse();
    for (const entry of candidates) {
      if (have.has(entry.id)) { result.alreadyThere++; continue; }
      if (opts.signal?.aborted) throw new InterruptedError(`push of ${target} interrupted; what was published stays, run dbguard push again for the rest`);
      const pushed = await pushOne(session.store, entry, local, opts);
      result.pushed.push(pushed);
      result.blocksReused += pushed.reusedBlocks;
    }
    const newest = (await session.store.snapshots(target)).find((s) => s.manifest.validation.status === 'valid');
    result.newestRemote = newest ? { id: newest.id, createdAt: newest.manifest.createdAt } : null;
  } catch (err) {
    if (err instanceof InterruptedError || opts.signal?.aborted) throw err;
    const e = err instanceof DbguardError ? err : new StorageError(`push of ${target} to ${session.where} failed: ${errorMessage(err)}`, 'run with --verbose for the cause, then dbguard push again').because(err);
    result.ok = false;
    result.error = { message: e.message, hint: e.hint ?? '', exitCode: e.exitCode };
  } finally {
    result.bytesUploaded = session.uploaded() - startBytes;
  }
  try {
    recordPush(repo.dir, target, { ok: result.ok, error: result.error?.message, bytesUploaded: result.bytesUploaded, newest: result.newestRemote });
  } catch {
    // the state file only feeds status and /metrics; the push itself succeeded or failed as reported, and the job history has it too
  }
  return result;
}
