import { z } from 'zod';
import { refuseWhileRunning } from './core/abandoned-runs.js';
import { loadConfig } from './core/config-parameter.js';
import type { RestorePlan } from './core/contract/restore.js';
import { describeExecution } from './core/control-clients.js';
import { archive, parseEvent, vault } from './core/handler-kit.js';
import { planRestore } from './core/restore-plan.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({ input: z.unknown(), execution: z.string() });

/**
 * Validates the restore input, resolves the backup, checks the confirmation, plans what goes where;
 * a restore that will write refuses while a backup or another restore runs (`abandoned-runs.ts`). A
 * dry run writes nothing and is not refused.
 */
export async function handler(event: unknown): Promise<RestorePlan> {
  const { input, execution } = parseEvent('restore-prepare', eventSchema, event);
  const { s3, bucket } = vault();
  const config = await loadConfig();
  const now = new Date();
  const plan = await planRestore(input, {
    s3,
    vaultBucket: bucket,
    config,
    now: () => now,
    executionId: execution,
    archive: archive(),
  });
  if (!plan.dryRun) {
    await refuseWhileRunning(
      'restore',
      {
        s3,
        bucket,
        now,
        describe: describeExecution,
        markedBy: `restore execution ${execution}`,
      },
      (run) => logEvent('warn', `earlier ${run.kind} marked failed`, { id: run.id, cause: run.cause }),
    );
  }
  return plan;
}
