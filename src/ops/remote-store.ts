/**
 * The remote as a dbguard-store/1 Store on the (optionally encrypted) S3
 * backend of `remote`, with remote lock objects (remote/remote-lock.ts), and
 * the remote's snapshots as BackupEntry values, so list/restore/verify
 * treat them like local store backups.
 */
import * as path from 'node:path';
import type { Config } from '../config/load';
import { ConfigError, StorageError } from '../core/errors';
import { openRemoteBackend } from '../remote/open';
import { LOCK_REFRESH_MS, LOCK_STALE_MS, RemoteStoreLocker } from '../remote/remote-lock';
import type { S3BackendOptions } from '../remote/s3-backend';
import { createIfAbsent, type ObjectBackend, type ObjectInfo } from '../storage/store/backend';
import { Store, type StoreSnapshot } from '../storage/store';
import { parseBackupName } from '../storage/naming';
import { FUTURE_TOLERANCE_MS, type BackupEntry } from '../storage/repository';

export interface RemoteSession {
  store: Store;
  /** `s3://bucket/prefix (host)`, never a secret. */
  where: string;
  /** Body bytes put through this session (after encryption), for `bytesUploaded`. */
  uploaded(): number;
  /** Frees the S3 client's sockets. Idempotent. */
  close(): void;
}

/** A backend that counts the bytes it puts (what went over the wire to the provider). */
class CountingBackend implements ObjectBackend {
  bytes = 0;
  constructor(private readonly inner: ObjectBackend) {}
  get where() { return this.inner.where; }
  async put(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    await this.inner.put(key, data, signal);
    this.bytes += data.length;
  }
  async putIfAbsent(key: string, data: Buffer, signal?: AbortSignal): Promise<boolean> {
    const created = await createIfAbsent(this.inner, key, data, signal);
    this.bytes += data.length;
    return created;
  }
  get(key: string, signal?: AbortSignal): Promise<Buffer> { return this.inner.get(key, signal); }
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> { return this.inner.head(key, signal); }
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> { return this.inner.list(prefix, signal); }
  delete(key: string, signal?: AbortSignal): Promise<void> { return this.inner.delete(key, signal); }
}

/**
 * TEST-ONLY knobs, like DBGUARD_TEST_FAIL_AT: DBGUARD_TEST_REMOTE_FAST=1
 * shortens the S3 retry backoff and the lock refresh so fault tests stay
 * fast; DBGUARD_TEST_PACK_BYTES sets the pack size. Production never sets them.
 */
function testKnobs(env: NodeJS.ProcessEnv): { s3?: S3BackendOptions; refreshMs: number; packBytes?: number } {
  const fast = env.DBGUARD_TEST_REMOTE_FAST === '1';
  const packBytes = Number(env.DBGUARD_TEST_PACK_BYTES) || undefined;
  return { s3: fast ? { backoffMs: 20, sdkAttempts: 2, attempts: 3 } : undefined, refreshMs: fast ? 1000 : LOCK_REFRESH_MS, packBytes };
}

/**
 * Opens the remote store of `config.remote` with credentials and
 * DBGUARD_REMOTE_KEY from `env`. With `create`, an empty location gets a new
 * store (config.json, encrypted when remote.encryption). Throws ConfigError
 * naming `remote.url` when no remote is configured, and the remote layer's
 * errors (wrong endpoint, bucket, credentials, key: ConfigError or
 * StorageError naming the setting); StorageError for another tool's objects
 * (never touched) or, without `create`, when there is no store yet.
 */
export async function openRemoteStore(config: Config, env: NodeJS.ProcessEnv, opts: { create?: boolean; signal?: AbortSignal } = {}): Promise<RemoteSession> {
  const session = await openOnce(config, env, opts);
  if (!session.created) return session;
  // Two first pushes at once both write config.json (S3 has no create-if-absent everywhere): the
  // last one stands, and a run that holds the other's encryption parameters must not write under them
  const stored = await session.store.backend.get('config.json', opts.signal).then((b) => JSON.parse(b.toString('utf8')) as { createdAt?: string }, () => undefined);
  if (stored?.createdAt === session.store.config.createdAt) return session;
  session.close();
  return openOnce(config, env, { ...opts, create: false });
}

async function openOnce(config: Config, env: NodeJS.ProcessEnv, opts: { create?: boolean; signal?: AbortSignal }): Promise<RemoteSession & { created: boolean }> {
  if (!config.remote) {
    throw new ConfigError('no remote is configured (remote.url)', 'add "remote": { "url": "s3://<bucket>/<prefix>" } to the config, with remote.endpoint for a provider other than AWS (see README "Off-site copies (push, --remote)")', [], 'remote-none');
  }
  const knobs = testKnobs(env);
  const opened = await openRemoteBackend(config.remote, env, { signal: opts.signal, s3: knobs.s3 });
  try {
    if (opened.foreign) {
      throw new StorageError(`${opened.s3.where} holds objects but no dbguard store (config.json): they are another tool's objects`, 'point remote.url at an empty prefix or at a dbguard remote; nothing there was touched', 'remote-foreign');
    }
    if (!opened.exists && !opts.create) {
      throw new StorageError(`there is no dbguard store at ${opened.s3.where} yet`, 'run dbguard push first, or check remote.url (and remote.endpoint)', 'remote-missing');
    }
    const counting = new CountingBackend(opened.backend);
    const store = await Store.open(counting, {
      create: opts.create, encrypted: !!opened.encryption, encryption: opened.encryption ?? null, packBytes: knobs.packBytes,
      locker: new RemoteStoreLocker(counting, knobs.refreshMs, LOCK_STALE_MS),
    });
    return { store, where: opened.s3.where, uploaded: () => counting.bytes, close: () => opened.s3.destroy(), created: !opened.exists };
  } catch (err) {
    opened.s3.destroy();
    throw err;
  }
}

/** Runs `fn` with the remote store open, closing it afterwards whatever happens. */
export async function withRemoteStore<T>(config: Config, env: NodeJS.ProcessEnv, opts: { create?: boolean; signal?: AbortSignal }, fn: (s: RemoteSession) => Promise<T>): Promise<T> {
  const session = await openRemoteStore(config, env, opts);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

/**
 * A remote snapshot as a BackupEntry (location `store`; its `file` is where a
 * plain copy would lie in backupDir, which need not exist). Undefined when
 * the file name is not a backup name of `target`. Pure.
 */
export function remoteEntry(backupDir: string, snap: StoreSnapshot, now: Date = new Date()): BackupEntry | undefined {
  const name = parseBackupName(snap.fileName);
  if (!name || name.target !== snap.target) return undefined;
  const m = snap.manifest;
  const createdAt = new Date(m.createdAt);
  return {
    id: snap.id, target: snap.target, file: path.join(backupDir, snap.fileName), name, manifest: m,
    status: m.validation.status === 'valid' ? 'valid' : 'invalid', createdAt, bytes: m.bytes,
    future: createdAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS,
    location: 'store', snapshot: { ...snap, name },
  };
}

/** The remote backups of `target` as BackupEntry values, newest first (future ones last, as locally). Throws StorageError when the remote cannot be listed. */
export async function remoteEntries(store: Store, backupDir: string, target: string, now: Date = new Date()): Promise<BackupEntry[]> {
  const entries = (await store.snapshots(target)).map((s) => remoteEntry(backupDir, s, now)).filter((e): e is BackupEntry => e !== undefined);
  return entries.sort((a, b) => Number(a.future) - Number(b.future) || b.createdAt.getTime() - a.createdAt.getTime());
}
