import { type BucketFinalized, minioBucketFinalizeInputSchema } from './core/contract/backup.js';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { finalizeBucketManifest } from './core/minio-manifest.js';
import { sampleSlotOf } from './core/verify-sample.js';

/**
 * Writes one bucket's manifest (one iteration of the Finalize MinIO Map: every object present at
 * backup time with its vault version) and re-checks this run's rotating sample of its carried objects
 * (HEAD with version id: 1/720 of them, so every referenced version is looked at within 30 days of
 * hourly runs); the objects this run wrote were checked by the copy batches. A lost object fails the
 * backup. Objects that could not be copied are counted and listed in the vault; Check MinIO Copies
 * fails the backup for them, each named, once every bucket has been looked at.
 */
export async function handler(event: unknown): Promise<BucketFinalized> {
  const input = parseEvent('finalize-minio', minioBucketFinalizeInputSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const divisor = env.verifySampleDivisor();
  const sample = { divisor, slot: sampleSlotOf(input.startedAt, divisor) };
  const { failed, ...result } = await finalizeBucketManifest({
    vault: s3,
    vaultBucket,
    backupId: input.backupId,
    bucket: input.bucket,
    sample,
    planPartObjects: input.planPartObjects,
  });
  return {
    ...result,
    failed: { count: failed.count, ...(failed.listKey ? { listKey: failed.listKey } : {}) },
  };
}
