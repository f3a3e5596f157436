import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CaughtError } from './commit.js';
import { describeCause } from './errors.js';
import type { RestorePlan } from './restore-plan.js';
import type { RowCountComparison } from './row-counts.js';
import { restoreFailedKey, restoreReportKey } from './vault-layout.js';

/** What a restore (or its dry run) reports: a person can act on it. */
export interface RestoreReport {
  readonly restoreId: string;
  readonly backupId: string;
  readonly outcome: 'dry-run' | 'restored' | 'failed';
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Recovery time: seconds from the start of the restore to its end. */
  readonly durationSeconds: number;
  readonly plan: RestorePlan;
  readonly checks?: unknown;
  readonly results?: unknown;
  readonly verified?: unknown;
  readonly error?: { readonly error: string; readonly cause: string };
  /** Where the report is in the vault (none for a dry run, which writes nothing). */
  readonly reportKey: string | null;
}

/**
 * What a restore (or its dry run) warns about, from its steps' results: today, keyspaces whose
 * replication factor exceeds the target cluster's node count (the schema step's `replicationWarnings`).
 */
export function restoreWarnings(report: Pick<RestoreReport, 'results' | 'checks'>): string[] {
  const stage = report.results ?? report.checks;
  if (!Array.isArray(stage)) return [];
  const cassandra = stage[1] as { schema?: { replicationWarnings?: unknown } } | undefined;
  const warnings = cassandra?.schema?.replicationWarnings;
  return Array.isArray(warnings) ? warnings.filter((w): w is string => typeof w === 'string') : [];
}

/** The verification's row-count comparison, or null when rows were not counted. */
export function restoreRowCounts(report: Pick<RestoreReport, 'verified'>): RowCountComparison | null {
  return (report.verified as { rowCounts?: RowCountComparison | null } | undefined)?.rowCounts ?? null;
}

/**
 * Builds the report. A dry run writes nothing; a restore writes `restores/<id>/report.json`, a failed
 * one `restores/<id>/failed.json`.
 */
export async function reportRestore(
  args: { plan: RestorePlan; checks?: unknown; results?: unknown; verified?: unknown; error?: CaughtError },
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
