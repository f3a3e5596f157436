import { z } from 'zod';
import { markBackupFailed } from './core/commit.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { emitMetrics, logEvent } from './core/telemetry.js';

const eventSchema = z.object({
  plan: z.looseObject({
    backupId: z.string(),
    vaultBucket: z.string(),
    executionId: z.string().optional(),
    clusterName: z.string(),
  }),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
  /** The outage budget the failed step was retried for (configuration `retry.outageBudgetSeconds`). */
  outageBudgetSeconds: z.number().optional(),
});

/** Writes the `failed` marker with the cause; the backup has no manifest, so it never counts. */
export async function handler(
  event: unknown,
): Promise<{ backupId: string; failedKey: string; error: string; cause: string }> {
  const { plan, error, outageBudgetSeconds } = parseEvent('mark-failed', eventSchema, event);
  const { s3 } = vault();
  const marked = await markBackupFailed(plan, error, { s3, now: () => new Date() }, outageBudgetSeconds);
  emitMetrics({ BackupFailed: { value: 1, unit: 'Count' } }, plan.clusterName);
  logEvent('error', 'backup failed', { backupId: plan.backupId, error: marked.error, cause: marked.cause });
  return marked;
}
