import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { env } from './env.js';
import { addStorageErrorMiddleware, sdkRetryStrategy } from './storage-retry.js';

/**
 * The one place S3 clients are built. Clients are cached per configuration at module level, so a warm
 * Lambda (or the local runner's warm worker of that function) reuses connections.
 * Nothing else in the code base knows whether it talks to AWS or to a local S3-compatible server.
 */

/** Connection to a source MinIO (or any S3-compatible server) of the on-prem installation. */
export interface SourceS3Config {
  /** Endpoint URL, e.g. `https://minio.wire.example.com:9000`. */
  readonly endpoint: string;
  /** Region the server signs with (MinIO accepts any; `us-east-1` by default). */
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Address buckets as `<endpoint>/<bucket>` (MinIO needs this unless it serves virtual hosts). */
  readonly forcePathStyle: boolean;
  /**
   * For MinIO releases (2020 onwards) that reject the CRC checksums the AWS SDK v3 sends by default:
   * compute and validate checksums only when an operation requires them.
   */
  readonly legacyChecksums: boolean;
  /** PEM of a private CA to trust besides the public ones (MinIO with a certificate of the company CA). */
  readonly caBundle?: string | undefined;
}

/** Endpoint override and addressing for the vault, read from the function environment. */
export interface VaultS3Config {
  readonly region: string;
  /** Set only where the vault is not AWS S3 (locally: a second MinIO). */
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  /** Static credentials from the environment when present there; otherwise the default provider chain. */
  readonly credentials:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
    | undefined;
}

// Retries: sdkRetryStrategy (storage-retry.ts) per request; an error it gives up on, if transient, becomes a
// TransientStorageError naming the service, endpoint and request, which the state machine retries.
// Idle sockets and unreachable hosts must fail (and be retried) well inside a Lambda timeout, while a
// large streamed GET may legitimately take minutes, so bound connect and idle time, not total time.
const requestHandler = { connectionTimeout: 10_000, socketTimeout: 120_000 } as const;

const cache = new Map<string, S3Client>();

function cached(config: object, build: () => S3Client): S3Client {
  const cacheKey = JSON.stringify(config);
  let client = cache.get(cacheKey);
  if (!client) {
    client = build();
    cache.set(cacheKey, client);
  }
  return client;
}

/**
 * Reads the vault client configuration from the environment: region from `AWS_REGION` (or
 * `AWS_DEFAULT_REGION`), optional endpoint override `WIRE_BACKUP_VAULT_ENDPOINT` and
 * `WIRE_BACKUP_S3_FORCE_PATH_STYLE=true` (both set only locally).
 */
export function vaultS3ConfigFromEnv(): VaultS3Config {
  const region = env.awsRegion();
  const endpoint = env.vaultEndpoint();
  const forcePathStyle = env.s3ForcePathStyle();
  const accessKeyId = env.awsAccessKeyId();
  const secretAccessKey = env.awsSecretAccessKey();
  const sessionToken = env.awsSessionToken();
  // The local runner scopes each function's environment (see env.ts), which the SDK's default
  // provider chain cannot see; in Lambda these variables hold the execution role's credentials.
  const credentials =
    accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
      : undefined;
  return { region, endpoint, forcePathStyle, credentials };
}

/** Builds (or reuses) the S3 client for the vault from the function environment. */
export function createVaultS3Client(config: VaultS3Config = vaultS3ConfigFromEnv()): S3Client {
  return cached({ vault: config }, () => {
    const options: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      requestHandler,
      retryStrategy: sdkRetryStrategy(),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.credentials ? { credentials: config.credentials } : {}),
    };
    const client = new S3Client(options);
    addStorageErrorMiddleware(
      client,
      'the vault',
      () => config.endpoint ?? `S3 in ${config.region} (s3.${config.region}.amazonaws.com)`,
    );
    return client;
  });
}

/** Builds (or reuses) the S3 client for a source MinIO. */
export function createSourceS3Client(config: SourceS3Config): S3Client {
  return cached({ source: config }, () => {
    const options: S3ClientConfig = {
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      requestHandler: config.caBundle
        ? {
            ...requestHandler,
            httpsAgent: new Agent({ keepAlive: true, ca: [...rootCertificates, config.caBundle] }),
          }
        : requestHandler,
      retryStrategy: sdkRetryStrategy(),
      ...(config.legacyChecksums
        ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
        : {}),
    };
    const client = new S3Client(options);
    addStorageErrorMiddleware(client, 'the source MinIO', () => config.endpoint);
    return client;
  });
}
