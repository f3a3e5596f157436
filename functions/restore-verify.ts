import { z } from 'zod';
import { isSkipped } from './core/contract/common.js';
import type { RowCountComparison } from './core/contract/restore.js';
import {
  type RestoreTargets,
  type RestoreVerified,
  restoreChecksSchema,
  restorePlanSchema,
  restoreResultsSchema,
  targetNodeCheckSchema,
} from './core/contract/restore.js';
import { env } from './core/env.js';
import { backupSource, parseEvent, vault } from './core/handler-kit.js';
import { markRestoreRunning } from './core/purge-run.js';
import { requireClusterUp, requireCompatibleVersions } from './core/restore-checks.js';
import { type BucketRestoreVerification, verifyBucketRestore } from './core/restore-minio-verify.js';
import { compareRowCounts, readRowCounts } from './core/row-counts.js';
import { sourceClientFromEnv } from './core/source-minio.js';

const eventSchema = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('targets'),
    plan: restorePlanSchema,
    checks: restoreChecksSchema,
  }),
  z.object({
    phase: z.literal('restored'),
    plan: restorePlanSchema,
    results: restoreResultsSchema,
    rechecks: z.array(targetNodeCheckSchema).optional(),
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
export async function handler(event: unknown): Promise<RestoreTargets | RestoreVerified> {
  const parsed = parseEvent('restore-verify', eventSchema, event);
  if (parsed.phase === 'targets') {
    const cassandra = parsed.checks.cassandra;
    let targets: RestoreTargets = { cassandra: null };
    if (!isSkipped(cassandra) && parsed.plan.cassandra) {
      const up = requireClusterUp(cassandra.nodes, 'before');
      const versions = requireCompatibleVersions(
        parsed.plan.cassandra,
        cassandra.nodes,
        parsed.plan.backupId,
      );
      targets = { cassandra: { ...up, ...versions } };
    }
    // Every check passed and the restore is about to write: the purge keeps its backup from now on.
    if (!parsed.plan.dryRun) {
      const { s3, bucket } = vault();
      await markRestoreRunning(s3, bucket, {
        restoreId: parsed.plan.restoreId,
        backupId: parsed.plan.backupId,
        startedAt: parsed.plan.startedAt,
        ...(parsed.plan.executionId ? { executionId: parsed.plan.executionId } : {}),
      });
    }
    return targets;
  }
  const { plan } = parsed;
  const cassandra = plan.components.cassandra ? requireClusterUp(parsed.rechecks ?? [], 'after') : null;
  let rowCounts: RowCountComparison | null = null;
  const counting = plan.cassandra?.rowCounts;
  if (counting && parsed.rowCounts && 'countsKey' in parsed.rowCounts) {
    const { s3, bucket } = vault();
    const from = backupSource(plan);
    rowCounts = compareRowCounts({
      backup: await readRowCounts(from.s3, from.bucket, counting.backupKey),
      restored: await readRowCounts(s3, bucket, parsed.rowCounts.countsKey),
      keyspaces: plan.cassandra?.keyspaces ? plan.cassandra.keyspaces.split(',') : [],
      check: counting.check,
      backupId: plan.backupId,
    });
  }
  const buckets: BucketRestoreVerification[] = [];
  if (plan.components.minio && plan.minio) {
    // The bucket manifests are read where the backup is (the vault, or the archive).
    const { s3, bucket } = backupSource(plan);
    const { s3: target } = await sourceClientFromEnv();
    for (const b of plan.minio.buckets) {
      buckets.push(
        await verifyBucketRestore({
          vault: s3,
          vaultBucket: bucket,
          manifestKey: b.manifestKey,
          target,
          targetBucket: b.targetBucket,
          deep: env.vaultDeepVerify(),
          // Asked to delete what the backup does not hold: anything left is a failure, not a warning.
          strict: plan.minio.extraObjects === 'delete',
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
      extraKeys: b.extra,
    })),
  };
}
