import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createSourceS3Client } from './clients.js';
import { env } from './env.js';
import { BucketNotFoundError, MinioTlsError, TransientStorageError } from './errors.js';
import { readMinioCredentials } from './secrets.js';

/**
 * Builds the source MinIO client from the function environment (`MINIO_ENDPOINT`, `MINIO_REGION`,
 * `MINIO_SECRET_NAME`, `MINIO_LEGACY_CHECKSUMS`); credentials come from Secrets Manager.
 */
export async function sourceClientFromEnv(): Promise<{ s3: S3Client; endpoint: string }> {
  const endpoint = env.minioEndpoint();
  const creds = await readMinioCredentials(env.minioSecretName());
  const s3 = createSourceS3Client({
    endpoint,
    region: env.minioRegion(),
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    forcePathStyle: true,
    legacyChecksums: env.minioLegacyChecksums(),
    caBundle: env.minioCaBundle(),
  });
  return { s3, endpoint };
}

/** HeadBucket on every configured bucket; the error names the bucket, the endpoint and the fix. */
export async function checkSourceBuckets(
  s3: S3Client,
  endpoint: string,
  buckets: readonly string[],
): Promise<{ buckets: string[] }> {
  for (const bucket of buckets) {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (
        status === 404 ||
        (error as Error).name === 'NotFound' ||
        (error as Error).name === 'NoSuchBucket'
      ) {
        throw new BucketNotFoundError(
          `MinIO bucket ${bucket} does not exist at ${endpoint}: fix minio.buckets in the configuration or create the bucket`,
        );
      }
      if (status === 403) {
        throw new BucketNotFoundError(
          `MinIO bucket ${bucket} at ${endpoint} refused access (403): give the backup user s3:ListBucket and s3:GetObject on it`,
        );
      }
      const tls = untrustedCertificate(error);
      if (tls) {
        throw new MinioTlsError(
          `MinIO at ${endpoint} presented a TLS certificate this function does not trust (${tls}): set minio.caBundleFile in the configuration to the PEM of the CA that issued it (or fix the certificate's names and dates), then deploy again`,
          { cause: error },
        );
      }
      throw new TransientStorageError(
        `MinIO at ${endpoint} did not answer for bucket ${bucket}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  return { buckets: [...buckets] };
}

/** Node's codes for a server certificate that does not verify, as they reach the SDK's error. */
const certificateCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate error code of `error` (or of its causes), or undefined when it is something else. */
export function untrustedCertificate(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && certificateCodes.has(code)) return code;
  }
  return undefined;
}
