/**
 * From the `remote` config to the ObjectBackend the remote Store lives on:
 * an S3Backend, wrapped in an EncryptedBackend when `remote.encryption` is
 * true. The store's plaintext config.json decides which key derivation and
 * key check apply; a mismatch between it and the config is a ConfigError.
 */
import { ConfigError, DbguardError, StorageError, errorMessage } from '../core/errors';
import type { ObjectBackend } from '../storage/store/backend';
import { isMissing } from '../storage/store/backend';
import { EncryptedBackend, PLAINTEXT_KEY } from './encrypted-backend';
import { KEY_ENV, type StoreEncryption } from './encryption-key';
import { describeRemote, endpointHost, S3Backend, type RemoteConfig, type S3BackendOptions } from './s3-backend';

export interface OpenedRemote {
  /** What the remote Store is opened on: `s3`, or the encrypted view of it. */
  backend: ObjectBackend;
  /** The raw S3 backend (for checkBucket, destroy, the provider's sizes). */
  s3: S3Backend;
  /** True when the remote already holds a dbguard store (its config.json). */
  exists: boolean;
  /** True when there is no config.json but there are objects: another tool's, never to be touched. */
  foreign: boolean;
  /** The `encryption` member a new store must write into its config.json (null when not encrypted). */
  encryption: StoreEncryption | null;
}

/** The parsed plaintext config.json of the store at `s3`, or undefined when there is none. Throws StorageError for one that is not JSON. */
async function readStoreConfig(s3: S3Backend, signal?: AbortSignal): Promise<{ format?: unknown; encryption?: StoreEncryption | null } | undefined> {
  let raw: Buffer;
  try {
    raw = await s3.get(PLAINTEXT_KEY, signal);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as { format?: unknown; encryption?: StoreEncryption | null };
  } catch { /* reported below */ }
  throw new StorageError(`${PLAINTEXT_KEY} in ${s3.where} is not a dbguard store config (not a JSON object)`, 'this location holds another tool\'s objects or a damaged store: point remote.url at another prefix; nothing was changed', 'remote-foreign');
}

/**
 * Opens the remote of `remote` with credentials and DBGUARD_REMOTE_KEY from
 * `env`: checks that the bucket exists and the credentials are accepted,
 * reads the store's config.json when there is one (else tells whether the
 * location holds another tool's objects), and checks the key against its
 * key check. Read-only: writes nothing, not even for a new store. Throws ConfigError (no remote, missing
 * bucket, refused credentials, missing or wrong key, encryption setting
 * that contradicts the remote), StorageError (unreachable endpoint,
 * permission, config.json not a store's).
 */
export async function openRemoteBackend(remote: RemoteConfig | null | undefined, env: NodeJS.ProcessEnv = process.env, opts: { signal?: AbortSignal; s3?: S3BackendOptions } = {}): Promise<OpenedRemote> {
  if (!remote) throw new ConfigError('no remote is configured', 'add "remote": { "url": "s3://<bucket>/<prefix>" } to the config (see README "Remote (S3)")', [], 'remote-none');
  const s3 = new S3Backend(remote, env, opts.s3);
  try {
    await s3.checkBucket(opts.signal);
    const stored = await readStoreConfig(s3, opts.signal);
    const storedEnc = stored?.encryption ?? null;
    const foreign = !stored && await s3.hasAny('', opts.signal);
    if (stored && remote.encryption && !storedEnc) {
      throw new ConfigError(`remote.encryption is true but the store at ${s3.where} was created without encryption`, 'set remote.encryption to false for this remote, or point remote.url at a new prefix for an encrypted store', [], 'remote-encryption-mismatch');
    }
    if (stored && !remote.encryption && storedEnc) {
      throw new ConfigError(`the store at ${s3.where} is encrypted but remote.encryption is false`, `set remote.encryption to true and ${KEY_ENV} to the remote's key`, [], 'remote-encryption-mismatch');
    }
    if (!remote.encryption) return { backend: s3, s3, exists: !!stored, foreign, encryption: null };
    const enc = EncryptedBackend.open(s3, env, storedEnc ?? undefined);
    return { backend: enc, s3, exists: !!stored, foreign, encryption: enc.encryption };
  } catch (err) {
    s3.destroy();
    throw err;
  }
}

/** What `probeRemote` found, as one doctor line. */
export interface RemoteProbe {
  ok: boolean;
  /** `s3://bucket/prefix at <endpoint host>`, never a credential. */
  where: string;
  state: 'store' | 'empty' | 'foreign' | 'unknown';
  encrypted: boolean;
  detail: string;
  fix: string;
  /** exit code kind of the failure: config (3) or storage (6). */
  kind: 'config' | 'storage';
}

/**
 * Read-only check of a remote for `doctor`: bucket and credentials
 * (HeadBucket), the store's config.json and the key, and whether the
 * location is empty, a dbguard store, or another tool's objects. Makes no
 * write (so it cannot prove write permission; the first push does). Never
 * throws: every failure is a `RemoteProbe` with ok false.
 */
export async function probeRemote(remote: RemoteConfig, env: NodeJS.ProcessEnv = process.env, opts: { signal?: AbortSignal; s3?: S3BackendOptions } = {}): Promise<RemoteProbe> {
  const host = endpointHost(remote);
  const base = { where: `${describeRemote(remote)}${host ? ` at ${host}` : ''}`, encrypted: remote.encryption };
  let opened: OpenedRemote | undefined;
  try {
    opened = await openRemoteBackend(remote, env, opts);
    if (opened.exists) return { ...base, ok: true, state: 'store', detail: `${base.where} holds a dbguard store${remote.encryption ? ' (encrypted; the key matches)' : ''}`, fix: '', kind: 'storage' };
    if (opened.foreign) {
      return { ...base, ok: false, state: 'foreign', detail: `${base.where} holds objects but no dbguard store config.json: another tool's objects`, fix: 'point remote.url at an empty prefix (dbguard never touches another tool\'s objects)', kind: 'config' };
    }
    return { ...base, ok: true, state: 'empty', detail: `${base.where} is reachable and empty; the first push creates the store`, fix: '', kind: 'storage' };
  } catch (err) {
    const e = err instanceof DbguardError ? err : undefined;
    return { ...base, ok: false, state: 'unknown', detail: errorMessage(err), fix: e?.hint ?? 'run with --verbose for the cause', kind: e instanceof ConfigError ? 'config' : 'storage' };
  } finally {
    opened?.s3.destroy();
  }
}
