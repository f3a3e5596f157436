import { parseEvent, vault } from './core/handler-kit.js';
import { restoreMinioEventSchema } from './core/restore-events.js';
import {
  planBucketRestore,
  type RestoreBatchItem,
  restoreBatchItemsOf,
  writeRestoreBatchIndex,
} from './core/restore-minio-plan.js';
import { sourceClientFromEnv } from './core/source-minio.js';
import { restoreBatchIndexKey } from './core/vault-layout.js';

/** Creates the target buckets and writes the batch files of the objects to restore, plus their index. */
export async function handler(event: unknown) {
  const { plan } = parseEvent('restore-plan-minio', restoreMinioEventSchema, event);
  const { s3, bucket } = vault();
  const { s3: target } = await sourceClientFromEnv();
  const items: RestoreBatchItem[] = [];
  let objects = 0;
  let bytes = 0;
  for (const b of plan.minio.buckets) {
    const planned = await planBucketRestore({
      vault: s3,
      vaultBucket: bucket,
      manifestKey: b.manifestKey,
      target,
      targetBucket: b.targetBucket,
      restoreId: plan.restoreId,
      overwrite: plan.overwrite === 'true',
    });
    items.push(...restoreBatchItemsOf(planned));
    objects += planned.objects;
    bytes += planned.bytes;
  }
  await writeRestoreBatchIndex(s3, bucket, plan.restoreId, items);
  return { batchesKey: restoreBatchIndexKey(plan.restoreId), batches: items.length, objects, bytes };
}
