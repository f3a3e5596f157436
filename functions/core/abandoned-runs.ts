import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listBackupIds, readJsonOrUndefined } from './vault-io.js';
import { backupIdPattern, failedKey, manifestKey, startedKey } from './vault-layout.js';

/**
 * A backup run that ended without a manifest or a `failed` marker — its execution timed out or was
 * stopped, or it failed while the vault was unreachable for longer than Mark Failed waits — would stay
 * "incomplete" for good. The next backup's Prepare marks every such run older than the state machine's
 * timeout (then its execution cannot be running any more) failed, with a cause a person can act on.
 */

/** The backup state machine's timeout, in hours (`lib/wire-backup-stack.ts` sets the state machine's from it). */
export const backupRunTimeoutHours = 12;

/** Time a backup id names (`20261126T061500Z` → that instant), or undefined for another string. */
export function backupIdTime(backupId: string): Date | undefined {
  if (!backupIdPattern.test(backupId)) return undefined;
  const iso = `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}T${backupId.slice(9, 11)}:${backupId.slice(11, 13)}:${backupId.slice(13, 15)}Z`;
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** What {@link markAbandonedRuns} did for one run. */
export interface AbandonedRun {
  readonly backupId: string;
  readonly failedKey: string;
  readonly cause: string;
}

/**
 * Writes `failed.json` for every backup folder older than {@link backupRunTimeoutHours} that has
 * neither a manifest nor a `failed` marker; returns the runs it marked. `markedBy` is the backup doing it.
 */
export async function markAbandonedRuns(
  s3: S3Client,
  bucket: string,
  now: Date,
  markedBy: string,
  timeoutHours: number = backupRunTimeoutHours,
): Promise<AbandonedRun[]> {
  const cutoff = now.getTime() - timeoutHours * 3600_000;
  const candidates = (await listBackupIds(s3, bucket)).filter(
    (id) => (backupIdTime(id)?.getTime() ?? Number.POSITIVE_INFINITY) < cutoff,
  );

  const marked: AbandonedRun[] = [];
  for (const id of candidates.sort()) {
    if (await exists(s3, bucket, failedKey(id))) continue;
    if (await exists(s3, bucket, manifestKey(id))) continue;
    const started = await readJsonOrUndefined<{ startedAt?: string; executionId?: string }>(
      s3,
      bucket,
      startedKey(id),
    );
    const cause =
      `backup ${id} (started ${started?.startedAt ?? 'at an unknown time'}${started?.executionId ? ` by execution ${started.executionId}` : ''}) ` +
      `ended without a manifest or a failed marker: its execution stopped (timed out after ${timeoutHours} h, was stopped, ` +
      `or failed while the vault was unreachable and could not record why). Marked failed by backup ${markedBy}. ` +
      `Nothing of it is restorable; look up that execution's history for the step that stopped it.`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: failedKey(id),
        Body: JSON.stringify(
          {
            backupId: id,
            failedAt: now.toISOString(),
            executionId: started?.executionId,
            error: 'RunAbandoned',
            cause,
            markedBy,
          },
          null,
          2,
        ),
        ContentType: 'application/json',
      }),
    );
    marked.push({ backupId: id, failedKey: failedKey(id), cause });
  }
  return marked;
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  // A GET of a small marker or a manifest: the roles hold s3:GetObject (a HEAD needs the same).
  return (await readJsonOrUndefined(s3, bucket, key)) !== undefined;
}
