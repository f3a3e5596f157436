import type { BucketResult } from './core/contract/backup.js';
import { minioCopiesCheckInputSchema } from './core/contract/backup.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { checkMinioCopies } from './core/minio-manifest.js';

/**
 * Gathers every bucket's Finalize MinIO result into the MinIO branch's result (what Commit reads);
 * fails with ObjectsNotCopiedError, naming bucket, key and cause, if any object could not be copied.
 */
export async function handler(event: unknown): Promise<{ buckets: BucketResult[] }> {
  const input = parseEvent('check-minio-copies', minioCopiesCheckInputSchema, event);
  const { s3, bucket: vaultBucket } = vault();
  return checkMinioCopies(s3, vaultBucket, input.buckets);
}
