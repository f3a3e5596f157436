import { z } from 'zod';
import { parseConfig } from '../lib/config.js';
import type { RestorePlan } from './core/contract/restore.js';
import { env, envNames } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { planRestore } from './core/restore-plan.js';

const eventSchema = z.object({ input: z.unknown() });

/** Validates the restore input, resolves the backup, checks the confirmation, plans what goes where. */
export async function handler(event: unknown): Promise<RestorePlan> {
  const { input } = parseEvent('restore-prepare', eventSchema, event);
  const { s3, bucket } = vault();
  const config = parseConfig(JSON.parse(env.config()), envNames.config);
  return planRestore(input, { s3, vaultBucket: bucket, config, now: () => new Date() });
}
