import { z } from 'zod';
import { loadConfig } from './core/config-parameter.js';
import type { PurgePlanSummary } from './core/contract/purge.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { planPurge } from './core/purge-plan.js';

const eventSchema = z.object({ input: z.unknown() });

/** Decides which backups and object versions the retention lets go; writes the plan, deletes nothing. */
export async function handler(event: unknown): Promise<PurgePlanSummary> {
  const { input } = parseEvent('purge-plan', eventSchema, event);
  const { s3, bucket } = vault();
  const config = await loadConfig();
  return planPurge(
    input,
    { retention: config.vault.retention },
    { s3, vaultBucket: bucket, now: () => new Date(), log: (line) => console.log(JSON.stringify({ line })) },
  );
}
