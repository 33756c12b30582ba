/**
 * An ObjectBackend on S3-compatible object storage (AWS S3, B2, R2, Wasabi,
 * MinIO, Garage, Ceph). Keys live under the prefix of `remote.url`, so
 * several stores share one bucket under distinct prefixes. Credentials come
 * only from the SDK's standard sources (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE with the credential
 * files); none is ever kept in `where` or a message.
 */
import * as crypto from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ParsedConfig } from '../config/schema';
import { ConfigError } from '../core/errors';
import { backoffDelay, sleep } from '../core/retry';
import type { ObjectBackend, ObjectInfo } from '../storage/store/backend';
import { isMissing } from '../storage/store/backend';
import { isAbort, isRetryable, mapRemoteError, type RemoteErrorContext } from './errors';

export type RemoteConfig = NonNullable<ParsedConfig['remote']>;

/** Knobs with production defaults; tests shrink them to stay fast. */
export interface S3BackendOptions {
  /** Objects at least this big go up as a multipart upload (default 16 MiB). */
  multipartThreshold?: number;
  /** Part size of multipart uploads (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once (default 4). */
  queueSize?: number;
  /** Attempts of the SDK's own retry for one request (default 4). */
  sdkAttempts?: number;
  /** Our attempts around the SDK's, for connections that drop (default 3). */
  attempts?: number;
  /** First delay of our backoff in ms, doubling, at most 10 s (default 500). */
  backoffMs?: number;
  /** Keys per list request (default 1000, S3's maximum). */
  listPageSize?: number;
  /** A connection that cannot be made in this time is a failure (retried; default 10 s). */
  connectTimeoutMs?: number;
  /** A socket silent this long (a hung service) is a failure (retried; default 120 s). */
  idleTimeoutMs?: number;
}

/** Bucket and key prefix of an `s3://bucket/prefix` URL; the prefix is '' or ends with '/'. Throws ConfigError naming remote.url. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new ConfigError(`remote.url "${url}" is not an s3://bucket/prefix URL`, 'set remote.url to s3://<bucket>/<prefix>, e.g. "s3://acme-backups/dbguard"');
  const parts = (m[2] ?? '').split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) throw new ConfigError(`remote.url "${url}" has "." or ".." in its prefix`, 'use a plain prefix such as "s3://acme-backups/dbguard/host1"');
  return { bucket: m[1]!, prefix: parts.length ? `${parts.join('/')}/` : '' };
}

/** The S3 client settings for a remote (exported for the test of the checksum setting). */
export function s3ClientConfig(remote: RemoteConfig, env: NodeJS.ProcessEnv, opts: Pick<S3BackendOptions, 'sdkAttempts' | 'connectTimeoutMs' | 'idleTimeoutMs'> = {}): S3ClientConfig {
  const config: S3ClientConfig = {
    region: remote.region,
    forcePathStyle: remote.forcePathStyle,
    // many S3-compatible services reject the CRC32 headers and aws-chunked bodies that SDK v3 sends by default
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.sdkAttempts ?? 4,
    retryMode: 'standard',
    // without these a service that accepts a connection and never answers would hang the run forever
    requestHandler: { connectionTimeout: opts.connectTimeoutMs ?? 10_000, socketTimeout: opts.idleTimeoutMs ?? 120_000 },
  };
  if (remote.endpoint) config.endpoint = remote.endpoint;
  // the SDK's default chain reads process.env; an explicit env (tests, a daemon's target env) is honoured the same way
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    config.credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  } else if (env.AWS_PROFILE) {
    config.profile = env.AWS_PROFILE;
  }
  return config;
}

/** `s3://bucket/prefix` without a trailing slash, so `${where}/${key}` reads as the object's URL. */
export function describeRemote(remote: Pick<RemoteConfig, 'url'>): string {
  return remote.url.replace(/\/+$/, '');
}

/** The endpoint's `host[:port]` for messages (never its user info or query), or undefined for AWS S3. */
export function endpointHost(remote: Pick<RemoteConfig, 'endpoint'>): string | undefined {
  if (!remote.endpoint) return undefined;
  try { return new URL(remote.endpoint).host; } catch { return undefined; }
}

/**
 * No `getRange` on purpose: without it the store reads a snapshot pack by
 * pack (one request per 32 MiB pack, not one per 256 KiB block), and an
 * encrypted object only opens whole anyway.
 */
export class S3Backend implements ObjectBackend {
  /** `s3://bucket/prefix`: bucket and prefix only, never the endpoint's user info or a credential. */
  readonly where: string;
  /** `host[:port]` of remote.endpoint, for messages; undefined for AWS S3. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly opts: Required<S3BackendOptions>;

  /** Builds the client; makes no request. Throws ConfigError for a bad remote.url. */
  constructor(remote: RemoteConfig, env: NodeJS.ProcessEnv = process.env, opts: S3BackendOptions = {}) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(remote.url));
    this.where = describeRemote(remote);
    this.endpoint = endpointHost(remote);
    this.opts = { multipartThreshold: 16 * 1024 * 1024, partSize: 8 * 1024 * 1024, queueSize: 4, sdkAttempts: 4, attempts: 3, backoffMs: 500, listPageSize: 1000, connectTimeoutMs: 10_000, idleTimeoutMs: 120_000, ...opts };
    // dbguard supports Node 20 (DESIGN §8) with the SDK version pinned in the lock file: the SDK's
    // "future versions will need Node 22" warning would land in every command's stderr
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client(s3ClientConfig(remote, env, this.opts));
  }

  private full(key: string): string {
    return this.prefix + key;
  }

  /**
   * Runs `fn` with our retry around the SDK's: network drops, 5xx and
   * throttling are tried again with exponential backoff; anything else, or
   * the last failure, is thrown mapped (mapRemoteError). `passThrough` errors
   * (a missing object) are rethrown as they are, for isMissing.
   */
  private async run<T>(ctx: RemoteErrorContext, signal: AbortSignal | undefined, fn: () => Promise<T>, passThrough?: (err: unknown) => boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw mapRemoteError(Object.assign(new Error('aborted'), { name: 'AbortError' }), ctx);
      try {
        return await fn();
      } catch (err) {
        if (passThrough?.(err)) throw err;
        if (signal?.aborted || isAbort(err) || !isRetryable(err) || attempt >= this.opts.attempts) {
          throw mapRemoteError(signal?.aborted ? Object.assign(new Error('aborted'), { name: 'AbortError', cause: err }) : err, { ...ctx, attempts: attempt * this.opts.sdkAttempts });
        }
        await sleep(backoffDelay(attempt, this.opts.backoffMs, 2, 10000), signal);
      }
    }
  }

  /**
   * Stores `data` under `key`: one PutObject, or a multipart upload at
   * multipartThreshold and above, which S3 makes visible only when complete
   * (a failed one is aborted; parts left by a dead process are invisible
   * under the key). Retried; throws a mapped dbguard error.
   */
  async put(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    const Key = this.full(key);
    const md5 = data.length < this.opts.multipartThreshold ? crypto.createHash('md5').update(data).digest('base64') : undefined;
    await this.run({ where: this.where, endpoint: this.endpoint, op: 'put', key }, signal, async () => {
      if (data.length < this.opts.multipartThreshold) {
        // Content-MD5 (the classic header every S3 service checks, unlike the newer x-amz-checksum-*) makes
        // the service refuse a body damaged or cut on the way instead of storing it
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.length, ContentMD5: md5 }), { abortSignal: signal });
        return;
      }
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await new Upload({ client: this.client, params: { Bucket: this.bucket, Key, Body: data }, partSize: this.opts.partSize, queueSize: this.opts.queueSize, leavePartsOnError: false, abortController: controller }).done();
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
  }

  /**
   * PutObject with `If-None-Match: *` (AWS S3, R2, MinIO and others honour
   * it): false when the object already exists (412, or 409 for a
   * conditional write racing another). Small objects only (no multipart).
   * Retried like put; a retry of a write that did land answers 412, which
   * reads as "exists" and makes the caller re-read what is there.
   */
  async putIfAbsent(key: string, data: Buffer, signal?: AbortSignal): Promise<boolean> {
    const md5 = crypto.createHash('md5').update(data).digest('base64');
    const conditionFailed = (err: unknown) => {
      const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
      return e?.$metadata?.httpStatusCode === 412 || e?.name === 'PreconditionFailed' || e?.name === 'ConditionalRequestConflict' || (e?.$metadata?.httpStatusCode === 409 && e?.name !== 'BucketAlreadyExists');
    };
    try {
      await this.run({ where: this.where, endpoint: this.endpoint, op: 'put', key }, signal, async () => {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: data, ContentLength: data.length, ContentMD5: md5, IfNoneMatch: '*' }), { abortSignal: signal });
      }, conditionFailed);
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  /** The whole object; throws the SDK's NoSuchKey error when absent (isMissing), a mapped dbguard error otherwise. */
  async get(key: string, signal?: AbortSignal): Promise<Buffer> {
    return this.run({ where: this.where, endpoint: this.endpoint, op: 'get', key }, signal, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal: signal });
      const bytes = await out.Body!.transformToByteArray();
      if (out.ContentLength !== undefined && bytes.length !== out.ContentLength) {
        throw Object.assign(new Error(`short read: ${bytes.length} of ${out.ContentLength} bytes`), { code: 'ECONNRESET' });
      }
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    }, (err) => isMissing(err) && remoteCodeIsObjectMissing(err));
  }

  /** Size and time of `key`, or undefined when absent. Throws a mapped error for anything else. */
  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      return await this.run({ where: this.where, endpoint: this.endpoint, op: 'head', key }, signal, async () => {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal: signal });
        return { key, bytes: out.ContentLength ?? 0, modifiedAt: out.LastModified ?? new Date(0) };
      }, isMissing);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Every object under `prefix` (relative to the store root), all pages. */
  async list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.run({ where: this.where, endpoint: this.endpoint, op: 'list', key: prefix || undefined }, signal, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), ContinuationToken: token, MaxKeys: this.opts.listPageSize }), { abortSignal: signal }));
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        out.push({ key: o.Key.slice(this.prefix.length), bytes: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** True when at least one object's key starts with `prefix` (one small list request). */
  async hasAny(prefix: string, signal?: AbortSignal): Promise<boolean> {
    const page = await this.run({ where: this.where, endpoint: this.endpoint, op: 'list', key: prefix || undefined }, signal, () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), MaxKeys: 1 }), { abortSignal: signal }));
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
  }

  /** Removes `key`; idempotent (S3 answers 204 for a missing key; a 404 is taken as done too). */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.run({ where: this.where, endpoint: this.endpoint, op: 'delete', key }, signal, async () => {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal: signal });
      }, (err) => isMissing(err) && remoteCodeIsObjectMissing(err));
    } catch (err) {
      if (isMissing(err) && remoteCodeIsObjectMissing(err)) return;
      throw err;
    }
  }

  /**
   * Checks that the bucket exists and the credentials are accepted
   * (HeadBucket). Throws the mapped error: ConfigError naming remote.url for
   * a missing bucket (HeadBucket's bare 404), the credential variables for
   * refused keys or a bare 403, StorageError naming remote.endpoint when unreachable.
   */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    await this.run({ where: this.where, endpoint: this.endpoint, op: 'probe' }, signal, async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      } catch (err) {
        // HeadBucket has no body: its 404 and 403 carry no S3 code
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) throw Object.assign(new Error('NoSuchBucket'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
        if (status === 403) {
          // a bare 403 here is a refused key pair as often as a missing permission: name both
          throw new ConfigError(`${this.endpoint ? `the S3 service at ${this.endpoint}` : 'AWS S3'} refused access to the bucket of ${this.where} (HTTP 403)`, 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that the key pair may list and read the bucket and prefix of remote.url (s3:ListBucket, s3:GetObject)', [], 'remote-credentials').because(err);
        }
        throw err;
      }
    });
  }

  /** Closes the client's sockets. Idempotent. */
  destroy(): void {
    this.client.destroy();
  }
}

/** A 404 that is about the object, not the bucket (NoSuchBucket is also a 404). */
function remoteCodeIsObjectMissing(err: unknown): boolean {
  const name = (err as { name?: string; Code?: string }).name;
  return name !== 'NoSuchBucket' && (err as { Code?: string }).Code !== 'NoSuchBucket';
}
