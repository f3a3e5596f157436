import { z } from 'zod';
import { finalizeNode } from './core/cassandra-node.js';
import type { NodeManifestSummary } from './core/contract/backup.js';
import { ruleString, rules } from './core/contract/rules.js';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';

const eventSchema = z.object({
  backupId: z.string(),
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

/** Verifies a node's uploaded files against the vault and writes its manifest and files list. */
export async function handler(event: unknown): Promise<NodeManifestSummary> {
  const args = parseEvent('finalize-node', eventSchema, event);
  const { s3 } = vault();
  return finalizeNode(args, { s3, deepVerify: env.vaultDeepVerify() });
}
