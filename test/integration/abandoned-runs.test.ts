import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DescribeExecution,
  refuseOverlap,
  settleEarlierRuns,
} from '../../functions/core/abandoned-runs.js';
import { OverlappingRunError } from '../../functions/core/errors.js';
import {
  allocateBackupId,
  failedKey,
  manifestKey,
  restoreFailedKey,
  restoreReportKey,
  restoreStartedKey,
  startedKey,
} from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { exists, readVaultJson } from '../support/vault.js';

/**
 * Prepare's settling of earlier runs, against the local vault MinIO (a bucket of its own, so no backup
 * of another test is touched). Step Functions' DescribeExecution is a table here (the end-to-end
 * test `test/e2e/overlap.test.ts` asks the runner's control plane).
 */
describe('settleEarlierRuns', () => {
  const bucket = `wire-abandoned-${process.pid}`;
  let s3: S3Client;
  const now = new Date('2026-12-02T12:00:00Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000);
  const idOf = (h: number) => allocateBackupId(hoursAgo(h));
  const exec = (id: string) => `arn:aws:states:us-east-1:000000000000:execution:wire-backup:e-${id}`;
  const abandoned = idOf(13);
  const complete = idOf(14);
  const failed = idOf(15);
  const running = idOf(1);
  const aborted = idOf(2);
  const restoreRunning = idOf(3);
  const restoreAborted = idOf(4);
  const restoreDone = idOf(5);
  const statuses: Record<string, string> = {
    [exec(running)]: 'RUNNING',
    [exec(aborted)]: 'ABORTED',
    [exec(restoreRunning)]: 'RUNNING',
    [exec(restoreAborted)]: 'ABORTED',
  };
  const asked: string[] = [];
  const describe_: DescribeExecution = async (arn) => {
    asked.push(arn);
    const status = statuses[arn];
    return status ? { status, stopDate: status === 'RUNNING' ? undefined : hoursAgo(1) } : undefined;
  };
  const put = (key: string, body: object) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));

  beforeAll(async () => {
    s3 = createStackS3Client(readStackInfo().vault);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [id, h] of [
      [abandoned, 13],
      [complete, 14],
      [failed, 15],
      [running, 1],
      [aborted, 2],
    ] as const) {
      await put(startedKey(id), {
        backupId: id,
        startedAt: hoursAgo(h).toISOString(),
        executionId: exec(id),
      });
    }
    await put(manifestKey(complete), { backupId: complete });
    await put(failedKey(failed), { backupId: failed, error: 'HostCommandError', cause: 'its own cause' });
    for (const [id, h] of [
      [restoreRunning, 3],
      [restoreAborted, 4],
      [restoreDone, 5],
    ] as const) {
      await put(restoreStartedKey(id), {
        restoreId: id,
        backupId: complete,
        startedAt: hoursAgo(h).toISOString(),
        executionId: exec(id),
      });
    }
    await put(restoreReportKey(restoreDone), { restoreId: restoreDone, outcome: 'restored' });
  });
  afterAll(async () => {
    await deleteBucketAndObjects(s3, bucket);
    s3.destroy();
  });

  it('reports running executions, marks failed those that ended or outlived the timeout, and nothing else', async () => {
    const settled = await settleEarlierRuns({
      s3,
      bucket,
      now,
      describe: describe_,
      markedBy: 'backup NEWRUN',
    });

    expect(settled.running.map((r) => `${r.kind} ${r.id}`)).toEqual([
      `backup ${running}`,
      `restore ${restoreRunning}`,
    ]);
    expect(settled.marked.map((r) => `${r.kind} ${r.id}`)).toEqual([
      `backup ${abandoned}`,
      `backup ${aborted}`,
      `restore ${restoreAborted}`,
    ]);
    // The run past the timeout is marked by age: Step Functions is not asked about it.
    expect(asked).not.toContain(exec(abandoned));
    const old = await readVaultJson<{ error: string; cause: string; executionId: string }>(
      s3,
      bucket,
      failedKey(abandoned),
    );
    expect(old.error).toBe('RunAbandoned');
    expect(old.executionId).toBe(exec(abandoned));
    expect(old.cause).toContain('timed out after 12 h');
    expect(old.cause).toContain('Marked failed by backup NEWRUN');
    // The aborted run, 2 hours old, is marked at once with the status its execution ended with.
    const stopped = await readVaultJson<{ cause: string }>(s3, bucket, failedKey(aborted));
    expect(stopped.cause).toContain(`execution ${exec(aborted)}): its execution ended as ABORTED`);
    const restore = await readVaultJson<{ outcome: string; cause: string }>(
      s3,
      bucket,
      restoreFailedKey(restoreAborted),
    );
    expect(restore.outcome).toBe('failed');
    expect(restore.cause).toContain('ended as ABORTED');
    for (const key of [failedKey(complete), failedKey(running), restoreFailedKey(restoreRunning)])
      expect(await exists(s3, bucket, key)).toBe(false);
    expect((await readVaultJson<{ cause: string }>(s3, bucket, failedKey(failed))).cause).toBe(
      'its own cause',
    );

    // A second pass finds nothing left to mark, and the running ones still running.
    const again = await settleEarlierRuns({ s3, bucket, now, describe: describe_, markedBy: 'backup NEXT' });
    expect(again.marked).toEqual([]);
    expect(again.running).toHaveLength(2);

    // The refusal names each run, its execution, its start and how to stop it.
    expect(() => refuseOverlap('backup', settled.running)).toThrow(OverlappingRunError);
    expect(() => refuseOverlap('backup', settled.running)).toThrow(
      new RegExp(
        `backup ${running} \\(execution ${exec(running).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, started ${hoursAgo(1).toISOString()}\\).*aws stepfunctions stop-execution --execution-arn`,
      ),
    );
    expect(() => refuseOverlap('restore', [])).not.toThrow();
  });
});
