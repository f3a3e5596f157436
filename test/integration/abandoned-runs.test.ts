import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markAbandonedRuns } from '../../functions/core/abandoned-runs.js';
import { allocateBackupId, failedKey, manifestKey, startedKey } from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { exists, readVaultJson } from '../support/vault.js';

/**
 * Prepare's sweep of runs that ended unmarked, against the local vault MinIO (a bucket of its own, so
 * no backup of another test is touched).
 */
describe('markAbandonedRuns', () => {
  const bucket = `wire-abandoned-${process.pid}`;
  let s3: S3Client;
  const now = new Date('2026-12-02T12:00:00Z');
  const hoursAgo = (h: number) => allocateBackupId(new Date(now.getTime() - h * 3600_000));
  const abandoned = hoursAgo(13);
  const complete = hoursAgo(14);
  const failed = hoursAgo(15);
  const running = hoursAgo(1);
  const put = (key: string, body: object) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));

  beforeAll(async () => {
    s3 = createStackS3Client(readStackInfo().vault);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const id of [abandoned, complete, failed, running]) {
      await put(startedKey(id), { backupId: id, startedAt: 'then', executionId: `exec-${id}` });
    }
    await put(manifestKey(complete), { backupId: complete });
    await put(failedKey(failed), { backupId: failed, error: 'HostCommandError', cause: 'its own cause' });
  });
  afterAll(async () => {
    await deleteBucketAndObjects(s3, bucket);
    s3.destroy();
  });

  it('marks failed only the runs older than the timeout with neither manifest nor failed marker', async () => {
    const marked = await markAbandonedRuns(s3, bucket, now, 'NEWRUN');

    expect(marked.map((m) => m.backupId)).toEqual([abandoned]);
    const written = await readVaultJson<{ error: string; cause: string; executionId: string }>(
      s3,
      bucket,
      failedKey(abandoned),
    );
    expect(written.error).toBe('RunAbandoned');
    expect(written.executionId).toBe(`exec-${abandoned}`);
    expect(written.cause).toContain(`by execution exec-${abandoned}`);
    expect(written.cause).toContain('Marked failed by backup NEWRUN');
    expect(await exists(s3, bucket, failedKey(complete))).toBe(false);
    expect(await exists(s3, bucket, failedKey(running))).toBe(false);
    expect((await readVaultJson<{ cause: string }>(s3, bucket, failedKey(failed))).cause).toBe(
      'its own cause',
    );
    // A second sweep finds nothing left to mark.
    expect(await markAbandonedRuns(s3, bucket, now, 'NEXT')).toEqual([]);
  });
});
