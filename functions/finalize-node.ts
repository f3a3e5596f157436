import { z } from 'zod';
import { finalizeNode } from './core/cassandra-node.js';
import type { NodeManifestSummary } from './core/contract/backup.js';
import { ruleString, rules } from './core/contract/rules.js';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { sampleSlotOf } from './core/verify-sample.js';

const eventSchema = z.object({
  backupId: z.string(),
  startedAt: z.string().optional(),
  vaultBucket: z.string(),
  clusterName: z.string(),
  node: z.looseObject({ instanceId: z.string(), name: z.string() }),
  snapshot: z.looseObject({
    hostId: ruleString(rules.hostId),
    address: z.string().nullish(),
    inventoryKey: z.string(),
    nodeKey: z.string().nullish(),
    // Only the node that captured the schema names it; the others report null.
    schemaKey: z.string().nullish(),
    rowCountsKey: z.string().nullish(),
  }),
});

/**
 * Verifies a node's uploaded files against the vault (and, of the files it reuses, this run's rotating
 * sample: 1/720 of them) and writes its manifest and files list.
 */
export async function handler(event: unknown): Promise<NodeManifestSummary> {
  const args = parseEvent('finalize-node', eventSchema, event);
  const { s3 } = vault();
  // The backup id is the run's UTC start (yyyymmddThhmmssZ): it picks the sample's slot.
  const startedAt = args.startedAt ?? backupIdToIso(args.backupId);
  const divisor = env.verifySampleDivisor();
  const sample = startedAt ? { divisor, slot: sampleSlotOf(startedAt, divisor) } : undefined;
  return finalizeNode(args, { s3, deepVerify: env.vaultDeepVerify(), ...(sample ? { sample } : {}) });
}

/** `20261202T061919Z` → `2026-12-02T06:19:19Z`; undefined for any other shape (then every file is checked). */
function backupIdToIso(backupId: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(backupId);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
}
