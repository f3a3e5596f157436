import { z } from 'zod';
import type { BackupPlan } from './core/backup-plan.js';
import { parseEvent } from './core/handler-kit.js';
import { evaluatePreflight, type NodePreflight, type PreflightedPlan } from './core/preflight.js';

const eventSchema = z.object({
  plan: z.looseObject({ backupId: z.string() }),
  preflight: z.tuple([z.array(z.looseObject({ node: z.looseObject({}) })), z.unknown(), z.unknown()]),
});

/** Decides from the nodes' preflights whether the backup may go on (all UN, or partial allowed). */
export async function handler(event: unknown): Promise<PreflightedPlan> {
  const { plan, preflight } = parseEvent('evaluate-preflight', eventSchema, event);
  return evaluatePreflight(plan as unknown as BackupPlan, preflight[0] as unknown as NodePreflight[]);
}
