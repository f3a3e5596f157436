import { z } from 'zod';
import { env } from './core/env.js';
import { RestoreRefusedError } from './core/errors.js';
import { archive, parseEvent, vault } from './core/handler-kit.js';
import { type RestoreBatchResult, restoreBatch } from './core/restore-minio-copy.js';
import type { RestoreSourceAccess } from './core/restore-minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { logEvent } from './core/telemetry.js';
import { backupSources } from './core/vault-layout.js';

const eventSchema = z.object({
  restoreId: z.string(),
  batch: z.object({
    bucket: z.string(),
    targetBucket: z.string(),
    batchKey: z.string(),
    /** Where the batch's objects are read (`RestoreBatchItem`); the archive bucket is the configured one. */
    source: z.enum(backupSources).default('vault'),
  }),
});

/** Writes one batch of objects back into MinIO: the exact vault versions, content type and metadata. */
export async function handler(event: unknown): Promise<RestoreBatchResult> {
  const { batch } = parseEvent('restore-copy-batch', eventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  let source: RestoreSourceAccess | undefined;
  if (batch.source === 'archive') {
    const configured = archive();
    if (!configured)
      throw new RestoreRefusedError(
        `restore batch ${batch.batchKey} reads from the archive, but this function has no archive configured — add "archive" to the configuration and deploy`,
      );
    source = { source: 'archive', client: configured.s3, bucket: configured.bucket };
  }
  return restoreBatch({
    ...(source ? { source } : {}),
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
