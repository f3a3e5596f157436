import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../functions/core/contract/backup.js';
import { errorNames } from '../../functions/core/errors.js';
import { failedKey, manifestKey } from '../../functions/core/vault-layout.js';
import { hostDocuments } from '../../lib/host-documents.js';
import { runLocal } from '../../local/local-run.js';
import type { RunResult } from '../../local/runner/run-state-machine.js';
import { seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { exists, readVaultJson, startedRunOf } from '../support/vault.js';

/**
 * No overlapping runs, with the real runner and stack: a backup holds its wire-server archive
 * command open (the SSM executor reports it InProgress for a while after the script ended); while it
 * runs, a second backup and a restore are refused by their Prepare, which asks the runner's control
 * plane (`DescribeExecution`, evaluated against their roles) about the execution the first one's
 * `started.json` records. The first one is then stopped (ABORTED: no Catch runs, no failed marker),
 * and the next backup's Prepare marks it failed at once. Wire-server only, so each run is short.
 */
describe('overlapping runs', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let completeId: string;
  const input = { components: ['wireServer'], trigger: 'manual' };
  const backup = (options: Partial<Parameters<typeof runLocal>[0]> = {}) =>
    runLocal({ stateMachine: 'wire-backup', input, stack, ...options });

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
    const first = await backup();
    if (first.status !== 'SUCCEEDED') throw new Error(`backup failed: ${first.error} ${first.cause}`);
    completeId = (first.output as unknown as { manifest: BackupManifest }).manifest.backupId;
  });
  afterAll(() => s3?.destroy());

  it('refuses a backup and a restore while a backup runs, and marks a stopped run failed at once', async () => {
    const stop = new AbortController();
    let archiving: () => void = () => undefined;
    const archiveSent = new Promise<void>((resolve) => {
      archiving = resolve;
    });
    const running = backup({
      signal: stop.signal,
      // The archive command reports InProgress for two minutes after its script ended.
      ssmCompletionDelayMs: (document) => (document === hostDocuments.wireServerArchive.name ? 120_000 : 0),
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'Archive wire-server') archiving();
      },
    });
    const ended = running.then((r) => r);
    await Promise.race([archiveSent, ended]);

    const second = await backup();
    const restore = await runLocal({
      stateMachine: 'wire-restore',
      input: { backupId: completeId, confirm: completeId, components: ['wireServer'], overwrite: true },
      stack,
    });
    stop.abort();
    const first: RunResult = await ended;

    expect(first.status).toBe('ABORTED');
    const plan = await startedRunOf(s3, stack.vault.bucket, first.executionArn);
    for (const refused of [second, restore]) {
      expect(refused.status, `${refused.error}: ${refused.cause}`).toBe('FAILED');
      expect(refused.error).toBe(errorNames.overlappingRun);
      expect(refused.cause).toContain(`backup ${plan.backupId}`);
      expect(refused.cause).toContain(`execution ${first.executionArn}`);
      expect(refused.cause).toContain(`started ${plan.startedAt}`);
      expect(refused.cause).toContain(
        `aws stepfunctions stop-execution --execution-arn ${first.executionArn}`,
      );
    }
    console.log(`overlap: refused while ${plan.backupId} ran: ${second.cause}`);
    // Stopped without its Catch: neither manifest nor failed marker.
    expect(await exists(s3, stack.vault.bucket, manifestKey(plan.backupId))).toBe(false);
    expect(await exists(s3, stack.vault.bucket, failedKey(plan.backupId))).toBe(false);

    const next = await backup();

    expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');
    const marker = await readVaultJson<{ error: string; cause: string; executionId: string }>(
      s3,
      stack.vault.bucket,
      failedKey(plan.backupId),
    );
    expect(marker.error).toBe('RunAbandoned');
    expect(marker.executionId).toBe(first.executionArn);
    expect(marker.cause).toContain('its execution ended as ABORTED');
    expect(marker.cause).toContain(`Marked failed by backup execution ${next.executionArn}`);
  });
});
