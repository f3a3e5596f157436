import { z } from 'zod';
import type { VerifyReport } from './core/contract/inspect.js';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { scheduledVerify } from './core/vault-inspect.js';

/** The EventBridge scheduled event (its content is not used: the schedule is the trigger). */
const eventSchema = z.looseObject({});

/** Re-hashes this week's share of the newest complete backup's objects; fails naming any damage. */
export async function handler(event: unknown): Promise<VerifyReport> {
  parseEvent('scheduled-verify', eventSchema, event);
  const { s3, bucket } = vault();
  const report = await scheduledVerify(s3, bucket, {
    shares: env.scheduledVerifyShares(),
    now: new Date(),
    log: (line) => console.log(JSON.stringify({ line })),
  });
  console.log(
    JSON.stringify({
      line: `scheduled verify of ${report.backupId}: ${report.objects} object(s) re-hashed (${report.skippedObjects} in other shares), all match`,
    }),
  );
  return report;
}
