import type { CaughtError } from './contract/common.js';

/**
 * Named errors. Step Functions `Retry`/`Catch` match on `error.name`, so names are stable and listed
 * here, in one place. Each message names the host, file, bucket or field at fault and the fix.
 */

/** Base of every wire-backup error: sets `name` from the subclass and keeps `cause`. */
export class WireBackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Execution input or configuration failed validation (never retried). */
export class InvalidInputError extends WireBackupError {}
/** A preflight check failed: a node not UN, a tool missing, a bucket unreachable. */
export class PreflightFailedError extends WireBackupError {}
/** A host-side script (SSM command) failed; the message carries its stderr tail. */
export class HostCommandError extends WireBackupError {}
/** SSM announced a host command's end but does not report it yet (the completion is retried). */
export class HostCommandPendingError extends WireBackupError {}
/** A keyspace named in the configuration or input does not exist. */
export class KeyspaceNotFoundError extends WireBackupError {}
/** A source bucket does not exist or is not readable. */
export class BucketNotFoundError extends WireBackupError {}
/** MinIO's TLS certificate does not verify (private CA not configured, wrong name, expired). */
export class MinioTlsError extends WireBackupError {}
/** A vault object is missing, has the wrong size, or its checksum does not match. */
export class VerificationFailedError extends WireBackupError {}
/** The wire-server archive is not a valid, non-empty gzip'd TAR with the expected entries. */
export class ArchiveInvalidError extends WireBackupError {}
/** A transient failure talking to S3 or MinIO (retried by the state machine). */
export class TransientStorageError extends WireBackupError {}
/** A backup id that has no manifest (unknown, incomplete or failed backup). */
export class BackupNotFoundError extends WireBackupError {}
/** A restore refused before writing anything (confirmation, non-empty target, node down). */
export class RestoreRefusedError extends WireBackupError {}
/** A backup or restore refused because another backup or restore of the installation is running (`abandoned-runs.ts`). */
export class OverlappingRunError extends WireBackupError {}
/** Restored data does not match what the backup recorded. */
export class RestoreVerificationError extends WireBackupError {}
/** Source objects could not be copied into the vault; the message names them (bucket, key, cause). */
export class ObjectsNotCopiedError extends WireBackupError {}

// --- retention and archive (issue 13) ---
/** The purge cannot prove what is referenced (an unreadable manifest or file list): nothing is deleted. */
export class PurgeRefusedError extends WireBackupError {}
/** Something the purge planned to delete became referenced (a restore started): nothing is deleted. */
export class PurgeConflictError extends WireBackupError {}
/** The archive copy failed (region unreachable, checksum mismatch): no archive manifest was written. */
export class ArchiveCopyError extends WireBackupError {}

/** Every error name the state machines match on. */
export const errorNames = {
  invalidInput: 'InvalidInputError',
  preflightFailed: 'PreflightFailedError',
  hostCommand: 'HostCommandError',
  keyspaceNotFound: 'KeyspaceNotFoundError',
  bucketNotFound: 'BucketNotFoundError',
  verificationFailed: 'VerificationFailedError',
  archiveInvalid: 'ArchiveInvalidError',
  transientStorage: 'TransientStorageError',
  backupNotFound: 'BackupNotFoundError',
  restoreRefused: 'RestoreRefusedError',
  restoreVerification: 'RestoreVerificationError',
  overlappingRun: 'OverlappingRunError',
  objectsNotCopied: 'ObjectsNotCopiedError',
  minioTls: 'MinioTlsError',
  purgeRefused: 'PurgeRefusedError',
  purgeConflict: 'PurgeConflictError',
  archiveCopy: 'ArchiveCopyError',
} as const;

/** Extracts the human message from a Catch's Cause (a Lambda's cause is JSON with errorMessage). */
export function describeCause(error: CaughtError | undefined): { error: string; cause: string } {
  const name = error?.Error ?? 'Unknown';
  const raw = error?.Cause ?? '';
  try {
    const parsed = JSON.parse(raw) as { errorMessage?: string; errorType?: string };
    if (parsed.errorMessage) return { error: parsed.errorType ?? name, cause: parsed.errorMessage };
  } catch {
    // Not JSON: a States error or a plain message.
  }
  return { error: name, cause: raw || name };
}

/**
 * The backup's MinIO copy is a Distributed Map (`Copy Objects`); when it fails, Step Functions gives
 * the Catch only the map's own error, never a batch's cause: `States.ExceedToleratedFailureThreshold`
 * (the batches' causes are in the map run's report, `map-runs/<map run id>/FAILED_0.json` in the
 * vault) or, when writing that report failed too, `States.ResultWriterFailed` (the vault did not take
 * the write: most often the same outage that failed the batches). These words say what happened to the
 * copy and what to check; other errors are left as {@link describeCause} gives them.
 */
export function describeBackupCause(
  error: CaughtError | undefined,
  vaultBucket: string,
): { error: string; cause: string } {
  const described = describeCause(error);
  const next = 'once it does, the next backup runs as usual (differential).';
  if (described.error === 'States.ResultWriterFailed') {
    described.cause =
      `the MinIO copy (Copy Objects, a Distributed Map) could not write its run report to the vault bucket ${vaultBucket} ` +
      `(map-runs/): ${described.cause}. The vault did not accept a write at the end of the copy, so the copy batches most ` +
      `likely failed for the same reason (the vault unreachable or refusing writes for longer than their retries). Check that ` +
      `the vault's S3 endpoint answers from the Lambdas (aws s3api head-bucket --bucket ${vaultBucket}); ${next}`;
  } else if (described.error === 'States.ExceedToleratedFailureThreshold') {
    described.cause =
      `MinIO copy batches (Copy Batch) failed after their retries: ${described.cause}. Each batch's cause is in the map ` +
      `run's report, s3://${vaultBucket}/map-runs/<map run id>/FAILED_0.json (the run id ends the map run ARN above) and ` +
      `in the execution's history; ${next.replace('once it does, ', 'once that cause is fixed, ')}`;
  }
  return described;
}
