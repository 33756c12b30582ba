/**
 * S3 and network failures as dbguard errors that name the setting to fix.
 * Every message goes through redactUrls: an endpoint or an SDK message may
 * carry credentials in a URL, and none may reach output or logs.
 */
import { ConfigError, DbguardError, InterruptedError, StorageError, errorMessage } from '../core/errors';
import { redactUrls } from '../core/redact';

/** What was being done when the error happened, for the message. */
export interface RemoteErrorContext {
  /** `s3://bucket/prefix` (S3Backend.where). */
  where: string;
  /** remote.endpoint's host[:port]; undefined for AWS S3. */
  endpoint?: string;
  op: 'put' | 'get' | 'head' | 'list' | 'delete' | 'probe';
  key?: string;
  /** How many attempts were made before giving up (for the message). */
  attempts?: number;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errno?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/** Node socket/DNS error codes that mean "the request never got (a whole) answer". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'InvalidClientTokenId', 'CredentialsProviderError']);
const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable']);

/** The S3 error code (`NoSuchBucket`, `AccessDenied`, ...) or the Node error code (`ECONNREFUSED`) of `err`, looking one cause deep. */
export function remoteErrorCode(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  if (typeof e?.code === 'string' && /^(E[A-Z]+|ERR_|UND_)|CERT|SELF_SIGNED/.test(e.code)) return e.code;
  if (e?.Code) return e.Code;
  if (e?.name && e.name !== 'Error' && e.name !== 'AggregateError') return e.name;
  if (typeof e?.code === 'string') return e.code;
  const inner = e?.cause as SdkErrorShape | undefined;
  const fromCause = inner?.code ?? (inner?.name !== 'Error' ? inner?.name : undefined);
  if (fromCause) return fromCause;
  // the SDK wraps a thrown value it does not take for an Error ("AWS SDK error wrapper for Error: connect
  // ECONNREFUSED ...", e.g. from another realm) and keeps only its text: read the Node code from there
  const wrapped = /^AWS SDK error wrapper for .*?\b(E[A-Z]{3,}|ERR_[A-Z_]+|UND_ERR_[A-Z_]+)\b/.exec(e?.message ?? '');
  return wrapped?.[1] ?? '';
}

function httpStatus(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** True for an abort of the caller's signal (the SDK throws AbortError). */
export function isAbort(err: unknown): boolean {
  const name = (err as SdkErrorShape | undefined)?.name;
  return name === 'AbortError' || err instanceof InterruptedError;
}

/** True for a network failure (refused, unknown host, dropped connection). */
export function isNetworkError(err: unknown): boolean {
  const code = remoteErrorCode(err);
  if (NETWORK_CODES.has(code)) return true;
  const msg = errorMessage(err);
  return /socket hang up|ECONNRESET|EPIPE|premature close|aborted/i.test(msg) && !isAbort(err) && httpStatus(err) === undefined;
}

/** True when trying again may succeed: a network failure, a 5xx, throttling. Never for an abort or a 4xx that means a mistake. */
export function isRetryable(err: unknown): boolean {
  if (isAbort(err) || err instanceof DbguardError) return false;
  if (isNetworkError(err)) return true;
  const status = httpStatus(err);
  if (status !== undefined && status >= 500) return true;
  return THROTTLE_CODES.has(remoteErrorCode(err)) || (err as SdkErrorShape | undefined)?.name === 'TimeoutError';
}

/** A provider that refuses the newer SDK integrity headers (x-amz-checksum-*, aws-chunked trailers). */
function isChecksumRejection(code: string, msg: string): boolean {
  return ['InvalidArgument', 'NotImplemented', 'InvalidRequest', 'XAmzContentSHA256Mismatch', 'BadDigest', 'InvalidDigest', 'UnsupportedOperation'].includes(code)
    && /checksum|x-amz-(sdk-)?checksum|x-amz-content-sha256|x-amz-trailer|aws-chunked|crc32|content-encoding/i.test(msg);
}

/**
 * Maps an SDK or network error to a dbguard error naming what to fix:
 * `remote.endpoint` (unreachable), `remote.url` (no such bucket),
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (refused credentials),
 * `remote.region` (wrong region), write or read permission, a provider that
 * rejects checksum headers, 5xx and dropped connections after retries
 * (StorageError, exit 6), an abort (InterruptedError, exit 130). dbguard
 * errors pass through unchanged. Pure; never throws; the cause is kept for
 * --verbose.
 */
export function mapRemoteError(err: unknown, ctx: RemoteErrorContext): DbguardError {
  if (err instanceof DbguardError) return err;
  const where = ctx.where;
  const service = ctx.endpoint ? `the S3 service at ${ctx.endpoint}` : 'AWS S3';
  const object = ctx.key !== undefined ? `${ctx.key} in ${where}` : where;
  const code = remoteErrorCode(err);
  const status = httpStatus(err);
  const sdkMsg = redactUrls(errorMessage(err));
  const tries = ctx.attempts && ctx.attempts > 1 ? ` after ${ctx.attempts} attempts` : '';
  const verb = { put: 'writing', get: 'reading', head: 'looking up', list: 'listing', delete: 'deleting', probe: 'checking' }[ctx.op];
  const made = (e: DbguardError) => e.because(err);

  if (isAbort(err)) return made(new InterruptedError(`interrupted while ${verb} ${object}`));
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return made(new StorageError(`cannot reach ${service} for ${where} (${code})${tries}`, 'check remote.endpoint (host and port) and that the service is up and reachable from this machine; nothing was changed on the remote by this request', 'remote-unreachable'));
  }
  if (/CERT|SELF_SIGNED|ERR_TLS|ERR_SSL/.test(code) || /certificate|self[- ]signed/i.test(sdkMsg)) {
    return made(new StorageError(`the TLS certificate of the S3 service${ctx.endpoint ? ` at ${ctx.endpoint}` : ''} for ${where} is not trusted (${code || sdkMsg})`, 'check remote.endpoint (host name and https); for a private CA, point NODE_EXTRA_CA_CERTS at its certificate file', 'remote-tls'));
  }
  if (isNetworkError(err) || (err as SdkErrorShape | undefined)?.name === 'TimeoutError') {
    return made(new StorageError(`the connection to ${service} dropped while ${verb} ${object} (${code || sdkMsg})${tries}`, 'the network or the service at remote.endpoint failed mid-request; an upload that did not complete is not visible under its key: run the command again', 'remote-network'));
  }
  if (code === 'NoSuchBucket') {
    return made(new ConfigError(`the bucket of ${where} does not exist${ctx.endpoint ? ` at ${ctx.endpoint}` : ''}`, 'create the bucket, or fix the bucket name in remote.url (and remote.endpoint / remote.region for the provider it is on)', [], 'remote-no-bucket'));
  }
  if (CREDENTIAL_CODES.has(code) || /Could not load credentials/i.test(sdkMsg)) {
    const what = code === 'CredentialsProviderError' || /Could not load credentials/i.test(sdkMsg) ? 'no S3 credentials were found' : `${service} refused the credentials for ${where} (${code})`;
    return made(new ConfigError(what, 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or AWS_PROFILE with a credentials file, to a key pair valid for this bucket', [], 'remote-credentials'));
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException' || status === 301) {
    return made(new ConfigError(`the bucket of ${where} is in another region than remote.region (${code || status})`, 'set remote.region to the bucket\'s region (or remote.endpoint to the provider\'s regional endpoint)', [], 'remote-region'));
  }
  if (isChecksumRejection(code, sdkMsg)) {
    return made(new StorageError(`${service} rejected the request's checksum headers while ${verb} ${object} (${code}: ${sdkMsg})`, 'this provider does not support the newer SDK integrity headers; dbguard sends them only where S3 requires them: check remote.endpoint and report the provider and this message', 'remote-checksum-headers'));
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
    const write = ctx.op === 'put' || ctx.op === 'delete';
    return made(new StorageError(`permission denied while ${verb} ${object}${write ? ': the credentials cannot write to this bucket' : ''}`, write
      ? 'give the credentials in AWS_ACCESS_KEY_ID write access (s3:PutObject, s3:DeleteObject, s3:ListBucket, s3:GetObject) to the bucket and prefix of remote.url'
      : 'give the credentials in AWS_ACCESS_KEY_ID read access (s3:GetObject, s3:ListBucket) to the bucket and prefix of remote.url', 'remote-permission'));
  }
  if (status !== undefined && status >= 500 || THROTTLE_CODES.has(code)) {
    return made(new StorageError(`${service} failed while ${verb} ${object} (${code || `HTTP ${status}`})${tries}`, 'the provider had an internal error or is throttling; nothing incomplete is visible under the key: run the command again later', 'remote-server-error'));
  }
  return made(new StorageError(`S3 error while ${verb} ${object}: ${code ? `${code}: ` : ''}${sdkMsg}${status ? ` (HTTP ${status})` : ''}`, 'check remote.url, remote.endpoint and the credentials; run with --verbose for the cause', 'remote-error'));
}
