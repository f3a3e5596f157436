import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest, BackupSummary } from '../../functions/core/contract/backup.js';
import { bucketManifestKey, failedKey, manifestKey, planKeyOf } from '../../functions/core/vault-layout.js';
import { historyScale } from '../../local/history-scale.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import type { RunResult } from '../../local/runner/run-state-machine.js';
import { emptyBucket } from '../../local/seed/minio-objects.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { exists, listBackupIds, readVaultJson } from '../support/vault.js';

const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

/** The Map iterations that entered `state`, by item index. */
const iterationsOf = (result: RunResult, state: string) =>
  result.events
    .filter((e) => e.type === 'StateEntered' && e.state === state)
    .map((e) => e.index)
    .sort();

/**
 * MinIO planning and finalizing fan out per bucket (issue 12): each configured bucket is listed,
 * diffed and finalized by its own Lambda invocation (an iteration of the Plan MinIO and Finalize MinIO
 * Maps), so no invocation handles every bucket; the copy Distributed Map still runs over every
 * bucket's batches from one index. A failure in one bucket's plan fails the backup, marked, with no
 * manifest.
 */
describe('MinIO planning per bucket', () => {
  let stack: StackInfo;
  let source: S3Client;
  let vault: S3Client;
  const buckets = ['a', 'b', 'c'].map((x) => `fan-${x}-${runId}`);
  const config = () => localConfig(stack, { buckets });
  const backup = () =>
    runLocal({ stateMachine: 'wire-backup', input: { components: ['minio'] }, stack, config: config() });
  let first: BackupManifest;
  /** A delete marker this test put on a bucket manifest (removed afterwards). */
  let hidden: { key: string; versionId: string } | undefined;

  beforeAll(async () => {
    stack = readStackInfo();
    source = createStackS3Client(stack.minio);
    vault = createStackS3Client(stack.vault);
    // Different sizes per bucket (1, 3 and 5 objects) so that a bucket's result cannot pass for another's.
    for (const [i, bucket] of buckets.entries()) {
      await source.send(new CreateBucketCommand({ Bucket: bucket }));
      for (let n = 0; n < 2 * i + 1; n++) {
        await source.send(
          new PutObjectCommand({ Bucket: bucket, Key: `v3/object-${n}`, Body: `${bucket} object ${n}` }),
        );
      }
    }
  });
  afterAll(async () => {
    if (hidden) {
      await vault
        .send(
          new DeleteObjectCommand({
            Bucket: stack.vault.bucket,
            Key: hidden.key,
            VersionId: hidden.versionId,
          }),
        )
        .catch(() => {});
    }
    for (const bucket of buckets) {
      await emptyBucket(source, bucket).catch(() => {});
      await source.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    }
    source?.destroy();
    vault?.destroy();
  });

  it('plans and finalizes each bucket in its own invocation, and copies every bucket', async () => {
    // Act
    const result = await backup();

    // Assert
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(iterationsOf(result, 'Plan MinIO')).toEqual([0, 1, 2]);
    expect(iterationsOf(result, 'Finalize MinIO')).toEqual([0, 1, 2]);
    expect(iterationsOf(result, 'Index MinIO Batches')).toHaveLength(1);
    expect(iterationsOf(result, 'Check MinIO Copies')).toHaveLength(1);
    first = (result.output as unknown as BackupSummary).manifest;
    // The result Commit records is unchanged: one entry per bucket, in the configured order.
    expect(first.minio?.buckets.map((b) => [b.bucket, b.objects, b.copiedObjects])).toEqual([
      [buckets[0], 1, 1],
      [buckets[1], 3, 3],
      [buckets[2], 5, 5],
    ]);
    for (const bucket of buckets) {
      const plan = await readVaultJson<{ bucket: string }>(
        vault,
        stack.vault.bucket,
        planKeyOf(first.backupId, bucket),
      );
      expect(plan.bucket).toBe(bucket);
    }
    // The bucket iterations are not mistaken for per-node ones when the history is projected to more
    // nodes: the per-node share (here the node preflight's) is the same without them.
    const bucketStates = ['Plan MinIO Buckets', 'Plan MinIO', 'Finalize MinIO Buckets', 'Finalize MinIO'];
    const withoutBuckets = {
      ...result,
      events: result.events.filter((e) => !bucketStates.includes(e.state ?? '')),
    };
    const perNode = (r: RunResult) =>
      historyScale(r, config(), 'wire-backup', stack.cassandra.nodes.length).perNode;
    expect(perNode(result)).toBe(perNode(withoutBuckets));
    console.log(
      `fan-out: ${buckets.length} buckets → ${iterationsOf(result, 'Plan MinIO').length} Plan MinIO and ${iterationsOf(result, 'Finalize MinIO').length} Finalize MinIO invocations; ${result.historyEvents} history events`,
    );
  }, 600_000);

  it("fails the backup, marked and without a manifest, when one bucket's plan fails", async () => {
    // Arrange: the previous manifest of the middle bucket is gone, so its plan cannot diff against it.
    const lost = bucketManifestKey(first.backupId, buckets[1] ?? '');
    const marker = await vault.send(new DeleteObjectCommand({ Bucket: stack.vault.bucket, Key: lost }));
    hidden = { key: lost, versionId: marker.VersionId ?? '' };
    const before = await listBackupIds(vault, stack.vault.bucket);

    // Act
    const result = await backup();

    // Assert
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BackupNotFoundError');
    expect(result.cause).toContain(lost);
    const failedPlans = result.events.filter((e) => e.type === 'StateFailed' && e.state === 'Plan MinIO');
    expect(failedPlans.map((e) => e.index)).toEqual([1]);
    expect(iterationsOf(result, 'Copy Batch')).toEqual([]);
    expect(iterationsOf(result, 'Finalize MinIO')).toEqual([]);
    const [id] = (await listBackupIds(vault, stack.vault.bucket)).filter((x) => !before.includes(x));
    expect(id).toBeDefined();
    expect(await exists(vault, stack.vault.bucket, manifestKey(String(id)))).toBe(false);
    const failed = await readVaultJson<{ error: string; cause: string }>(
      vault,
      stack.vault.bucket,
      failedKey(String(id)),
    );
    expect(failed.error).toBe('BackupNotFoundError');
    expect(failed.cause).toContain(lost);
  }, 600_000);

  it('plans a bucket in parts once its previous backup recorded where to split it, IAM enforced', async () => {
    // Arrange: the hidden manifest back; one backup recording a boundary every 2 objects (bucket a: 1
    // object, none; b: 3, one; c: 5, two), then one object added to every bucket.
    if (hidden) {
      await vault.send(
        new DeleteObjectCommand({ Bucket: stack.vault.bucket, Key: hidden.key, VersionId: hidden.versionId }),
      );
      hidden = undefined;
    }
    const inParts = () =>
      runLocal({
        stateMachine: 'wire-backup',
        input: { components: ['minio'] },
        stack,
        config: localConfig(stack, { buckets, planPartObjects: 2 }),
      });
    const recording = await inParts();
    expect(recording.status, `${recording.error}: ${recording.cause}`).toBe('SUCCEEDED');
    for (const bucket of buckets) {
      await source.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'v3/object-new', Body: `${bucket} new` }),
      );
    }

    // Act
    const result = await inParts();

    // Assert: 1 + 2 + 3 Plan MinIO invocations; one Finalize per bucket; every bucket whole.
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(iterationsOf(result, 'Plan MinIO')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(iterationsOf(result, 'Finalize MinIO')).toEqual([0, 1, 2]);
    const manifest = (result.output as unknown as BackupSummary).manifest;
    expect(
      manifest.minio?.buckets.map((b) => [b.bucket, b.objects, b.copiedObjects, b.carriedObjects]),
    ).toEqual([
      [buckets[0], 2, 1, 1],
      [buckets[1], 4, 1, 3],
      [buckets[2], 6, 1, 5],
    ]);
    const plan = await readVaultJson<{ part: number; parts: number; after: string; upTo: string }>(
      vault,
      stack.vault.bucket,
      planKeyOf(manifest.backupId, buckets[2] ?? '', { part: 2, parts: 3 }),
    );
    expect(plan).toMatchObject({ part: 2, parts: 3, after: 'v3/object-1', upTo: 'v3/object-3' });
    console.log(
      `parts: ${iterationsOf(result, 'Plan MinIO').length} Plan MinIO invocations for ${buckets.length} buckets; ${result.historyEvents} history events`,
    );
  }, 900_000);
});
