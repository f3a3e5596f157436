import { z } from 'zod';
import { parseConfig } from '../lib/config.js';
import { markAbandonedRuns } from './core/abandoned-runs.js';
import { prepareBackup } from './core/backup-plan.js';
import type { BackupPlan } from './core/contract/backup.js';
import { env, envNames } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({ input: z.unknown(), execution: z.string() });

/**
 * Prepare: validate input, allocate the backup id, find the previous backup, write `started`; then mark
 * failed the earlier runs that ended without a manifest or a failed marker (`abandoned-runs.ts`).
 */
export async function handler(event: unknown): Promise<BackupPlan> {
  const { input, execution } = parseEvent('prepare', eventSchema, event);
  const { s3, bucket } = vault();
  const config = parseConfig(JSON.parse(env.config()), envNames.config);
  const plan = await prepareBackup(input, execution, {
    s3,
    vaultBucket: bucket,
    config,
    now: () => new Date(),
  });
  logEvent('info', 'backup started', { backupId: plan.backupId, previousBackupId: plan.previousBackupId });
  const abandoned = await markAbandonedRuns(s3, bucket, new Date(), plan.backupId);
  for (const run of abandoned) {
    logEvent('warn', 'earlier backup marked failed', { backupId: run.backupId, cause: run.cause });
  }
  return plan;
}
