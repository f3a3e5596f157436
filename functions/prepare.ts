import { z } from 'zod';
import { refuseWhileRunning } from './core/abandoned-runs.js';
import { prepareBackup } from './core/backup-plan.js';
import { loadConfig } from './core/config-parameter.js';
import type { BackupPlan } from './core/contract/backup.js';
import { describeExecution } from './core/control-clients.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({ input: z.unknown(), execution: z.string() });

/**
 * Prepare: validate input, allocate the backup id, find the previous backup; settle the earlier runs
 * (`abandoned-runs.ts`: refuse while a backup or a restore runs, mark failed those that ended without
 * their marker); then write `started`.
 */
export async function handler(event: unknown): Promise<BackupPlan> {
  const { input, execution } = parseEvent('prepare', eventSchema, event);
  const { s3, bucket } = vault();
  const config = await loadConfig();
  const now = new Date();
  const plan = await prepareBackup(input, execution, {
    s3,
    vaultBucket: bucket,
    config,
    now: () => now,
    onProblem: (message) => logEvent('warn', message),
    beforeStart: async () => {
      await refuseWhileRunning(
        'backup',
        {
          s3,
          bucket,
          now,
          describe: describeExecution,
          markedBy: `backup execution ${execution}`,
        },
        (run) => logEvent('warn', `earlier ${run.kind} marked failed`, { id: run.id, cause: run.cause }),
      );
    },
  });
  logEvent('info', 'backup started', { backupId: plan.backupId, previousBackupId: plan.previousBackupId });
  return plan;
}
