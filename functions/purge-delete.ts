import { z } from 'zod';
import type { PurgeDeleted } from './core/contract/purge.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { deleteExpired } from './core/purge-run.js';

const eventSchema = z.object({ planKey: z.string().min(1) });

/** Deletes the object versions of a purge plan, manifests first; locked versions are reported. */
export async function handler(event: unknown): Promise<PurgeDeleted> {
  const { planKey } = parseEvent('purge-delete', eventSchema, event);
  const { s3, bucket } = vault();
  return deleteExpired(planKey, {
    s3,
    vaultBucket: bucket,
    now: () => new Date(),
    log: (line) => console.log(JSON.stringify({ line })),
  });
}
