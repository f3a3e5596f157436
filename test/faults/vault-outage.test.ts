import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../cli/list.js';
import type { WireBackupConfig } from '../../lib/config.js';
import { type FaultStack, startFaultStack } from '../../local/faults/fault-stack.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { exists, listBackupIds, readVaultJson } from '../support/vault.js';

/**
 * The vault unreachable in the middle of a backup (its toxiproxy proxy disabled: connections refused,
 * as when the vault process is down or a VPN drops), shorter and longer than the outage budget. The
 * runner, its Lambdas and the hosts reach the vault only through the fault harness (`local/faults/`).
 */
describe('vault outage', () => {
  const budgetSeconds = 20;
  let direct: StackInfo;
  let harness: FaultStack;
  let config: WireBackupConfig;
  let s3: S3Client;

  beforeAll(async () => {
    direct = readStackInfo();
    s3 = createStackS3Client(direct.vault);
    await seedWire({ stack: direct, size: 'smoke', reset: true, flush: true });
    harness = await startFaultStack(direct);
    config = { ...localConfig(harness.stack), retry: { outageBudgetSeconds: budgetSeconds } };
  });
  afterAll(async () => {
    await harness?.heal();
    await harness?.close();
    s3?.destroy();
  });

  /** Runs a backup through the harness; `onEvent` may start a fault when a state is entered. */
  const backup = (onEvent: (event: RunnerEvent) => void) =>
    runLocal({
      stateMachine: 'wire-backup',
      input: { trigger: 'manual' },
      stack: harness.stack,
      config,
      onEvent,
    });

  it('completes when the vault is unreachable for less than the budget (during the MinIO copy)', async () => {
    let outage: Promise<void> | undefined;
    let retried = 0;
    const result = await backup((event) => {
      if (event.type === 'StateRetried') retried += 1;
      if (event.type === 'StateEntered' && event.state === 'Plan MinIO' && !outage) {
        outage = (async () => {
          await harness.vault.setEnabled(false);
          await new Promise((resolve) => setTimeout(resolve, 12_000));
          await harness.vault.setEnabled(true);
        })();
      }
    });
    await outage;

    expect(outage, 'the fault was never injected').toBeDefined();
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const { backupId } = result.output as { backupId: string };
    expect(await exists(s3, direct.vault.bucket, `backups/${backupId}/manifest.json`)).toBe(true);
    console.log(`vault down 12 s from Plan MinIO: backup ${backupId} completed, ${retried} state retries`);
  });

  it('fails with a readable cause when the vault stays unreachable past the budget (at Commit), marked once it is back', async () => {
    let downAt = 0;
    let restored: Promise<void> | undefined;
    const result = await backup((event) => {
      if (event.type !== 'StateEntered') return;
      if (event.state === 'Commit' && !downAt) {
        downAt = Date.now();
        void harness.vault.setEnabled(false);
      }
      if (event.state === 'Mark Failed' && downAt && !restored) {
        // The vault comes back while Mark Failed waits for it.
        restored = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 5000));
          await harness.vault.setEnabled(true);
        })();
      }
    });
    await restored;
    await harness.vault.setEnabled(true);

    expect(downAt, 'the fault was never injected').toBeGreaterThan(0);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TransientStorageError');
    // Which endpoint, which request, how long, what to check.
    expect(result.cause).toMatch(/the vault at http:\/\/127\.0\.0\.1:\d+ did not answer/);
    expect(result.cause).toMatch(/manifest\.json|backups\//);
    expect(result.cause).toContain(`outage budget of ${budgetSeconds} s`);
    expect(result.cause).toMatch(/check that .* is up and reachable/);
    // The failed run is the newest backup folder.
    const backupId = (await listBackupIds(s3, direct.vault.bucket)).sort().at(-1) ?? '';
    expect(backupId).not.toBe('');
    expect(await exists(s3, direct.vault.bucket, `backups/${backupId}/manifest.json`)).toBe(false);
    const failed = await readVaultJson<{ error: string; cause: string }>(
      s3,
      direct.vault.bucket,
      `backups/${backupId}/failed.json`,
    );
    expect(failed.error).toBe('TransientStorageError');
    expect(failed.cause).toBe(result.cause);
    const listing = await listBackups(s3, direct.vault.bucket);
    expect(listing).toMatch(new RegExp(`${backupId}\\s+FAILED\\s+TransientStorageError: the vault at`));
    console.log(`vault down from Commit for ${Math.round((Date.now() - downAt) / 1000)} s:\n${listing}`);
  });
});
