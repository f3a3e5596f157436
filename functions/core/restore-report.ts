import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type CaughtError, isSkipped } from './contract/common.js';
import type {
  RestoreChecks,
  RestorePlan,
  RestoreReport,
  RestoreResults,
  RestoreVerified,
  RowCountComparison,
} from './contract/restore.js';
import { describeCause } from './errors.js';
import { restoreFailedKey, restoreReportKey } from './vault-layout.js';

/**
 * What a restore (or its dry run) warns about, from its steps' results: today, keyspaces whose
 * replication factor exceeds the target cluster's node count (the schema step's `replicationWarnings`).
 */
export function restoreWarnings(
  report: Pick<RestoreReport, 'results' | 'checks'> & Partial<Pick<RestoreReport, 'verified'>>,
): string[] {
  const cassandra = (report.results ?? report.checks)?.cassandra;
  const warnings = !cassandra || isSkipped(cassandra) ? [] : (cassandra.schema.replicationWarnings ?? []);
  return [...warnings, ...minioExtraWarnings(report)];
}

/** Objects a restored bucket holds that the backup does not (reported, or left after a delete). */
function minioExtraWarnings(report: Partial<Pick<RestoreReport, 'verified'>>): string[] {
  return (report.verified?.minio ?? [])
    .filter((b) => b.extra > 0)
    .map((b) => {
      const keys = b.extraKeys ?? [];
      const more = b.extra > keys.length ? `, and ${b.extra - keys.length} more` : '';
      return `bucket ${b.targetBucket} holds ${b.extra} object(s) that the backup does not hold: ${keys.map((k) => JSON.stringify(k)).join(', ')}${more} — restore again with "minio": {"extraObjects": "delete"} to remove them (recoverably), or remove them by hand`;
    });
}

/** The verification's row-count comparison, or null when rows were not counted. */
export function restoreRowCounts(report: Pick<RestoreReport, 'verified'>): RowCountComparison | null {
  return report.verified?.rowCounts ?? null;
}

/**
 * Builds the report. A dry run writes nothing; a restore writes `restores/<id>/report.json`, a failed
 * one `restores/<id>/failed.json`.
 */
export async function reportRestore(
  args: {
    plan: RestorePlan;
    checks?: RestoreChecks | undefined;
    results?: RestoreResults | undefined;
    verified?: RestoreVerified | undefined;
    error?: CaughtError | undefined;
  },
  deps: { s3: S3Client; now: () => Date },
): Promise<RestoreReport> {
  const finished = deps.now();
  const outcome = args.error ? 'failed' : args.plan.dryRun ? 'dry-run' : 'restored';
  const reportKey =
    outcome === 'dry-run'
      ? null
      : outcome === 'failed'
        ? restoreFailedKey(args.plan.restoreId)
        : restoreReportKey(args.plan.restoreId);
  const report: RestoreReport = {
    restoreId: args.plan.restoreId,
    backupId: args.plan.backupId,
    outcome,
    startedAt: args.plan.startedAt,
    finishedAt: finished.toISOString(),
    durationSeconds: Math.round((finished.getTime() - Date.parse(args.plan.startedAt)) / 1000),
    plan: args.plan,
    ...(args.checks === undefined ? {} : { checks: args.checks }),
    ...(args.results === undefined ? {} : { results: args.results }),
    ...(args.verified === undefined ? {} : { verified: args.verified }),
    ...(args.error ? { error: describeCause(args.error) } : {}),
    reportKey,
  };
  if (reportKey) {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: args.plan.vaultBucket,
        Key: reportKey,
        Body: JSON.stringify(report, null, 2),
        ContentType: 'application/json',
      }),
    );
  }
  return report;
}
