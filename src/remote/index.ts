/** The remote's object layer (README "Remote (S3)"): what push and --remote build on. */
export { S3Backend, parseS3Url, describeRemote, endpointHost, type RemoteConfig, type S3BackendOptions } from './s3-backend';
export { EncryptedBackend, ENC_FORMAT, ENC_OVERHEAD_BYTES, PLAINTEXT_KEY, seal, unseal, makeKeyCheck, keyMatches } from './encrypted-backend';
export { KEY_ENV, keyText, newKdf, deriveKey, type StoreEncryption, type StoreKdf } from './encryption-key';
export { mapRemoteError, isRetryable, isNetworkError, remoteErrorCode, type RemoteErrorContext } from './errors';
export { openRemoteBackend, probeRemote, type OpenedRemote, type RemoteProbe } from './open';
