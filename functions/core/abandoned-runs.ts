import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { OverlappingRunError } from './errors.js';
import { listBackupIds, listFolderIds, readJsonOrUndefined } from './vault-io.js';
import {
  backupIdPattern,
  failedKey,
  manifestKey,
  restoreFailedKey,
  restoreIdOfPrefix,
  restoreReportKey,
  restoreStartedKey,
  startedKey,
  vaultPrefixes,
} from './vault-layout.js';

/**
 * Runs of this installation that have started and not ended, as the vault shows them: a backup folder
 * with `started.json` and neither manifest nor `failed.json`, a restore folder with `started.json` and
 * neither report nor `failed.json`. Before a backup or a restore starts, its Prepare settles each one
 * ({@link settleEarlierRuns}):
 * - older than its state machine's timeout: its execution cannot be running; it is marked failed;
 * - younger: `states:DescribeExecution` on the execution its `started.json` records. RUNNING → it is
 *   running, and the new run refuses ({@link refuseOverlap}); any other status (TIMED_OUT, ABORTED,
 *   FAILED without its clean-up, SUCCEEDED without its marker) → marked failed now, not after the
 *   timeout.
 * This is the one mechanism for both: overlapping runs and runs that ended without their Catch.
 */

/** The backup state machine's timeout, in hours (`lib/wire-backup-stack.ts` sets the state machine's from it). */
export const backupRunTimeoutHours = 12;
/** The restore state machine's timeout, in hours (the purge keeps a restore's backup as long). */
export const restoreRunTimeoutHours = 24;

/** Time a backup id names (`20261126T061500Z` → that instant), or undefined for another string. */
export function backupIdTime(backupId: string): Date | undefined {
  if (!backupIdPattern.test(backupId)) return undefined;
  const iso = `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}T${backupId.slice(9, 11)}:${backupId.slice(11, 13)}:${backupId.slice(13, 15)}Z`;
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** What Step Functions says of an execution (`DescribeExecution`), or undefined when it does not exist. */
export type DescribeExecution = (
  executionArn: string,
) => Promise<{ readonly status: string; readonly stopDate?: Date | undefined } | undefined>;

/** A run of either kind, as its `started.json` records it. */
export interface EarlierRun {
  readonly kind: 'backup' | 'restore';
  /** Backup id or restore id. */
  readonly id: string;
  readonly executionArn: string | undefined;
  readonly startedAt: string | undefined;
}

/** An earlier run this Prepare marked failed, with the cause it wrote. */
export interface MarkedRun extends EarlierRun {
  readonly failedKey: string;
  readonly cause: string;
}

/** What {@link settleEarlierRuns} found. */
export interface SettledRuns {
  /** Runs whose execution is RUNNING: the new run must not start. */
  readonly running: readonly EarlierRun[];
  /** Runs that had ended without their marker, marked failed now. */
  readonly marked: readonly MarkedRun[];
}

/** `started.json` of a backup or a restore (both record the execution; older markers may not). */
const startedSchema = z.looseObject({
  startedAt: z.string().optional(),
  executionId: z.string().optional(),
});

export interface SettleDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly now: Date;
  readonly describe: DescribeExecution;
  /** The run doing it, for the causes it writes (`backup 2026…` or `restore 2026…`). */
  readonly markedBy: string;
}

/** Finds the runs that have not ended, marks failed those whose execution has, returns those still running. */
export async function settleEarlierRuns(deps: SettleDeps): Promise<SettledRuns> {
  const running: EarlierRun[] = [];
  const marked: MarkedRun[] = [];
  const kinds = [
    {
      kind: 'backup',
      ids: await listBackupIds(deps.s3, deps.bucket),
      started: startedKey,
      ended: [manifestKey, failedKey],
      failed: failedKey,
      timeoutHours: backupRunTimeoutHours,
    },
    {
      kind: 'restore',
      ids: await listFolderIds(deps.s3, deps.bucket, vaultPrefixes.restores, restoreIdOfPrefix),
      started: restoreStartedKey,
      ended: [restoreReportKey, restoreFailedKey],
      failed: restoreFailedKey,
      timeoutHours: restoreRunTimeoutHours,
    },
  ] as const;
  for (const k of kinds) {
    for (const id of [...k.ids].sort()) {
      const raw = await readJsonOrUndefined(deps.s3, deps.bucket, k.started(id));
      // A restore folder without a marker is a dry run's or an older restore's: nothing runs there.
      if (raw === undefined) continue;
      if (
        await anyExists(
          deps.s3,
          deps.bucket,
          k.ended.map((key) => key(id)),
        )
      )
        continue;
      const started = startedSchema.safeParse(raw);
      const run: EarlierRun = {
        kind: k.kind,
        id,
        executionArn: started.success ? started.data.executionId : undefined,
        startedAt: started.success ? started.data.startedAt : undefined,
      };
      const outcome = await executionOutcome(run, k.timeoutHours, deps);
      if (outcome === 'unknown') continue;
      if (outcome === 'running') {
        running.push(run);
        continue;
      }
      await writeFailed(deps, k.failed(id), run, outcome);
      marked.push({ ...run, failedKey: k.failed(id), cause: outcome });
    }
  }
  return { running, marked };
}

/** `running`, `unknown` (no execution recorded, younger than the timeout), or the cause of the failed marker of a run that has ended. */
async function executionOutcome(run: EarlierRun, timeoutHours: number, deps: SettleDeps): Promise<string> {
  const since = run.startedAt ? Date.parse(run.startedAt) : (backupIdTime(run.id)?.getTime() ?? Number.NaN);
  const what = `${run.kind} ${run.id} (started ${run.startedAt ?? 'at an unknown time'}${run.executionArn ? ` by execution ${run.executionArn}` : ''})`;
  const tail = `Marked failed by ${deps.markedBy}. Nothing of it is restorable; look up that execution's history for the step that stopped it.`;
  if (!(deps.now.getTime() - since < timeoutHours * 3600_000)) {
    return `${what} ended without a ${run.kind === 'backup' ? 'manifest' : 'report'} or a failed marker: its execution stopped (timed out after ${timeoutHours} h, was stopped, or failed while the vault was unreachable and could not record why). ${tail}`;
  }
  if (!run.executionArn) {
    // A marker without its execution (written before executions were recorded): only age can tell,
    // and it does not hold a new run back (it may be a leftover nothing will ever end).
    return 'unknown';
  }
  const execution = await deps.describe(run.executionArn);
  if (execution?.status === 'RUNNING') return 'running';
  const status = execution
    ? `ended as ${execution.status}${execution.stopDate ? ` at ${execution.stopDate.toISOString()}` : ''}`
    : 'is unknown to Step Functions (ExecutionDoesNotExist)';
  return `${what}: its execution ${status} without its clean-up writing a ${run.kind === 'backup' ? 'manifest' : 'report'} or a failed marker (stopped by hand, timed out, or ended while the vault was unreachable). ${tail}`;
}

async function writeFailed(deps: SettleDeps, key: string, run: EarlierRun, cause: string): Promise<void> {
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: JSON.stringify(
        {
          [run.kind === 'backup' ? 'backupId' : 'restoreId']: run.id,
          ...(run.kind === 'restore' ? { outcome: 'failed' } : {}),
          failedAt: deps.now.toISOString(),
          executionId: run.executionArn,
          error: 'RunAbandoned',
          cause,
          markedBy: deps.markedBy,
        },
        null,
        2,
      ),
      ContentType: 'application/json',
    }),
  );
}

/**
 * Throws {@link OverlappingRunError} when `running` is not empty: the cause names each run, its
 * execution, when it started and how to stop it. `starting` is what was refused (`backup`, `restore`).
 */
export function refuseOverlap(starting: 'backup' | 'restore', running: readonly EarlierRun[]): void {
  const [first] = running;
  if (!first) return;
  const runs = running
    .map(
      (r) =>
        `${r.kind} ${r.id} (execution ${r.executionArn ?? 'not recorded'}, started ${r.startedAt ?? 'at an unknown time'})`,
    )
    .join('; ');
  throw new OverlappingRunError(
    `a ${starting} may not start while ${running.length === 1 ? 'this run is' : 'these runs are'} running: ${runs}. ` +
      `Nothing was written. Wait for it to end, or stop it in the Step Functions console or with ` +
      `\`aws stepfunctions stop-execution --execution-arn ${first.executionArn ?? '<its execution ARN>'}\` ` +
      `(the next ${starting} then marks it failed), and start the ${starting} again.`,
  );
}

/**
 * What Prepare and Restore Prepare do before their run writes: {@link settleEarlierRuns}, `onMarked`
 * for each run marked failed (the handlers log it), then {@link refuseOverlap}.
 */
export async function refuseWhileRunning(
  starting: 'backup' | 'restore',
  deps: SettleDeps,
  onMarked: (run: MarkedRun) => void,
): Promise<void> {
  const settled = await settleEarlierRuns(deps);
  for (const run of settled.marked) onMarked(run);
  refuseOverlap(starting, settled.running);
}

async function anyExists(s3: S3Client, bucket: string, keys: readonly string[]): Promise<boolean> {
  // A GET of a small marker or a manifest: the roles hold s3:GetObject (a HEAD needs the same).
  for (const key of keys) if ((await readJsonOrUndefined(s3, bucket, key)) !== undefined) return true;
  return false;
}
