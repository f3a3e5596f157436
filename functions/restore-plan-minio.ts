import { backupSource, parseEvent, vault } from './core/handler-kit.js';
import { restoreMinioEventSchema, sourceAccessOf } from './core/restore-events.js';
import { type ExtraObjectsOutcome, handleExtraObjects } from './core/restore-minio-extra.js';
import {
  planBucketRestores,
  restoreBatchItemsOf,
  writeRestoreBatchIndex,
} from './core/restore-minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { restoreBatchIndexKey } from './core/vault-layout.js';

/**
 * Creates the target buckets and writes the batch files of the objects to restore, plus their index;
 * then finds the objects each existing target holds that the backup does not, and reports them or
 * (with `"minio": {"extraObjects": "delete"}`) removes them recoverably.
 */
export async function handler(event: unknown) {
  const { plan } = parseEvent('restore-plan-minio', restoreMinioEventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  const planned = await planBucketRestores({
    vault: s3,
    vaultBucket: bucket,
    source: sourceAccessOf(plan, backupSource(plan)),
    target,
    buckets: plan.minio.buckets,
    restoreId: plan.restoreId,
    overwrite: plan.overwrite,
    dryRun: plan.dryRun,
  });
  const extraObjects: ExtraObjectsOutcome[] = [];
  for (const p of planned) {
    if (p.targetState === 'missing') continue;
    extraObjects.push(
      await handleExtraObjects({
        vault: s3,
        vaultBucket: bucket,
        manifestKey: p.manifestKey,
        source: sourceAccessOf(plan, backupSource(plan)),
        sourceBucket: p.sourceBucket,
        target,
        targetBucket: p.targetBucket,
        restoreId: plan.restoreId,
        mode: plan.minio.extraObjects,
        dryRun: plan.dryRun,
      }),
    );
  }
  const items = planned.flatMap(restoreBatchItemsOf);
  const objects = planned.reduce((sum, p) => sum + p.objects, 0);
  const bytes = planned.reduce((sum, p) => sum + p.bytes, 0);
  if (!plan.dryRun) await writeRestoreBatchIndex(s3, bucket, plan.restoreId, items);
  return {
    batchesKey: restoreBatchIndexKey(plan.restoreId),
    batches: items.length,
    objects,
    bytes,
    extraObjects,
  };
}
