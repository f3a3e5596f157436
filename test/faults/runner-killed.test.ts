import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../cli/list.js';
import { failedKey, manifestKey } from '../../functions/core/vault-layout.js';
import { runLocal } from '../../local/local-run.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { mutateWire, seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, repoRoot, type StackInfo } from '../../local/stack-info.js';
import { exists, listBackupIds, readVaultJson } from '../support/vault.js';

/**
 * The runner killed mid-batch: the stand-in for a Lambda or the whole execution dying without any
 * Catch running (SIGKILL of the runner's process group during the MinIO copy batch). Nothing marks the
 * run then; the next run must complete, and the killed run must end FAILED by the next run at the
 * latest, never "incomplete" for good.
 *
 * Prepare asks Step Functions (`states:DescribeExecution`) about every unfinished run a `started.json`
 * names: the killed one is no longer running, so the next run marks it failed at once.
 */
describe('runner killed mid-batch', () => {
  let stack: StackInfo;
  let s3: S3Client;

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
    // A first backup, so that the killed one is differential and has objects to copy after a change.
    const first = await runLocal({ stateMachine: 'wire-backup', input: { trigger: 'manual' }, stack });
    expect(first.status, `${first.error}: ${first.cause}`).toBe('SUCCEEDED');
    await mutateWire({ stack, round: 1 });
  });
  afterAll(() => s3?.destroy());

  /** Runs a backup in a child process and SIGKILLs its process group once it entered `state`. */
  const backupKilledAt = (state: string) =>
    new Promise<{ killedAfterMs: number; sawState: boolean }>((resolve, reject) => {
      const startedAt = Date.now();
      const child = spawn(
        `${repoRoot}/bin/node22`,
        ['--import', 'tsx', `${repoRoot}/local/faults/backup-child.ts`],
        { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let sawState = false;
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (sawState || !line.startsWith('{')) return;
        const event = JSON.parse(line) as RunnerEvent;
        if (event.type === 'StateEntered' && event.state === state) {
          sawState = true;
          // Let the batch start its object copies, then kill the whole group (runner, Lambda workers).
          setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 1500);
        }
      });
      child.on('error', reject);
      child.on('exit', () => resolve({ killedAfterMs: Date.now() - startedAt, sawState }));
    });

  it('leaves the killed run unmarked at first; the next run completes; the killed run ends FAILED', async () => {
    const before = new Set(await listBackupIds(s3, stack.vault.bucket));
    const killed = await backupKilledAt('Copy Batch');
    expect(killed.sawState, 'the run never reached Copy Batch').toBe(true);
    const killedIds = (await listBackupIds(s3, stack.vault.bucket)).filter((id) => !before.has(id));
    expect(killedIds).toHaveLength(1);
    const killedId = killedIds[0] ?? '';
    expect(await exists(s3, stack.vault.bucket, manifestKey(killedId))).toBe(false);

    const nextStarted = Date.now();
    const next = await runLocal({ stateMachine: 'wire-backup', input: { trigger: 'manual' }, stack });
    const nextSeconds = Math.round((Date.now() - nextStarted) / 1000);
    expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');

    // Marked by the next run itself: Prepare asks Step Functions (DescribeExecution) about the run its
    // started.json names; the killed execution is no longer running (in the runner: unknown to it).
    const failed = await readVaultJson<{ error: string; cause: string }>(
      s3,
      stack.vault.bucket,
      failedKey(killedId),
    );
    const listed = (await listBackups(s3, stack.vault.bucket)).split('\n').find((l) => l.includes(killedId));
    expect(listed).toMatch(/FAILED/);
    console.log(
      `| runner killed (SIGKILL of its process group) | copy (Copy Batch) | killed after ${Math.round(killed.killedAfterMs / 1000)} s; ` +
        `no manifest; marked FAILED by the next run: ${failed.error} | completed in ${nextSeconds} s, differential |`,
    );
  });
});
