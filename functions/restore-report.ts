import { z } from 'zod';
import { parseEvent, vault } from './core/handler-kit.js';
import type { RestorePlan } from './core/restore-plan.js';
import { type RestoreReport, reportRestore } from './core/restore-report.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({
  plan: z.looseObject({
    restoreId: z.string(),
    backupId: z.string(),
    vaultBucket: z.string(),
    dryRun: z.boolean(),
  }),
  checks: z.unknown().optional(),
  results: z.unknown().optional(),
  verified: z.unknown().optional(),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** Writes the restore report (or failure) and returns it; a dry run's report is returned only. */
export async function handler(event: unknown): Promise<RestoreReport> {
  const { plan, ...rest } = parseEvent('restore-report', eventSchema, event);
  const { s3 } = vault();
  const report = await reportRestore(
    { plan: plan as unknown as RestorePlan, ...rest },
    { s3, now: () => new Date() },
  );
  logEvent(report.outcome === 'failed' ? 'error' : 'info', `restore ${report.outcome}`, {
    restoreId: report.restoreId,
    backupId: report.backupId,
    durationSeconds: report.durationSeconds,
  });
  return report;
}
