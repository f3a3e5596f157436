import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedKey, startedKey } from '../../functions/core/vault-layout.js';
import { hostDocuments } from '../../lib/host-documents.js';
import { runLocal } from '../../local/local-run.js';
import { seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runWithHostProfile } from '../support/host-script.js';
import { exists, listBackupIds, readVaultJson } from '../support/vault.js';

/**
 * An execution stopped mid-snapshot (StopExecution: ABORTED, no Catch, so its clean-up never runs)
 * leaves its snapshot on the node; the next backup clears it (the snapshot script's sweep: an earlier
 * backup's snapshot whose script has ended) and marks the stopped run failed. The snapshot command is
 * held InProgress for a while after its script ended (as SSM can report it), so the stop lands while
 * the snapshot exists and nothing else of the run has started.
 */
describe('execution stopped mid-snapshot', () => {
  let stack: StackInfo;
  let s3: S3Client;
  const input = { components: ['cassandra'], trigger: 'manual' };
  const listSnapshots = async () =>
    (await runWithHostProfile(stack.cassandra.nodes[0]?.instanceId ?? '', 'nodetool listsnapshots')).stdout;

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  });
  afterAll(() => s3?.destroy());

  it('leaves a snapshot that the next backup clears, and is marked failed by it', async () => {
    const before = new Set(await listBackupIds(s3, stack.vault.bucket));
    const stop = new AbortController();
    let snapshotEntered: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      snapshotEntered = resolve;
    });
    const running = runLocal({
      stateMachine: 'wire-backup',
      input,
      stack,
      signal: stop.signal,
      ssmCompletionDelayMs: (document) => (document === hostDocuments.cassandraSnapshot.name ? 120_000 : 0),
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'Snapshot Node') snapshotEntered();
      },
    });
    await Promise.race([entered, running]);
    const stoppedId = (await listBackupIds(s3, stack.vault.bucket)).find((id) => !before.has(id));
    expect(stoppedId, 'the backup wrote no started.json').toBeDefined();
    const id = stoppedId ?? '';
    // Wait for the snapshot to exist on the node (the script runs; its command stays InProgress).
    const deadline = Date.now() + 240_000;
    while (!(await listSnapshots()).includes(id)) {
      if (Date.now() > deadline) throw new Error(`no snapshot ${id} on the node after 240 s`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    // Let the script finish (its lock is released when it exits) before the stop.
    await new Promise((r) => setTimeout(r, 15_000));
    stop.abort();
    const stopped = await running;
    expect(stopped.status).toBe('ABORTED');
    expect(await exists(s3, stack.vault.bucket, failedKey(id))).toBe(false);
    expect(await listSnapshots()).toContain(id);

    const next = await runLocal({ stateMachine: 'wire-backup', input, stack });

    expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');
    expect(await listSnapshots()).not.toContain(id);
    const failed = await readVaultJson<{ error: string; cause: string }>(
      s3,
      stack.vault.bucket,
      failedKey(id),
    );
    expect(failed.cause).toMatch(/ABORTED/);
    expect(await exists(s3, stack.vault.bucket, startedKey(id))).toBe(true);
    console.log(
      `stopped mid-snapshot: ${id} left its snapshot; the next backup cleared it; ${failed.error}: ${failed.cause}`,
    );
  });
});
