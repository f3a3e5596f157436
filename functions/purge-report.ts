import { z } from 'zod';
import { caughtErrorSchema } from './core/contract/common.js';
import { type PurgeReport, purgeDeletedSchema } from './core/contract/purge.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { writePurgeReport } from './core/purge-run.js';
import { allocateBackupId } from './core/vault-layout.js';

const eventSchema = z.object({
  /** Absent when the purge failed before its plan was written. */
  plan: z.object({ purgeId: z.string(), planKey: z.string() }).optional(),
  deleted: purgeDeletedSchema.optional(),
  error: caughtErrorSchema.optional(),
});

/** Writes the purge report (succeeded, dry run or failed). */
export async function handler(event: unknown): Promise<PurgeReport> {
  const { plan, deleted, error } = parseEvent('purge-report', eventSchema, event);
  const { s3, bucket } = vault();
  const now = new Date();
  return writePurgeReport(
    {
      purgeId: plan?.purgeId ?? allocateBackupId(now),
      ...(plan ? { planKey: plan.planKey } : {}),
      ...(deleted ? { deleted } : {}),
      ...(error ? { error } : {}),
    },
    { s3, vaultBucket: bucket, now: () => now },
  );
}
