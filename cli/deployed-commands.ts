import { readFileSync } from 'node:fs';
import { backupSummarySchema } from '../functions/core/contract/backup.js';
import { componentNames } from '../functions/core/contract/common.js';
import { purgeReportSchema } from '../functions/core/contract/purge.js';
import { restoreReportSchema } from '../functions/core/contract/restore.js';
import { readJsonOrUndefined } from '../functions/core/vault-io.js';
import { archiveManifestKey } from '../functions/core/vault-layout.js';
import {
  createDeployedS3Client,
  createSfnClient,
  type DeployedFlags,
  type FollowedExecution,
  resolveDeployedBuckets,
  resolveDeployedStack,
  startAndFollow,
} from './deployed.js';
import { formatDuration } from './format.js';
import { listBackups } from './list.js';
import { formatPurgeReport, readLatestPurgeReport } from './purge-report.js';
import { backupSummary, restoreSummary } from './summary.js';

/**
 * The CLI verbs against a deployed stack (no `--local`): the same inputs and summaries as locally, the
 * executions started and followed through the Step Functions API. Progress on stderr, the summary (or
 * `--json`) on stdout.
 */

const err = (line: string) => process.stderr.write(`${line}\n`);
const out = (text: string) => process.stdout.write(`${text}\n`);

/** Common flags of the deployed verbs. */
export interface DeployedCommon extends DeployedFlags {
  readonly json?: boolean | undefined;
  readonly poll?: string | undefined;
}

function pollSeconds(flags: DeployedCommon): number {
  const n = Number(flags.poll ?? 5);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--poll takes a number of seconds, not ${flags.poll}`);
  return n;
}

function failed(what: string, run: FollowedExecution, json: boolean | undefined): number {
  if (json)
    out(
      JSON.stringify(
        { status: run.status, error: run.error, cause: run.cause, executionArn: run.executionArn },
        null,
        2,
      ),
    );
  err(`\nwire-backup: ${what} ${run.status} (${run.error ?? ''}): ${run.cause ?? ''}`);
  err(`  execution: ${run.executionArn}`);
  return 1;
}

/** `wire-backup backup` against the deployed stack. */
export async function deployedBackup(input: Record<string, unknown>, flags: DeployedCommon): Promise<number> {
  const stack = resolveDeployedStack(flags);
  const sfn = createSfnClient();
  err(`backup: starting ${stack.backupStateMachineArn}`);
  const run = await startAndFollow(sfn, stack.backupStateMachineArn, input, err, {
    pollSeconds: pollSeconds(flags),
  });
  if (run.status !== 'SUCCEEDED') {
    err(
      '  No manifest was written: this run is not a backup. The cause is also in backups/<id>/failed.json in the vault.',
    );
    return failed('backup', run, flags.json);
  }
  const summary = backupSummarySchema.parse(run.output);
  out(
    flags.json ? JSON.stringify(summary, null, 2) : `\n${backupSummary(summary.manifest, stack.vaultBucket)}`,
  );
  return 0;
}

/** `wire-backup restore` against the deployed stack (the console's input and checks). */
export async function deployedRestore(
  input: Record<string, unknown>,
  flags: DeployedCommon,
): Promise<number> {
  const stack = resolveDeployedStack(flags);
  const sfn = createSfnClient();
  err(
    `restore: starting ${stack.restoreStateMachineArn}${input.dryRun ? ' — dry run, nothing will be written' : ''}`,
  );
  const run = await startAndFollow(sfn, stack.restoreStateMachineArn, input, err, {
    pollSeconds: pollSeconds(flags),
  });
  if (run.status !== 'SUCCEEDED') return failed('restore', run, flags.json);
  const report = restoreReportSchema.parse(run.output);
  out(flags.json ? JSON.stringify(report, null, 2) : `\n${restoreSummary(report, stack.vaultBucket)}`);
  return 0;
}

/** `wire-backup purge [--dry-run] [--report]` against the deployed stack. */
export async function deployedPurge(
  options: { readonly dryRun: boolean; readonly report: boolean },
  flags: DeployedCommon,
): Promise<number> {
  const stack = resolveDeployedStack(flags);
  if (options.report) {
    const s3 = createDeployedS3Client();
    try {
      const report = await readLatestPurgeReport(s3, stack.vaultBucket);
      if (!report) {
        err(`wire-backup purge: no purge report in s3://${stack.vaultBucket}/purges/ yet`);
        return 1;
      }
      out(flags.json ? JSON.stringify(report, null, 2) : formatPurgeReport(report, stack.vaultBucket));
      return report.status === 'failed' ? 1 : 0;
    } finally {
      s3.destroy();
    }
  }
  const sfn = createSfnClient();
  err(
    `purge: starting ${stack.purgeStateMachineArn}${options.dryRun ? ' — dry run, nothing will be deleted' : ''}`,
  );
  const run = await startAndFollow(
    sfn,
    stack.purgeStateMachineArn,
    { dryRun: options.dryRun, trigger: 'manual' },
    err,
    { pollSeconds: pollSeconds(flags) },
  );
  if (run.status !== 'SUCCEEDED') return failed('purge', run, flags.json);
  const report = purgeReportSchema.parse(run.output);
  out(flags.json ? JSON.stringify(report, null, 2) : `\n${formatPurgeReport(report, stack.vaultBucket)}`);
  return 0;
}

/** `wire-backup list` against the deployed stack's vault (every page of `backups/`). */
export async function deployedList(
  flags: DeployedCommon & { readonly limit?: string | undefined },
): Promise<number> {
  const stack = resolveDeployedStack(flags);
  const s3 = createDeployedS3Client();
  try {
    out(await listBackups(s3, stack.vaultBucket, flags.limit ? { limit: Number(flags.limit) } : {}));
    return 0;
  } finally {
    s3.destroy();
  }
}

/**
 * `wire-backup drill` against the deployed stack: a backup now, then a restore of it with the
 * operator's scratch targets (`--restore-input file.json`: the restore input's `targets`, and anything
 * else but `backupId`/`confirm`), followed to its verification; prints the recovery time. The restore
 * state machine's own checks (nodes UN, row counts, object checksums) decide the result.
 */
export async function deployedDrill(
  flags: DeployedCommon & {
    readonly 'restore-input'?: string | undefined;
    readonly 'from-archive'?: boolean | undefined;
    /** Minutes to wait for the backup's archive copy (`--from-archive`). @default 120 */
    readonly 'archive-wait'?: string | undefined;
  },
): Promise<number> {
  const file = flags['restore-input'];
  if (!file)
    throw new Error(
      'wire-backup drill: against a deployed stack, give the scratch targets with --restore-input restore.json (e.g. {"targets": {"minio": {"buckets": {"assets": "assets-drill"}}}}): a drill never restores over production',
    );
  const extra = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (!extra.targets) throw new Error(`${file} has no "targets": a drill restores into scratch targets only`);
  const stack = resolveDeployedStack(flags);
  const archive = flags['from-archive'] ? resolveDeployedBuckets(flags).archive : undefined;
  if (flags['from-archive'] && !archive)
    throw new Error(
      'wire-backup drill --from-archive: the stack has no archive (no ArchiveBucketName output): configure "archive" and deploy, or give --archive-bucket and --archive-region',
    );
  const waitMinutes = Number(flags['archive-wait'] ?? 120);
  if (!Number.isFinite(waitMinutes) || waitMinutes <= 0)
    throw new Error(`--archive-wait takes minutes, not ${flags['archive-wait']}`);
  const sfn = createSfnClient();
  const poll = pollSeconds(flags);
  const steps = archive ? 3 : 2;
  err(`drill: 1/${steps} backup`);
  const backup = await startAndFollow(sfn, stack.backupStateMachineArn, { trigger: 'drill' }, err, {
    pollSeconds: poll,
  });
  if (backup.status !== 'SUCCEEDED') return failed('drill backup', backup, flags.json);
  const { backupId, manifest } = backupSummarySchema.parse(backup.output);
  let fromArchive: Record<string, unknown> = {};
  if (archive) {
    err(
      `drill: 2/3 waiting for the archive copy of ${backupId} (s3://${archive.bucket}/${archiveManifestKey(backupId)})`,
    );
    await waitForArchiveManifest(archive, backupId, waitMinutes, poll);
    // The archive does not keep PostgreSQL: left out unless restore.json names the components.
    fromArchive = {
      source: 'archive',
      ...(extra.components
        ? {}
        : { components: componentNames.filter((c) => c !== 'postgresql' && manifest.components[c]) }),
    };
  }
  err(
    `drill: ${steps}/${steps} restore of ${backupId} ${archive ? 'from the archive ' : ''}into the scratch targets`,
  );
  const restore = await startAndFollow(
    sfn,
    stack.restoreStateMachineArn,
    { ...extra, ...fromArchive, backupId, confirm: backupId, dryRun: false },
    err,
    { pollSeconds: poll },
  );
  if (restore.status !== 'SUCCEEDED') return failed('drill restore', restore, flags.json);
  const report = restoreReportSchema.parse(restore.output);
  out(
    flags.json
      ? JSON.stringify({ backupId, recoverySeconds: restore.seconds, report }, null, 2)
      : `\n${restoreSummary(report, stack.vaultBucket)}\nwire-backup drill: backup ${backupId} restored and verified; recovery time ${formatDuration(restore.seconds)}`,
  );
  return 0;
}

/**
 * Waits until the archive manifest of `backupId` exists (the archive state machine, started by the
 * backup's "Backup Completed" event, writes it last); throws after `minutes`.
 */
async function waitForArchiveManifest(
  archive: { readonly bucket: string; readonly region: string },
  backupId: string,
  minutes: number,
  pollSeconds: number,
): Promise<void> {
  const s3 = createDeployedS3Client(archive.region);
  const deadline = Date.now() + minutes * 60_000;
  try {
    for (;;) {
      if (await readJsonOrUndefined(s3, archive.bucket, archiveManifestKey(backupId))) return;
      if (Date.now() > deadline)
        throw new Error(
          `wire-backup drill --from-archive: no archive manifest s3://${archive.bucket}/${archiveManifestKey(backupId)} after ${minutes} min — look at the archive state machine's executions (wire-archive), or wait longer with --archive-wait`,
        );
      await new Promise((resolve) => setTimeout(resolve, pollSeconds * 1000));
    }
  } finally {
    s3.destroy();
  }
}
