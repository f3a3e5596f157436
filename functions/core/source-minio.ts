import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createSourceS3Client } from './clients.js';
import { env } from './env.js';
import { BucketNotFoundError, TransientStorageError } from './errors.js';
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
