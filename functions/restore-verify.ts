import { z } from 'zod';
import { optionalEnv } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { requireClusterUp, type TargetNodeCheck } from './core/restore-checks.js';
import { restoreBucketSchema } from './core/restore-events.js';
import { type BucketRestoreVerification, verifyBucketRestore } from './core/restore-minio-verify.js';
import { compareRowCounts, type RowCountComparison, readRowCounts } from './core/row-counts.js';
import { sourceClientFromEnv } from './core/source-minio.js';

const planSchema = z.looseObject({
  backupId: z.string(),
  components: z.object({ wireServer: z.boolean(), cassandra: z.boolean(), minio: z.boolean() }),
  cassandra: z
    .looseObject({
      keyspaces: z.string(),
      rowCounts: z
        .object({
          backupKey: z.string(),
          restoredKey: z.string(),
          consistency: z.string(),
          check: z.enum(['exact', 'report']),
        })
        .nullable(),
    })
    .nullable(),
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
    /** The count script's result, or `{skipped: true}` when rows were not counted. */
    rowCounts: z
      .union([z.looseObject({ countsKey: z.string() }), z.object({ skipped: z.literal(true) })])
      .optional(),
  }),
]);

/**
 * Before: every target node UN (else refused). After: every target node UN again, every table's row
 * count against the backup's (when both were counted), and every bucket holds exactly the manifest's
 * objects (sizes, content types, metadata; with deep verify their SHA-256).
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
  let rowCounts: RowCountComparison | null = null;
  const counting = plan.cassandra?.rowCounts;
  if (counting && parsed.rowCounts && 'countsKey' in parsed.rowCounts) {
    const { s3, bucket } = vault();
    rowCounts = compareRowCounts({
      backup: await readRowCounts(s3, bucket, counting.backupKey),
      restored: await readRowCounts(s3, bucket, parsed.rowCounts.countsKey),
      keyspaces: plan.cassandra?.keyspaces ? plan.cassandra.keyspaces.split(',') : [],
      check: counting.check,
      backupId: plan.backupId,
    });
  }
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
    rowCounts,
    minio: buckets.map((b) => ({
      targetBucket: b.targetBucket,
      objects: b.objects,
      bytes: b.bytes,
      extra: b.extraCount,
    })),
  };
}
