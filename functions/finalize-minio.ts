import { z } from 'zod';
import type { BucketResult } from './core/contract/backup.js';
import { ObjectsNotCopiedError, VerificationFailedError } from './core/errors.js';
import { parseEvent, vault } from './core/handler-kit.js';
import {
  type BucketManifestSummary,
  finalizeBucketManifest,
  objectsNotCopiedMessage,
  verifyBucketManifest,
} from './core/minio-manifest.js';

const eventSchema = z.object({
  plan: z.looseObject({ backupId: z.string(), minio: z.looseObject({ buckets: z.array(z.string()) }) }),
});

/**
 * Writes each bucket's manifest (every object present at backup time with its vault version) and
 * checks every referenced version exists with its size, so a lost object fails the backup. Objects
 * that could not be copied fail it too, each named (bucket, key, cause) in the error the failed
 * marker and the CLI show, after every bucket has been looked at.
 */
export async function handler(event: unknown): Promise<{ buckets: BucketResult[] }> {
  const { plan } = parseEvent('finalize-minio', eventSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const summaries: BucketManifestSummary[] = [];
  for (const bucket of plan.minio.buckets) {
    const summary = await finalizeBucketManifest({ vault: s3, vaultBucket, backupId: plan.backupId, bucket });
    summaries.push(summary);
    if (summary.failed.count > 0) continue;
    try {
      await verifyBucketManifest({ vault: s3, vaultBucket, manifestKey: summary.manifestKey, deep: false });
    } catch (error) {
      if (!(error instanceof VerificationFailedError)) throw error;
      throw new VerificationFailedError(
        `${error.message}. Objects an earlier backup copied are referenced, not copied again: run a full backup ({"full": true}) to copy them afresh`,
        { cause: error },
      );
    }
  }
  if (summaries.some((s) => s.failed.count > 0)) {
    throw new ObjectsNotCopiedError(objectsNotCopiedMessage(vaultBucket, summaries));
  }
  return { buckets: summaries.map(({ failed: _failed, ...result }) => result) };
}
