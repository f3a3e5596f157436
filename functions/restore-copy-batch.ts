import { z } from 'zod';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { type RestoreBatchResult, restoreBatch } from './core/restore-minio-copy.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({
  restoreId: z.string(),
  batch: z.object({ bucket: z.string(), targetBucket: z.string(), batchKey: z.string() }),
});

/** Writes one batch of objects back into MinIO: the exact vault versions, content type and metadata. */
export async function handler(event: unknown): Promise<RestoreBatchResult> {
  const { batch } = parseEvent('restore-copy-batch', eventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  return restoreBatch({
    vault: s3,
    vaultBucket: bucket,
    target,
    sourceBucket: batch.bucket,
    targetBucket: batch.targetBucket,
    batchKey: batch.batchKey,
    multipartThresholdBytes: env.minioMultipartThreshold(),
    logger: { info: (message, details) => logEvent('info', message, details) },
  });
}
