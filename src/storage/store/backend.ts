/**
 * Where a dbguard store keeps its objects. The store format (dbguard-store/1,
 * see README "Store format") is written once, against this interface, and
 * lives on a local folder (`LocalBackend`, under `backupDir/store/`) or on
 * S3-compatible object storage (`remote/`), optionally behind the encryption
 * wrapper. Keys are `/`-separated relative paths such as
 * `packs/ab/ab12….pack`; a backend never interprets them.
 */
export interface ObjectInfo {
  key: string;
  /** Stored size in bytes (after encryption, for an encrypted backend). */
  bytes: number;
  /** Last modification as the backend reports it. */
  modifiedAt: Date;
}

export interface ObjectBackend {
  /** Where the objects are, for messages: a folder path or `s3://bucket/prefix`. Never holds a secret. */
  readonly where: string;
  /**
   * Stores `data` under `key`, replacing any object there. Atomic and
   * durable when it resolves: a reader sees the old object or the whole new
   * one, never a part (local: temporary file, fsync, rename, fsync of the
   * folder; S3: PutObject or a completed multipart upload). Throws the
   * backend's error (ENOSPC, EIO, an S3 error) for the caller to map; a
   * failed put leaves nothing under `key` that was not there before.
   */
  put(key: string, data: Buffer, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: stores `data` under `key` only when no object is there (S3's
   * conditional write, `If-None-Match: *`). Resolves false when one already
   * is. A service that ignores the condition overwrites, as `put` does.
   * Used for the one object two first runs may race to create (config.json).
   */
  putIfAbsent?(key: string, data: Buffer, signal?: AbortSignal): Promise<boolean>;
  /** The whole object. Throws an error with `code: 'ENOENT'` (local) or `name: 'NoSuchKey'` (S3) when absent; use `isMissing(err)`. */
  get(key: string, signal?: AbortSignal): Promise<Buffer>;
  /** Size and time of `key`, or undefined when it does not exist. */
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (e.g. "packs/"), in no particular order. */
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]>;
  /** Removes `key`. Idempotent: a key already gone is fine. Throws anything else. */
  delete(key: string, signal?: AbortSignal): Promise<void>;
}

/** True when `err` says the object does not exist (local ENOENT, S3 NoSuchKey / 404). */
export function isMissing(err: unknown): boolean {
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.code === 'ENOENT' || e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Creates `key` only when absent, through the backend's conditional put when
 * it has one; otherwise a plain put that reports true (the caller re-reads to
 * learn who won). The one fallback for every backend and wrapper.
 */
export async function createIfAbsent(backend: ObjectBackend, key: string, data: Buffer, signal?: AbortSignal): Promise<boolean> {
  if (backend.putIfAbsent) return backend.putIfAbsent(key, data, signal);
  await backend.put(key, data, signal);
  return true;
}
