import { z } from 'zod';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { type CopyBatchResult, copyBatch } from './core/minio-copy.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({
  backupId: z.string(),
  batch: z.object({ bucket: z.string(), batchKey: z.string() }),
});

/** Copies one batch of MinIO objects into the vault (streamed; multipart above the threshold). */
export async function handler(event: unknown): Promise<CopyBatchResult> {
  const { batch } = parseEvent('copy-batch', eventSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const { s3: source } = await sourceClientFromEnv();
  const threshold = env.minioMultipartThreshold();
  return copyBatch({
    source,
    vault: s3,
    sourceBucket: batch.bucket,
    vaultBucket,
    batchKey: batch.batchKey,
    multipartThresholdBytes: threshold,
    logger: { info: (message, details) => logEvent('info', message, details) },
  });
}
