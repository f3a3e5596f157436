import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSummary } from '../../cli/summary.js';
import type { BackupSummary } from '../../functions/core/contract/backup.js';
import { failedKey, manifestKey } from '../../functions/core/vault-layout.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { emptyBucket } from '../../local/seed/minio-objects.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { exists, readVaultJson, startedRunOf } from '../support/vault.js';

const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

/**
 * A full backup that does not end (here: stopped, ABORTED, no Catch, after every copy batch finished)
 * is not started over: the next full backup's Prepare marks it failed (RunAbandoned), offers it to the
 * MinIO plans as a resume candidate, and the plan carries every object it copied that has not changed
 * since. IAM enforced (the plan reads another backup's files under its role).
 */
describe('resuming an interrupted full MinIO backup', () => {
  let stack: StackInfo;
  let source: S3Client;
  let vault: S3Client;
  const bucket = `resume-${runId}`;
  const objects = 24;
  const config = () => {
    const base = localConfig(stack, { buckets: [bucket] });
    return { ...base, minio: { ...base.minio, batchMaxObjects: 4 } };
  };
  const input = { components: ['minio'], full: true, trigger: 'manual' };

  beforeAll(async () => {
    stack = readStackInfo();
    source = createStackS3Client(stack.minio);
    vault = createStackS3Client(stack.vault);
    await source.send(new CreateBucketCommand({ Bucket: bucket }));
    for (let n = 0; n < objects; n++) {
      await source.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `v3/object-${String(n).padStart(2, '0')}`,
          Body: `object ${n}`,
        }),
      );
    }
  });
  afterAll(async () => {
    await emptyBucket(source, bucket).catch(() => {});
    await source.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    source?.destroy();
    vault?.destroy();
  });

  it('carries what the stopped run copied and copies only what changed since', async () => {
    // Arrange: a full backup stopped once its copy has finished (at Finalize MinIO), then one object rewritten.
    const stop = new AbortController();
    const interrupted = await runLocal({
      stateMachine: 'wire-backup',
      input,
      stack,
      config: config(),
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'Finalize MinIO') stop.abort();
      },
    });
    expect(interrupted.status).toBe('ABORTED');
    const { backupId: interruptedId } = await startedRunOf(
      vault,
      stack.vault.bucket,
      interrupted.executionArn,
    );
    expect(await exists(vault, stack.vault.bucket, manifestKey(interruptedId))).toBe(false);
    await source.send(new PutObjectCommand({ Bucket: bucket, Key: 'v3/object-05', Body: 'rewritten' }));

    // Act
    const next = await runLocal({ stateMachine: 'wire-backup', input, stack, config: config() });

    // Assert
    expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');
    const marker = await readVaultJson<{ error: string }>(
      vault,
      stack.vault.bucket,
      failedKey(interruptedId),
    );
    expect(marker.error).toBe('RunAbandoned');
    const summary = next.output as unknown as BackupSummary;
    const result = summary.manifest.minio?.buckets[0];
    expect(result).toMatchObject({
      bucket,
      objects,
      copiedObjects: 1,
      carriedObjects: objects - 1,
      resumed: { from: interruptedId, objects: objects - 1 },
    });
    const text = backupSummary(summary.manifest, stack.vault.bucket);
    expect(text).toContain(`${objects - 1} of them copied by interrupted backup ${interruptedId}: resumed`);
  });
});
