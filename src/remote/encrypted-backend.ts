/**
 * Client-side encryption of every object of a store, wrapping any
 * ObjectBackend, so the provider sees neither data nor table names.
 *
 * Object format `dbguard-enc/1` (README "Remote (S3)"):
 *   bytes 0..13   the ASCII header "dbguard-enc/1\n"
 *   bytes 14..25  a random 96-bit nonce, new for every put
 *   then          the AES-256-GCM ciphertext of the object
 *   last 16       the GCM tag
 * The additional authenticated data is the header followed by the object's
 * key (relative to the store root, UTF-8), so an object copied or moved to
 * another key does not open. `config.json` stays plaintext (dbguard-store/1
 * says so: it holds the format, the kdf parameters and the key check, never
 * data); every other key is sealed.
 */
import * as crypto from 'node:crypto';
import { ConfigError, IntegrityError } from '../core/errors';
import { createIfAbsent, type ObjectBackend, type ObjectInfo } from '../storage/store/backend';
import { deriveKey, KEY_CHECK_AAD, KEY_CHECK_TEXT, KEY_ENV, keyText, newKdf, type StoreEncryption } from './encryption-key';

export const ENC_FORMAT = 'dbguard-enc/1';
const HEADER = Buffer.from(`${ENC_FORMAT}\n`, 'ascii');
const NONCE = 12;
const TAG = 16;
/** What sealing adds to an object: header + nonce + tag. head/list report stored sizes (ObjectInfo.bytes), so a size check against plaintext lengths must add this. */
export const ENC_OVERHEAD_BYTES = HEADER.length + NONCE + TAG;
/** The one key an encrypted store keeps in plaintext. */
export const PLAINTEXT_KEY = 'config.json';

/** `data` sealed as a dbguard-enc/1 object bound to `aad`. Pure apart from the random nonce. */
export function seal(key: Buffer, aad: string, data: Buffer): Buffer {
  const nonce = crypto.randomBytes(NONCE);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([HEADER, Buffer.from(aad, 'utf8')]));
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([HEADER, nonce, body, cipher.getAuthTag()]);
}

/** The plaintext of a dbguard-enc/1 object, or undefined when it does not authenticate (wrong key, other key, damaged). Throws only for a blob that is not dbguard-enc/1 at all. */
export function unseal(key: Buffer, aad: string, blob: Buffer): Buffer | undefined {
  if (blob.length < HEADER.length + NONCE + TAG || !blob.subarray(0, HEADER.length).equals(HEADER)) {
    throw Object.assign(new Error(`not a ${ENC_FORMAT} object`), { code: 'ENOTENC' });
  }
  const nonce = blob.subarray(HEADER.length, HEADER.length + NONCE);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.concat([HEADER, Buffer.from(aad, 'utf8')]));
  decipher.setAuthTag(blob.subarray(blob.length - TAG));
  try {
    return Buffer.concat([decipher.update(blob.subarray(HEADER.length + NONCE, blob.length - TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** The `encryption.check` value for `key`: base64 of the sealed KEY_CHECK_TEXT. */
export function makeKeyCheck(key: Buffer): string {
  return seal(key, KEY_CHECK_AAD, Buffer.from(KEY_CHECK_TEXT)).toString('base64');
}

/** True when `check` (config.json's encryption.check) opens with `key`. Pure. */
export function keyMatches(key: Buffer, check: string): boolean {
  try {
    return unseal(key, KEY_CHECK_AAD, Buffer.from(check, 'base64'))?.toString() === KEY_CHECK_TEXT;
  } catch {
    return false;
  }
}

export class EncryptedBackend implements ObjectBackend {
  readonly where: string;
  /** Bytes a stored object has beyond its plaintext (ENC_OVERHEAD_BYTES; 0 for config.json). */
  readonly overheadBytes = ENC_OVERHEAD_BYTES;

  /**
   * `encryption` is what the store's config.json holds (or must hold, for a
   * new store); `key` must already match it (see EncryptedBackend.open).
   */
  constructor(readonly inner: ObjectBackend, private readonly key: Buffer, readonly encryption: StoreEncryption) {
    this.where = inner.where;
  }

  /**
   * The encrypted view of `inner` with the key of DBGUARD_REMOTE_KEY in `env`.
   * `existing` is the `encryption` member of the store's config.json, or
   * undefined for a store not created yet (a new kdf and key check are made:
   * the store writes `backend.encryption` into its config.json). Throws
   * ConfigError naming DBGUARD_REMOTE_KEY when it is missing, malformed, or
   * does not match the key check.
   */
  static open(inner: ObjectBackend, env: NodeJS.ProcessEnv, existing?: StoreEncryption): EncryptedBackend {
    const text = keyText(env);
    if (!existing) {
      const kdf = newKdf(text);
      const key = deriveKey(text, kdf);
      return new EncryptedBackend(inner, key, { algorithm: 'AES-256-GCM', kdf, check: makeKeyCheck(key) });
    }
    if (existing.algorithm !== 'AES-256-GCM') {
      throw new ConfigError(`the remote ${inner.where} is encrypted with "${existing.algorithm}", which this dbguard does not know`, 'use the dbguard version that created this remote', [], 'remote-key-kdf');
    }
    const key = deriveKey(text, existing.kdf);
    if (!keyMatches(key, existing.check)) {
      throw new ConfigError(`${KEY_ENV} does not match the key this remote was written with (${inner.where})`, `set ${KEY_ENV} to the key the remote was created with; without it the backups on this remote cannot be read`, [], 'remote-key-mismatch');
    }
    return new EncryptedBackend(inner, key, existing);
  }

  /** Seals `data` (a fresh nonce) and puts it; config.json goes as it is. Same atomicity as the inner put. */
  async put(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    await this.inner.put(key, key === PLAINTEXT_KEY ? data : seal(this.key, key, data), signal);
  }

  /** Conditional put (see ObjectBackend.putIfAbsent), sealed like `put`; a plain put where the inner backend has none. */
  async putIfAbsent(key: string, data: Buffer, signal?: AbortSignal): Promise<boolean> {
    return createIfAbsent(this.inner, key, key === PLAINTEXT_KEY ? data : seal(this.key, key, data), signal);
  }

  /** The plaintext of `key`. Throws IntegrityError (exit 4) when it does not authenticate or is not encrypted; missing objects throw as the inner backend does. */
  async get(key: string, signal?: AbortSignal): Promise<Buffer> {
    const blob = await this.inner.get(key, signal);
    if (key === PLAINTEXT_KEY) return blob;
    let plain: Buffer | undefined;
    try {
      plain = unseal(this.key, key, blob);
    } catch {
      throw new IntegrityError(`${key} in ${this.where} is not a ${ENC_FORMAT} object (it was written without encryption, or by another tool)`, 'this remote is set to remote.encryption: true; check that remote.url points at the remote you mean', 'remote-not-encrypted');
    }
    if (!plain) {
      throw new IntegrityError(`${key} in ${this.where} failed its AES-256-GCM authentication: it was damaged or replaced, or ${KEY_ENV} does not match the key this remote was written with`, `the key matched the remote's key check, so the object itself is damaged: run verify on the remote; other backups that do not use it are still readable`, 'remote-object-damaged');
    }
    return plain;
  }

  /** Stored size (sealed: plaintext + overheadBytes, as ObjectInfo.bytes says) and time; passes through. */
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    return this.inner.head(key, signal);
  }

  /** Keys are not encrypted (they are hashes and target names chosen by the store); passes through. */
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, signal);
  }

  delete(key: string, signal?: AbortSignal): Promise<void> {
    return this.inner.delete(key, signal);
  }
}
