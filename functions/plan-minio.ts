import { z } from 'zod';
import { parseEvent, vault } from './core/handler-kit.js';
import { writeJsonLines } from './core/manifest-io.js';
import { planBucketBackup } from './core/minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { batchKeyOf, minioBatchesKey } from './core/vault-layout.js';

const eventSchema = z.object({
  plan: z.looseObject({
    backupId: z.string(),
    minio: z.looseObject({
      buckets: z.array(z.string()),
      previousManifestKeys: z.record(z.string(), z.string()),
      batchMaxObjects: z.number().int().positive(),
    }),
  }),
});

/** One batch file, as the Distributed Map reads it from the batches index. */
export interface BatchItem {
  readonly bucket: string;
  readonly batchKey: string;
}

/**
 * Lists every configured bucket, diffs it against the previous backup's manifest and writes batch
 * files of the objects to copy, plus one JSONL index of all batch files for the Distributed Map.
 */
export async function handler(event: unknown) {
  const { plan } = parseEvent('plan-minio', eventSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const { s3: source } = await sourceClientFromEnv();
  const buckets = [];
  const items: BatchItem[] = [];
  for (const bucket of plan.minio.buckets) {
    const previous = plan.minio.previousManifestKeys[bucket];
    const bucketPlan = await planBucketBackup({
      source,
      vault: s3,
      sourceBucket: bucket,
      vaultBucket,
      backupId: plan.backupId,
      batchMaxObjects: plan.minio.batchMaxObjects,
      ...(previous ? { previousManifestKey: previous } : {}),
    });
    buckets.push(bucketPlan);
    for (let n = 1; n <= bucketPlan.batches; n++)
      items.push({ bucket, batchKey: batchKeyOf(plan.backupId, bucket, n) });
  }
  const batchesKey = minioBatchesKey(plan.backupId);
  await writeJsonLines(s3, vaultBucket, batchesKey, items, { gzip: false });
  return { batchesKey, batches: items.length, buckets };
}
