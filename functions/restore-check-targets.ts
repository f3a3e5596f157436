import { parseEvent, vault } from './core/handler-kit.js';
import { restoreMinioEventSchema } from './core/restore-events.js';
import { planBucketRestore } from './core/restore-minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';

/** Checks each target bucket (a dry-run plan: refused when non-empty without overwrite). Writes nothing. */
export async function handler(event: unknown) {
  const { plan } = parseEvent('restore-check-targets', restoreMinioEventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  const buckets = [];
  for (const b of plan.minio.buckets) {
    const checked = await planBucketRestore({
      vault: s3,
      vaultBucket: bucket,
      manifestKey: b.manifestKey,
      target,
      targetBucket: b.targetBucket,
      restoreId: plan.restoreId,
      overwrite: plan.overwrite === 'true',
      dryRun: true,
    });
    buckets.push({
      targetBucket: checked.targetBucket,
      objects: checked.objects,
      bytes: checked.bytes,
      targetState: checked.targetState,
    });
  }
  return { buckets };
}
