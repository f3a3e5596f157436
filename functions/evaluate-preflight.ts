import { z } from 'zod';
import { backupPlanSchema, type PreflightedPlan, preflightResultsSchema } from './core/contract/backup.js';
import { parseEvent } from './core/handler-kit.js';
import { evaluatePreflight } from './core/preflight.js';

const eventSchema = z.object({ plan: backupPlanSchema, preflight: preflightResultsSchema });

/**
 * Decides from the nodes' preflights whether the backup may go on (all UN, or partial allowed), and
 * carries the PostgreSQL preflight's choice of server into the plan.
 */
export async function handler(event: unknown): Promise<PreflightedPlan> {
  const { plan, preflight } = parseEvent('evaluate-preflight', eventSchema, event);
  return evaluatePreflight(plan, preflight.cassandra, preflight.postgresql);
}
