import { z } from 'zod';
import { caughtErrorSchema } from './core/contract/common.js';
import {
  type RestoreReport,
  restoreChecksSchema,
  restorePlanSchema,
  restoreResultsSchema,
  restoreVerifiedSchema,
} from './core/contract/restore.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { reportRestore } from './core/restore-report.js';
import { logEvent } from './core/telemetry.js';

const eventSchema = z.object({
  plan: restorePlanSchema,
  checks: restoreChecksSchema.optional(),
  results: restoreResultsSchema.optional(),
  verified: restoreVerifiedSchema.optional(),
  error: caughtErrorSchema.optional(),
});

/** Writes the restore report (or failure) and returns it; a dry run's report is returned only. */
export async function handler(event: unknown): Promise<RestoreReport> {
  const args = parseEvent('restore-report', eventSchema, event);
  const { s3 } = vault();
  const report = await reportRestore(args, { s3, now: () => new Date() });
  logEvent(report.outcome === 'failed' ? 'error' : 'info', `restore ${report.outcome}`, {
    restoreId: report.restoreId,
    backupId: report.backupId,
    durationSeconds: report.durationSeconds,
  });
  return report;
}
