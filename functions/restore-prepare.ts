import { z } from 'zod';
import { parseConfig } from '../lib/config.js';
import type { RestorePlan } from './core/contract/restore.js';
import { env, envNames } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { markRestoreRunning } from './core/purge-run.js';
import { planRestore } from './core/restore-plan.js';

const eventSchema = z.object({ input: z.unknown() });

/**
 * Validates the restore input, resolves the backup, checks the confirmation, plans what goes where.
 * A restore that will write marks itself running in the vault, so the purge keeps its backup.
 */
export async function handler(event: unknown): Promise<RestorePlan> {
  const { input } = parseEvent('restore-prepare', eventSchema, event);
  const { s3, bucket } = vault();
  const config = parseConfig(JSON.parse(env.config()), envNames.config);
  const plan = await planRestore(input, { s3, vaultBucket: bucket, config, now: () => new Date() });
  if (!plan.dryRun)
    await markRestoreRunning(s3, bucket, {
      restoreId: plan.restoreId,
      backupId: plan.backupId,
      startedAt: plan.startedAt,
    });
  return plan;
}
