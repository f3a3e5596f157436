import { z } from 'zod';
import { optionalEnv } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { type BucketRestoreVerification, verifyBucketRestore } from './core/minio-restore.js';
import { requireClusterUp, type TargetNodeCheck } from './core/restore-checks.js';
import { restoreBucketSchema } from './core/restore-events.js';
import { sourceClientFromEnv } from './core/source-minio.js';

const planSchema = z.looseObject({
  components: z.object({ wireServer: z.boolean(), cassandra: z.boolean(), minio: z.boolean() }),
  minio: z.object({ buckets: z.array(restoreBucketSchema) }).nullable(),
});
const eventSchema = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('targets'),
    plan: planSchema,
    checks: z.tuple([z.unknown(), z.unknown(), z.unknown()]),
  }),
  z.object({
    phase: z.literal('restored'),
    plan: planSchema,
    results: z.unknown(),
    rechecks: z.array(z.unknown()).optional(),
  }),
]);

/**
 * Before: every target node UN (else refused). After: every target node UN again and every bucket
 * holds exactly the manifest's objects (sizes, content types, metadata; with deep verify their
 * SHA-256).
 */
export async function handler(event: unknown) {
  const parsed = parseEvent('restore-verify', eventSchema, event);
  if (parsed.phase === 'targets') {
    const cassandra = parsed.checks[1] as { nodes?: TargetNodeCheck[]; skipped?: true };
    return { cassandra: cassandra.nodes ? requireClusterUp(cassandra.nodes, 'before') : null };
  }
  const { plan } = parsed;
  const cassandra = plan.components.cassandra
    ? requireClusterUp((parsed.rechecks ?? []) as TargetNodeCheck[], 'after')
    : null;
  const buckets: BucketRestoreVerification[] = [];
  if (plan.components.minio && plan.minio) {
    const { s3, bucket } = vault();
    const { s3: target } = await sourceClientFromEnv();
    for (const b of plan.minio.buckets) {
      buckets.push(
        await verifyBucketRestore({
          vault: s3,
          vaultBucket: bucket,
          manifestKey: b.manifestKey,
          target,
          targetBucket: b.targetBucket,
          deep: optionalEnv('VAULT_DEEP_VERIFY') !== 'false',
        }),
      );
    }
  }
  return {
    cassandra,
    minio: buckets.map((b) => ({
      targetBucket: b.targetBucket,
      objects: b.objects,
      bytes: b.bytes,
      extra: b.extraCount,
    })),
  };
}
