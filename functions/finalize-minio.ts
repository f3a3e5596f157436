import { z } from 'zod';
import type { BucketResult } from './core/contract/backup.js';
import { env } from './core/env.js';
import { ObjectsNotCopiedError } from './core/errors.js';
import { parseEvent, vault } from './core/handler-kit.js';
import {
  type BucketManifestSummary,
  finalizeBucketManifest,
  objectsNotCopiedMessage,
} from './core/minio-manifest.js';
import { sampleSlotOf } from './core/verify-sample.js';

const eventSchema = z.object({
  plan: z.looseObject({
    backupId: z.string(),
    startedAt: z.string(),
    minio: z.looseObject({ buckets: z.array(z.string()) }),
  }),
});

/**
 * Writes each bucket's manifest (every object present at backup time with its vault version) and
 * re-checks this run's rotating sample of carried objects (HEAD with version id: 1/720 of them, so every
 * referenced version is looked at within 30 days of hourly runs); the objects this run wrote were
 * checked by the copy batches. A lost object fails the backup. Objects that could not be copied fail it
 * too, each named (bucket, key, cause) in the error the failed marker and the CLI show, after every
 * bucket has been looked at.
 */
export async function handler(event: unknown): Promise<{ buckets: BucketResult[] }> {
  const { plan } = parseEvent('finalize-minio', eventSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const divisor = env.verifySampleDivisor();
  const sample = { divisor, slot: sampleSlotOf(plan.startedAt, divisor) };
  const summaries: BucketManifestSummary[] = [];
  for (const bucket of plan.minio.buckets) {
    summaries.push(
      await finalizeBucketManifest({ vault: s3, vaultBucket, backupId: plan.backupId, bucket, sample }),
    );
  }
  if (summaries.some((s) => s.failed.count > 0)) {
    throw new ObjectsNotCopiedError(objectsNotCopiedMessage(vaultBucket, summaries));
  }
  return { buckets: summaries.map(({ failed: _failed, ...result }) => result) };
}
