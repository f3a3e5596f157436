import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markBackupFailed } from '../../functions/core/commit.js';
import { allocateBackupId, failedKey } from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { readVaultJson } from '../support/vault.js';

/**
 * Mark Failed of a backup whose MinIO copy (a Distributed Map) failed: the Catch carries only
 * `States.ExceedToleratedFailureThreshold`; the failed batch's own cause is read from the map run's
 * report (`map-runs/<map run id>/FAILED_0.json`, as the ResultWriter writes it), against the local
 * vault MinIO (a bucket of its own). The end-to-end row is in the fault matrix (MinIO refused past
 * the budget during Copy Batch).
 */
describe('markBackupFailed reads the map run report', () => {
  const bucket = `wire-mark-failed-${process.pid}`;
  let s3: S3Client;
  const now = new Date();
  const ours = allocateBackupId(new Date(now.getTime() - 60_000));
  const other = allocateBackupId(new Date(now.getTime() - 120_000));
  const tolerated = {
    Error: 'States.ExceedToleratedFailureThreshold',
    Cause: 'The specified tolerated failure threshold was exceeded',
  };
  const record = (backupId: string, bucketName: string) => ({
    ExecutionArn: `arn:aws:states:us-east-1:000000000000:execution:wire-backup/Copy Objects:${backupId}-${bucketName}`,
    Input: JSON.stringify({ batch: { bucket: bucketName, key: 'b/00001.jsonl' }, backupId }),
    InputDetails: { Included: true },
    Status: 'FAILED',
    Error: 'TransientStorageError',
    Cause: JSON.stringify({
      errorType: 'TransientStorageError',
      errorMessage: `reading s3://${bucketName}/x from MinIO at http://127.0.0.1:9000 failed: connect ECONNREFUSED`,
    }),
  });
  const put = (key: string, body: unknown) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));

  beforeAll(async () => {
    s3 = createStackS3Client(readStackInfo().vault);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await deleteBucketAndObjects(s3, bucket);
    s3?.destroy();
  });

  it("puts the failed batch's own error and cause into failed.json, naming the report", async () => {
    // Another backup's report, and a map run's manifest (not a FAILED report): neither is read.
    await put('map-runs/run-other/FAILED_0.json', [record(other, 'assets')]);
    await put('map-runs/run-ours/manifest.json', { MapRunArn: 'x', ResultFiles: {} });
    await put('map-runs/run-ours/FAILED_0.json', [record(ours, 'public'), record(ours, 'avatars')]);

    const marked = await markBackupFailed({ backupId: ours, vaultBucket: bucket }, tolerated, {
      s3,
      now: () => now,
    });
    expect(marked.error).toBe('TransientStorageError');
    expect(marked.cause).toContain('2 MinIO copy batch(es) (Copy Batch) failed after their retries');
    expect(marked.cause).toContain('reading s3://public/x from MinIO at http://127.0.0.1:9000 failed');
    expect(marked.cause).toContain(`s3://${bucket}/map-runs/run-ours/FAILED_0.json`);
    const written = await readVaultJson<{ error: string; cause: string }>(s3, bucket, failedKey(ours));
    expect(written).toMatchObject({ error: marked.error, cause: marked.cause });
  });

  it('keeps the map error, with where to look, when no report of the run exists', async () => {
    const lone = allocateBackupId(new Date(now.getTime() - 30_000));
    const marked = await markBackupFailed({ backupId: lone, vaultBucket: bucket }, tolerated, {
      s3,
      now: () => now,
    });
    expect(marked.error).toBe('States.ExceedToleratedFailureThreshold');
    expect(marked.cause).toContain(`s3://${bucket}/map-runs/<map run id>/FAILED_0.json`);
  });
});
