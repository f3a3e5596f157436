import { DeleteObjectsCommand, type DeleteObjectsCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { CaughtError } from './contract/common.js';
import {
  type DeletionLine,
  deletionLineSchema,
  type PurgeDeleted,
  type PurgePlan,
  type PurgeReport,
  purgePlanSchema,
  zeroByCategory,
} from './contract/purge.js';
import { describeCause, PurgeConflictError, PurgeRefusedError } from './errors.js';
import { readJson, readJsonLines, writeJson } from './manifest-io.js';
import { toStorageError } from './minio-errors.js';
import { findRunningRestores } from './purge-plan.js';
import { s3Url } from './vault-io.js';
import { purgePlanKey, purgeReportKey, restoreStartedKey } from './vault-layout.js';

/**
 * Carries out a purge plan (`core/purge-plan.ts`) and writes its report. Deletes exact versions
 * (never a delete marker over a live object), manifests first — a backup stops being "complete" before
 * any of its files go, so nobody starts reading a backup that is being taken apart. Never asks the
 * store to bypass Object Lock: a version the store refuses to delete because it is locked is reported.
 */

/** Versions per DeleteObjects request (the S3 maximum). */
const deleteBatchSize = 1000;

/** Collaborators of {@link deleteExpired} and {@link writePurgeReport}. */
export interface PurgeRunDeps {
  readonly s3: S3Client;
  readonly vaultBucket: string;
  readonly now: () => Date;
  readonly log?: (line: string) => void;
}

async function readPlan(s3: S3Client, bucket: string, key: string): Promise<PurgePlan> {
  return readJson(s3, bucket, key, (v) => purgePlanSchema.parse(v));
}

/** Whether a DeleteObjects error is Object Lock refusing (S3: AccessDenied; MinIO: "WORM protected"). */
function isLockRefusal(code: string | undefined, message: string | undefined): boolean {
  return code === 'AccessDenied' || /WORM|object lock|retention|legal hold/i.test(message ?? '');
}

/**
 * Deletes every version of the plan's deletion list. First checks again that no restore started
 * since the plan on a backup the plan deletes (then nothing is deleted: {@link PurgeConflictError}).
 */
export async function deleteExpired(planKey: string, deps: PurgeRunDeps): Promise<PurgeDeleted> {
  const { s3, vaultBucket: bucket } = deps;
  const log = deps.log ?? (() => {});
  const plan = await readPlan(s3, bucket, planKey);
  if (plan.dryRun) throw new PurgeRefusedError(`purge ${plan.purgeId} is a dry run: it deletes nothing`);
  const deleting = new Set(plan.backups.filter((b) => b.action === 'delete').map((b) => b.backupId));
  const restores = await findRunningRestores(s3, bucket, deps.now());
  const conflict = restores.find((r) => deleting.has(r.backupId));
  if (conflict)
    throw new PurgeConflictError(
      `restore ${conflict.restoreId} of backup ${conflict.backupId} started after purge ${plan.purgeId} planned to delete that backup: nothing was deleted — run the purge again once the restore has ended (${s3Url(bucket, restoreStartedKey(conflict.restoreId))})`,
    );

  const byCategory = zeroByCategory();
  let versions = 0;
  let bytes = 0;
  const refusedLocked: PurgeDeleted['refusedLocked'] = [];
  const failures: string[] = [];
  let batch: DeletionLine[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    let out: DeleteObjectsCommandOutput;
    try {
      out = await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: lines.map((l) => ({ Key: l.key, VersionId: l.versionId })), Quiet: true },
        }),
      );
    } catch (error) {
      throw toStorageError(error, `DeleteObjects on ${bucket} (${lines.length} versions)`);
    }
    const failed = new Set<string>();
    for (const e of out.Errors ?? []) {
      const id = `${e.Key}\u0000${e.VersionId}`;
      failed.add(id);
      if (isLockRefusal(e.Code, e.Message))
        refusedLocked.push({
          key: e.Key ?? '',
          versionId: e.VersionId ?? '',
          message: e.Message ?? e.Code ?? '',
        });
      else failures.push(`${e.Key} version ${e.VersionId}: ${e.Code} ${e.Message ?? ''}`);
    }
    for (const l of lines) {
      if (failed.has(`${l.key}\u0000${l.versionId}`)) continue;
      versions += 1;
      bytes += l.size;
      byCategory[l.category] += 1;
    }
    log(`purge ${plan.purgeId}: deleted ${versions} version(s) so far`);
  };
  for await (const line of readJsonLines(s3, bucket, plan.deletionsKey, {
    parse: (v) => deletionLineSchema.parse(v),
  })) {
    batch.push(line);
    if (batch.length >= deleteBatchSize) await flush();
  }
  await flush();
  if (failures.length > 0)
    throw new PurgeRefusedError(
      `purge ${plan.purgeId}: ${failures.length} version(s) could not be deleted (${failures.slice(0, 5).join('; ')}) — the rest were; run the purge again`,
    );
  return { deleted: { versions, bytes, byCategory }, refusedLocked };
}

/** What {@link writePurgeReport} reports on. */
export interface PurgeReportInput {
  readonly purgeId: string;
  /** Set once the plan was written. */
  readonly planKey?: string;
  readonly deleted?: PurgeDeleted;
  readonly error?: CaughtError;
}

/** Writes `purges/<id>/report.json` (succeeded, dry run or failed) and returns it. */
export async function writePurgeReport(input: PurgeReportInput, deps: PurgeRunDeps): Promise<PurgeReport> {
  const { s3, vaultBucket: bucket } = deps;
  let plan: PurgePlan | null = null;
  try {
    plan = await readPlan(s3, bucket, input.planKey ?? purgePlanKey(input.purgeId));
  } catch {
    // A purge that failed before writing its plan reports without one.
  }
  const report: PurgeReport = {
    purgeId: input.purgeId,
    status: input.error ? 'failed' : plan?.dryRun ? 'dry-run' : 'succeeded',
    finishedAt: deps.now().toISOString(),
    plan,
    deleted: input.deleted ?? null,
    error: input.error ? describeCause(input.error) : null,
    reportKey: purgeReportKey(input.purgeId),
  };
  await writeJson(s3, bucket, report.reportKey, report);
  return report;
}

/**
 * Marks a restore as running in the vault (`restores/<id>/started.json`, with the backup it reads), so
 * that a purge keeps that backup until the restore's report or failed marker is written.
 */
export async function markRestoreRunning(
  s3: S3Client,
  bucket: string,
  marker: {
    readonly restoreId: string;
    readonly backupId: string;
    readonly startedAt: string;
    /** The restore's execution: the next Prepare asks Step Functions whether it still runs (`abandoned-runs.ts`). */
    readonly executionId?: string;
  },
): Promise<void> {
  await writeJson(s3, bucket, restoreStartedKey(marker.restoreId), marker);
}
