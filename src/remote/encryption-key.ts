/**
 * The remote's encryption key from DBGUARD_REMOTE_KEY, and the key check a
 * store keeps in its config.json (`encryption`), so a wrong key is told at
 * open instead of as garbage later. The key itself is never stored, printed
 * or logged.
 *
 * DBGUARD_REMOTE_KEY is either a raw 256-bit key (64 hex digits, or base64 of
 * 32 bytes; kdf "none") or a passphrase of at least 12 characters, stretched
 * with scrypt (N=2^15, r=8, p=1) and a random 16-byte salt kept in the
 * store's config.json. Which one a store uses is decided when it is created
 * and recorded in `encryption.kdf`; later opens follow the record.
 */
import * as crypto from 'node:crypto';
import { ConfigError } from '../core/errors';

export const KEY_ENV = 'DBGUARD_REMOTE_KEY';

export type StoreKdf = { name: 'none' } | { name: 'scrypt'; N: number; r: number; p: number; salt: string };

/** The `encryption` member of a store's config.json (dbguard-store/1). */
export interface StoreEncryption {
  algorithm: 'AES-256-GCM';
  kdf: StoreKdf;
  /** base64 of a dbguard-enc/1 sealing of a fixed text: opens only with the right key. */
  check: string;
}

const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const MIN_PASSPHRASE = 12;
/** What the key check seals; the AAD keeps it from being confused with any object. */
export const KEY_CHECK_TEXT = 'dbguard-key-check/1';
export const KEY_CHECK_AAD = 'config.json#encryption.check';

function rawKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    if (b.length === 32) return b;
  }
  return undefined;
}

/** The value of DBGUARD_REMOTE_KEY, trimmed. Throws ConfigError naming it when unset or empty. */
export function keyText(env: NodeJS.ProcessEnv): string {
  const text = env[KEY_ENV]?.trim();
  if (!text) {
    throw new ConfigError(`remote.encryption is true but ${KEY_ENV} is not set`, `set ${KEY_ENV} to the key this remote is encrypted with (64 hex digits, base64 of 32 bytes, or a passphrase of at least ${MIN_PASSPHRASE} characters); a lost key means the remote backups cannot be read`, [], 'remote-key-missing');
  }
  return text;
}

/** The kdf a new store gets for this key text: "none" for a raw key, scrypt with a fresh salt for a passphrase. Throws ConfigError for a passphrase that is too short. */
export function newKdf(text: string): StoreKdf {
  if (rawKey(text)) return { name: 'none' };
  if (text.length < MIN_PASSPHRASE) {
    throw new ConfigError(`${KEY_ENV} is neither a 256-bit key (64 hex digits or base64 of 32 bytes) nor a passphrase of at least ${MIN_PASSPHRASE} characters`, `set ${KEY_ENV} to a longer passphrase, or to a key from \`openssl rand -hex 32\``, [], 'remote-key-invalid');
  }
  return { name: 'scrypt', ...SCRYPT, salt: crypto.randomBytes(16).toString('base64') };
}

/** The 32-byte key for `text` under `kdf`. Throws ConfigError when a kdf "none" store gets a key that is not 256 bits, or the kdf is unknown. */
export function deriveKey(text: string, kdf: StoreKdf): Buffer {
  if (kdf.name === 'none') {
    const key = rawKey(text);
    if (!key) throw new ConfigError(`${KEY_ENV} does not match the key this remote was written with (the remote uses a 256-bit key: 64 hex digits or base64 of 32 bytes)`, `set ${KEY_ENV} to the key the remote was created with`, [], 'remote-key-mismatch');
    return key;
  }
  if (kdf.name === 'scrypt') {
    return crypto.scryptSync(text, Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r });
  }
  throw new ConfigError(`the remote's config.json names an unknown key derivation "${(kdf as { name?: string }).name}"`, 'use the dbguard version that created this remote', [], 'remote-key-kdf');
}
