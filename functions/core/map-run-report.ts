import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { describeCause } from './errors.js';
import { isMapRunFailedReport, vaultPrefixes } from './vault-layout.js';

/**
 * A failed Distributed Map gives its Catch only `States.ExceedToleratedFailureThreshold`; the causes of
 * its failed children are in the run's report, `map-runs/<map run id>/FAILED_<n>.json`, which the
 * `ResultWriter` writes to the vault. The Catch does not say which map run it was, so the report is
 * found by listing `map-runs/` for reports written since the run started and keeping the one whose
 * failed children carry the run's id in their input (the batch fan-out passes `backupId`/`restoreId`
 * to every child, `statemachines/steps.ts`).
 */

/** One failed child execution as the ResultWriter records it (Transformation NONE). */
const failedRecordSchema = z.looseObject({
  ExecutionArn: z.string().optional(),
  Input: z.string().optional(),
  Status: z.string().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});
const failedReportSchema = z.array(failedRecordSchema);
/** The part of a child's input that names its run. */
const childInputSchema = z.record(z.string(), z.unknown());

/** The failed batches of one run, from its map run report. */
export interface FailedBatches {
  /** The report read (`map-runs/<map run id>/FAILED_<n>.json`). */
  readonly reportKey: string;
  /** Failed child executions of this run in that report. */
  readonly failed: number;
  /** The first failed child's own error and cause (a Lambda's cause unwrapped to its message). */
  readonly first: { readonly error: string; readonly cause: string };
}

/** How far the search goes: listing pages of 1,000 keys, and reports read. */
export interface ReportSearchLimits {
  readonly listPages: number;
  readonly reports: number;
}

const defaultLimits: ReportSearchLimits = { listPages: 20, reports: 10 };

/**
 * The failed batches of the run whose children carry `idField: id` in their input, from the newest map
 * run report written since `since` (a minute's slack for clocks); undefined when there is none (the
 * report was not written, e.g. the vault was down) or it cannot be read: the caller keeps the map's
 * own error then.
 */
export async function findFailedBatches(
  s3: S3Client,
  bucket: string,
  run: { readonly idField: 'backupId' | 'restoreId'; readonly id: string; readonly since?: Date },
  limits: ReportSearchLimits = defaultLimits,
): Promise<FailedBatches | undefined> {
  const after = run.since ? run.since.getTime() - 60_000 : Number.NEGATIVE_INFINITY;
  const reports: { key: string; time: number }[] = [];
  let token: string | undefined;
  for (let page = 0; page < limits.listPages; page++) {
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: vaultPrefixes.mapRuns, ContinuationToken: token }),
    );
    for (const object of listed.Contents ?? []) {
      const time = object.LastModified?.getTime() ?? 0;
      if (object.Key && isMapRunFailedReport(object.Key) && time >= after) {
        reports.push({ key: object.Key, time });
      }
    }
    token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    if (!token) break;
  }
  reports.sort((a, b) => b.time - a.time);
  for (const { key } of reports.slice(0, limits.reports)) {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const parsed = failedReportSchema.safeParse(
      JSON.parse((await response.Body?.transformToString()) ?? '[]'),
    );
    if (!parsed.success) continue;
    const ours = parsed.data.filter((record) => {
      try {
        const input = childInputSchema.safeParse(JSON.parse(record.Input ?? ''));
        return input.success && input.data[run.idField] === run.id;
      } catch {
        return false;
      }
    });
    const first = ours[0];
    if (first) {
      return {
        reportKey: key,
        failed: ours.length,
        first: describeCause({ Error: first.Error ?? 'Unknown', Cause: first.Cause ?? '' }),
      };
    }
  }
  return undefined;
}

/** {@link findFailedBatches}, but any error reading the vault is an absent report (never thrown). */
export async function tryFindFailedBatches(
  ...args: Parameters<typeof findFailedBatches>
): Promise<FailedBatches | undefined> {
  try {
    return await findFailedBatches(...args);
  } catch {
    return undefined;
  }
}
