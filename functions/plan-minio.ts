import { minioBucketPlanInputSchema } from './core/contract/backup.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { type BucketBackupPlan, planBucketBackup, plannedPartOf } from './core/minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { logEvent } from './core/telemetry.js';

/**
 * Plans one configured bucket, or one part of it (one iteration of the Plan MinIO Map): lists it, diffs
 * it against the previous backup's manifest of that bucket and writes its batch files. Returns the
 * counts only; Index MinIO Batches lists every bucket's (and part's) batch files for the copy
 * Distributed Map.
 */
export async function handler(event: unknown): Promise<BucketBackupPlan> {
  const input = parseEvent('plan-minio', minioBucketPlanInputSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  const { s3: source } = await sourceClientFromEnv();
  const previous = input.previousManifestKeys[input.bucket];
  const part = await plannedPartOf(s3, vaultBucket, {
    bucket: input.bucket,
    part: input.part,
    parts: input.parts,
    ...(previous ? { previousManifestKey: previous } : {}),
  });
  return planBucketBackup({
    source,
    vault: s3,
    sourceBucket: input.bucket,
    vaultBucket,
    backupId: input.backupId,
    batchMaxObjects: input.batchMaxObjects,
    resumeCandidates: input.resumeCandidates,
    part,
    onResumeProblem: (message) => logEvent('warn', message, { bucket: input.bucket, part: input.part }),
    ...(previous ? { previousManifestKey: previous } : {}),
  });
}
