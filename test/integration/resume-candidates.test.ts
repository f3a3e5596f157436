import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResumeCandidates } from '../../functions/core/backup-plan.js';
import { allocateBackupId, failedKey, manifestKey, startedKey } from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';

/**
 * Which interrupted backups Prepare offers the MinIO plans to resume (`findResumeCandidates`), against
 * the local vault MinIO (a bucket of its own, so no other test's backups are touched).
 */
describe('findResumeCandidates', () => {
  const bucket = `wire-resume-${process.pid}`;
  let s3: S3Client;
  const now = new Date('2026-12-03T12:00:00Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000);
  const idOf = (h: number) => allocateBackupId(hoursAgo(h));
  const put = (key: string, body: object) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));
  /** A backup folder: its started marker (with the input's `full`), and a failed marker or a manifest. */
  const run = async (h: number, end: 'failed' | 'running' | { minioBuckets: number }, full = false) => {
    const id = idOf(h);
    await put(startedKey(id), { backupId: id, startedAt: hoursAgo(h).toISOString(), input: { full } });
    if (end === 'failed') await put(failedKey(id), { error: 'RunAbandoned' });
    else if (end !== 'running') {
      const buckets = Array.from({ length: end.minioBuckets }, (_, i) => ({ bucket: `b${i}` }));
      await put(manifestKey(id), { backupId: id, minio: end.minioBuckets > 0 ? { buckets } : null });
    }
    return id;
  };

  beforeAll(async () => {
    s3 = createStackS3Client(readStackInfo().vault);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await deleteBucketAndObjects(s3, bucket).catch(() => {});
    s3?.destroy();
  });

  it('offers the failed runs since the last complete MinIO backup, newest first, within the grace period', async () => {
    // Arrange, oldest first:
    await run(40, 'failed', true); // before the complete backup below: its base is superseded
    await run(30, { minioBuckets: 2 }); // the newest complete backup that copied MinIO
    const tooOld = await run(26, 'failed', true); // older than graceHours (24)
    const fullRun = await run(10, 'failed', true);
    await run(8, { minioBuckets: 0 }); // complete, Cassandra only: does not end the search
    const differential = await run(5, 'failed');
    await run(2, 'running'); // no marker: may still run (Prepare refuses overlaps before this)

    // Act
    const forDifferential = await findResumeCandidates(s3, bucket, { now, graceHours: 24, full: false });
    const forFull = await findResumeCandidates(s3, bucket, { now, graceHours: 24, full: true });
    const shortGrace = await findResumeCandidates(s3, bucket, { now, graceHours: 6, full: false });

    // Assert
    expect(forDifferential).toEqual([differential, fullRun]);
    expect(forDifferential).not.toContain(tooOld);
    expect(forFull).toEqual([fullRun]);
    expect(shortGrace).toEqual([differential]);
  });
});
