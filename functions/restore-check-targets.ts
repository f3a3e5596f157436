import { backupSource, parseEvent, vault } from './core/handler-kit.js';
import { restoreMinioEventSchema, sourceAccessOf } from './core/restore-events.js';
import { planBucketRestores } from './core/restore-minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';

/** Checks each target bucket (a dry-run plan: refused when non-empty without overwrite). Writes nothing. */
export async function handler(event: unknown) {
  const { plan } = parseEvent('restore-check-targets', restoreMinioEventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  const checked = await planBucketRestores({
    vault: s3,
    vaultBucket: bucket,
    source: sourceAccessOf(plan, backupSource(plan)),
    target,
    buckets: plan.minio.buckets,
    restoreId: plan.restoreId,
    overwrite: plan.overwrite,
    dryRun: true,
  });
  return {
    buckets: checked.map(({ targetBucket, objects, bytes, targetState }) => ({
      targetBucket,
      objects,
      bytes,
      targetState,
    })),
  };
}
