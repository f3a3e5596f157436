import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type ReferencedObject, referencedObjects } from './backup-objects.js';
import { archiveManifestSchema } from './contract/archive.js';
import { backupManifestSchema } from './contract/backup.js';
import {
  type ArchiveListing,
  type BackupDetails,
  type BackupRecord,
  nagiosStates,
  type StatusReport,
  type VerifyProblem,
  type VerifyReport,
} from './contract/inspect.js';
import { BackupNotFoundError, InvalidInputError, VerificationFailedError } from './errors.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import { forEachConcurrent } from './streams.js';
import { listBackupIds, listFolderIds, readJsonOrUndefined, s3Url } from './vault-io.js';
import {
  archivedBackupIdOfPrefix,
  archiveManifestKey,
  archivePrefixes,
  backupIdPattern,
  failedKey,
  manifestKey,
} from './vault-layout.js';
import { isInSample, type VerifySample } from './verify-sample.js';

/**
 * The read-only operator verbs (`wire-backup status`, `show`, `verify`, `archive list`), one core for
 * the CLI against the local stack and against a deployed stack (they differ only in the S3 client and
 * bucket names they pass). Nothing here writes or deletes.
 */

/** An S3 client and bucket. */
export interface BucketAccess {
  readonly client: S3Client;
  readonly bucket: string;
}

/** Reads one backup folder: complete (with its manifest), failed (with its cause), incomplete, unreadable. */
export async function readBackupRecord(
  s3: S3Client,
  bucket: string,
  backupId: string,
): Promise<BackupRecord> {
  const raw = await readJsonOrUndefined(s3, bucket, manifestKey(backupId));
  if (raw !== undefined) {
    const parsed = backupManifestSchema.safeParse(raw);
    return parsed.success
      ? { backupId, state: 'complete', manifest: parsed.data }
      : {
          backupId,
          state: 'unreadable',
          problem: `${s3Url(bucket, manifestKey(backupId))} does not parse as a manifest: ${parsed.error.issues[0]?.message ?? ''}`,
        };
  }
  const failed = await readJsonOrUndefined<{ error?: string; cause?: string }>(
    s3,
    bucket,
    failedKey(backupId),
  );
  if (failed)
    return {
      backupId,
      state: 'failed',
      failure: {
        error: failed.error ?? 'Unknown',
        cause: (failed.cause ?? '').split('\n')[0]?.slice(0, 300) ?? '',
      },
    };
  return { backupId, state: 'incomplete' };
}

/** Thresholds of `status` on the age of the newest complete backup. */
export interface StatusThresholds {
  readonly warningSeconds: number;
  readonly criticalSeconds: number;
}

/**
 * Default thresholds for hourly backups: WARNING once a run was missed (2 h without a complete
 * backup), CRITICAL after 6 h.
 */
export const defaultStatusThresholds: StatusThresholds = {
  warningSeconds: 2 * 3600,
  criticalSeconds: 6 * 3600,
};

/** Parses a threshold such as `90m`, `2h`, `1d` or `3600` (seconds); the error names the flag. */
export function parseAge(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(text.trim());
  const unit = { s: 1, m: 60, h: 3600, d: 86400 } as const;
  const seconds = match?.[1] ? Number(match[1]) * unit[(match[2] ?? 's') as keyof typeof unit] : Number.NaN;
  if (!(seconds > 0))
    throw new InvalidInputError(`${flag} takes an age such as 90m, 2h or 1d (or seconds), not "${text}"`);
  return seconds;
}

const formatAge = (seconds: number): string => {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
};

/**
 * The Nagios-style status of the vault (README, "Monitoring"): the newest complete backup's age
 * against the thresholds — OK below `warningSeconds`, WARNING from it, CRITICAL from `criticalSeconds`
 * or when the vault holds no complete backup. A failed (or unreadable) run newer than the last good
 * backup makes an OK a WARNING; a newer run without either marker is running (or was interrupted)
 * and is only named.
 */
export async function backupStatus(
  s3: S3Client,
  bucket: string,
  thresholds: StatusThresholds,
  now: Date,
): Promise<StatusReport> {
  if (thresholds.criticalSeconds < thresholds.warningSeconds)
    throw new InvalidInputError(
      `the critical age (${thresholds.criticalSeconds} s) is below the warning age (${thresholds.warningSeconds} s): give --critical at least --warning`,
    );
  const newerRuns: StatusReport['newerRuns'] = [];
  let lastGood: StatusReport['lastGood'] = null;
  for (const id of await listBackupIds(s3, bucket)) {
    const record = await readBackupRecord(s3, bucket, id);
    if (record.manifest) {
      const completedAt = record.manifest.completedAt;
      lastGood = {
        backupId: id,
        completedAt,
        ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(completedAt)) / 1000)),
      };
      break;
    }
    newerRuns.push({
      backupId: id,
      state: record.state,
      detail:
        record.state === 'failed'
          ? `${record.failure?.error}: ${record.failure?.cause}`
          : (record.problem ?? 'running, or interrupted'),
    });
  }
  const failedNewer = newerRuns.filter((r) => r.state === 'failed' || r.state === 'unreadable');
  let code: number;
  let message: string;
  if (!lastGood) {
    code = 2;
    message = `no complete backup in s3://${bucket} (${newerRuns.length} run(s) without a manifest): check the backup schedule and the last failure (wire-backup list)`;
  } else {
    const age = lastGood.ageSeconds;
    code = age >= thresholds.criticalSeconds ? 2 : age >= thresholds.warningSeconds ? 1 : 0;
    message = `last good backup ${lastGood.backupId} completed ${formatAge(age)} ago`;
    if (code > 0)
      message += ` (${code === 2 ? 'critical' : 'warning'} from ${formatAge(code === 2 ? thresholds.criticalSeconds : thresholds.warningSeconds)})`;
    if (failedNewer.length > 0) {
      code = Math.max(code, 1);
      const newest = failedNewer[0];
      message += `; ${failedNewer.length} newer run(s) failed, newest ${newest?.backupId}: ${newest?.detail}`;
    }
  }
  const state = nagiosStates[code] ?? 'UNKNOWN';
  return {
    state,
    code,
    message,
    checkedAt: now.toISOString(),
    warningSeconds: thresholds.warningSeconds,
    criticalSeconds: thresholds.criticalSeconds,
    lastGood,
    newerRuns,
  };
}

/** Reads a backup's archive copy: its archive manifest, or whether a copy is in progress. */
async function readArchiveCopy(archive: BucketAccess, backupId: string): Promise<BackupDetails['archive']> {
  const raw = await readJsonOrUndefined(archive.client, archive.bucket, archiveManifestKey(backupId));
  if (raw !== undefined)
    return { bucket: archive.bucket, manifest: archiveManifestSchema.parse(raw), incomplete: false };
  const folder = await archive.client.send(
    new ListObjectsV2Command({
      Bucket: archive.bucket,
      Prefix: `${archivePrefixes.backups}${backupId}/`,
      MaxKeys: 1,
    }),
  );
  return { bucket: archive.bucket, manifest: null, incomplete: (folder.KeyCount ?? 0) > 0 };
}

/** One backup for `show`: its record and, with an archive, its archive copy. */
export async function backupDetails(
  s3: S3Client,
  bucket: string,
  backupId: string,
  archive?: BucketAccess,
): Promise<BackupDetails> {
  if (!backupIdPattern.test(backupId))
    throw new InvalidInputError(
      `"${backupId}" is not a backup id (like 20261126T061500Z): take one from 'wire-backup list'`,
    );
  const record = await readBackupRecord(s3, bucket, backupId);
  if (record.state === 'incomplete' && !(await listBackupIds(s3, bucket)).includes(backupId))
    throw new BackupNotFoundError(
      `backup ${backupId} is not in s3://${bucket}: take an id from 'wire-backup list'`,
    );
  return archive ? { ...record, archive: await readArchiveCopy(archive, backupId) } : record;
}

/** Options of {@link verifyBackup}. */
export interface VerifyOptions {
  /** Read every object and take its SHA-256 (else HEAD: exists with the recorded size). */
  readonly deep: boolean;
  /** Objects checked at once. @default 8 */
  readonly concurrency?: number;
  /** Progress lines (every 1,000 objects). */
  readonly log?: (line: string) => void;
  /** Check only the objects in this rotating share (`verify-sample.ts`, by vault key). @default all */
  readonly share?: VerifySample;
  /** Components not checked (`wireServer`, …). @default none */
  readonly exclude?: readonly string[];
}

/** Checks one object version; returns what is wrong with it, or undefined. */
async function checkObject(
  s3: S3Client,
  bucket: string,
  o: ReferencedObject,
  deep: boolean,
): Promise<VerifyProblem | undefined> {
  const problem = (kind: VerifyProblem['kind'], expected: string, found: string): VerifyProblem => ({
    component: o.component,
    name: o.name,
    vaultKey: o.vaultKey,
    versionId: o.versionId ?? 'current',
    kind,
    expected,
    found,
  });
  const what = `${deep ? 'GetObject' : 'HeadObject'} ${s3Url(bucket, o.vaultKey)} version ${o.versionId ?? 'current'}`;
  try {
    if (!deep) {
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: o.vaultKey, VersionId: o.versionId }),
      );
      return head.ContentLength === o.size
        ? undefined
        : problem('size', `${o.size} bytes`, `${head.ContentLength ?? '?'} bytes`);
    }
    const out = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: o.vaultKey, VersionId: o.versionId }),
    );
    const hash = createHash('sha256');
    let read = 0;
    for await (const chunk of out.Body as Readable) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
    }
    const d = { bytes: read, sha256: hash.digest('hex') };
    if (d.bytes !== o.size) return problem('size', `${o.size} bytes`, `${d.bytes} bytes`);
    return d.sha256 === o.sha256
      ? undefined
      : problem('checksum', `SHA-256 ${o.sha256}`, `SHA-256 ${d.sha256}`);
  } catch (error) {
    if (isNotFoundError(error)) return problem('missing', 'present', 'no such key or version');
    throw toStorageError(error, what);
  }
}

/**
 * Re-checks every object version a complete backup references against what its manifest recorded
 * (`deep`: reads each and takes its SHA-256; else HEADs: present with the recorded size). Read-only.
 * A backup without a manifest is refused ({@link BackupNotFoundError}).
 */
export async function verifyBackup(
  s3: S3Client,
  bucket: string,
  backupId: string,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const started = Date.now();
  const record = await backupDetails(s3, bucket, backupId);
  if (!record.manifest)
    throw new BackupNotFoundError(
      `backup ${backupId} is ${record.state} in s3://${bucket} (no manifest): only a complete backup has objects to verify`,
    );
  const components: VerifyReport['components'] = {};
  const problems: VerifyProblem[] = [];
  let objects = 0;
  let bytes = 0;
  let skipped = 0;
  const { share } = options;
  await forEachConcurrent(
    referencedObjects(s3, bucket, record.manifest),
    options.concurrency ?? 8,
    async (o) => {
      if (options.exclude?.includes(o.component) || (share && !isInSample({ key: o.vaultKey }, share))) {
        skipped += 1;
        return;
      }
      const found = await checkObject(s3, bucket, o, options.deep);
      if (found) problems.push(found);
      const c = components[o.component] ?? { objects: 0, bytes: 0 };
      components[o.component] = { objects: c.objects + 1, bytes: c.bytes + o.size };
      objects += 1;
      bytes += o.size;
      if (objects % 1000 === 0) options.log?.(`verify ${backupId}: ${objects} object(s) checked`);
    },
  );
  return {
    backupId,
    vaultBucket: bucket,
    mode: options.deep ? 'deep' : 'quick',
    share: share ?? null,
    skippedObjects: skipped,
    objects,
    bytes,
    components,
    problems: problems.sort((a, b) => (a.vaultKey < b.vaultKey ? -1 : a.vaultKey > b.vaultKey ? 1 : 0)),
    seconds: (Date.now() - started) / 1000,
  };
}

/** The archive's backups, newest first, each with its archive manifest (or null: not restorable). */
export async function listArchive(archive: BucketAccess): Promise<ArchiveListing[]> {
  const ids = await listFolderIds(
    archive.client,
    archive.bucket,
    archivePrefixes.backups,
    archivedBackupIdOfPrefix,
  );
  const listing: ArchiveListing[] = [];
  for (const backupId of ids) {
    const raw = await readJsonOrUndefined(archive.client, archive.bucket, archiveManifestKey(backupId));
    listing.push({ backupId, manifest: raw === undefined ? null : archiveManifestSchema.parse(raw) });
  }
  return listing;
}

/** The week of `now` since the epoch, modulo `shares`: the share a scheduled verify checks. */
export function weeklyShareOf(now: Date, shares: number): VerifySample {
  const weeks = Math.floor(now.getTime() / (7 * 86_400_000));
  return { divisor: shares, slot: ((weeks % shares) + shares) % shares };
}

/**
 * The complete backups that reference any of `problems`' object versions (exact vault key and
 * version), newest first: what a damaged object takes down with it. Reads every complete backup's
 * references, so it runs only when something is damaged.
 */
export async function backupsReferencing(
  s3: S3Client,
  bucket: string,
  problems: readonly VerifyProblem[],
): Promise<string[]> {
  const damaged = new Set(problems.map((p) => `${p.vaultKey}\n${p.versionId}`));
  const ids: string[] = [];
  for (const id of await listBackupIds(s3, bucket)) {
    const record = await readBackupRecord(s3, bucket, id);
    if (!record.manifest) continue;
    for await (const o of referencedObjects(s3, bucket, record.manifest))
      if (damaged.has(`${o.vaultKey}\n${o.versionId ?? 'current'}`)) {
        ids.push(id);
        break;
      }
  }
  return ids;
}

/**
 * The scheduled deep verification (README, "Monitoring and inspection"): reads and re-hashes this
 * week's share of the objects the newest complete backup references. Any mismatch or missing version
 * fails with {@link VerificationFailedError} naming each object (vault key and version: no source key,
 * which may carry user data) and every complete backup that references it. Read-only.
 */
export async function scheduledVerify(
  s3: S3Client,
  bucket: string,
  options: { readonly shares: number; readonly now: Date; readonly log?: (line: string) => void },
): Promise<VerifyReport> {
  let newest: string | undefined;
  for (const id of await listBackupIds(s3, bucket)) {
    if ((await readBackupRecord(s3, bucket, id)).manifest) {
      newest = id;
      break;
    }
  }
  if (!newest)
    throw new BackupNotFoundError(
      `no complete backup in s3://${bucket} to verify: check the backup schedule ('wire-backup status')`,
    );
  const share = weeklyShareOf(options.now, options.shares);
  const report = await verifyBackup(s3, bucket, newest, {
    deep: true,
    share,
    // Only Verify wire-server Archive and the restore may read Wire's secrets (this role cannot).
    exclude: ['wireServer'],
    ...(options.log ? { log: options.log } : {}),
  });
  if (report.problems.length === 0) return report;
  const affected = await backupsReferencing(s3, bucket, report.problems);
  const shown = report.problems
    .slice(0, 20)
    .map((p) => `${p.kind} ${s3Url(bucket, p.vaultKey)} version ${p.versionId} (${p.component})`);
  throw new VerificationFailedError(
    `scheduled verify of ${newest} (share ${share.slot + 1} of ${share.divisor}): ${report.problems.length} object version(s) damaged or missing: ${shown.join('; ')}${report.problems.length > shown.length ? '; …' : ''}. Backups that reference them and do not restore as recorded: ${affected.join(', ')}. Run 'wire-backup verify <id> --deep' on each, and a full backup now ('wire-backup backup --full') so that new backups stop referencing them.`,
  );
}
