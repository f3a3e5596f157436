import { minioBatchIndexInputSchema } from './core/contract/backup.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { writeBatchIndex } from './core/minio-plan.js';

/**
 * Writes the copy Distributed Map's items (`backups/<id>/minio/batches.jsonl`) from the plans the Plan
 * MinIO Map returned, one per bucket.
 */
export async function handler(event: unknown): Promise<{ batchesKey: string; batches: number }> {
  const input = parseEvent('index-minio-batches', minioBatchIndexInputSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  return writeBatchIndex(s3, vaultBucket, input.backupId, input.buckets);
}
