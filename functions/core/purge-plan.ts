import {
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type BackupManifest, backupManifestSchema } from './contract/backup.js';
import {
  type BackupStatus,
  type DeletionLine,
  type LockedVersion,
  type PurgeBackupDecision,
  type PurgeInput,
  type PurgePlan,
  type PurgePlanSummary,
  purgeInputSchema,
  zeroByCategory,
} from './contract/purge.js';
import { InvalidInputError, PurgeRefusedError } from './errors.js';
import { readJsonLines, writeJson, writeJsonLines } from './manifest-io.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import { manifestEntrySchema } from './minio-layout.js';
import { backupTime, decideRetention, describeReasons, type RetentionCounts } from './retention.js';
import { forEachConcurrent, splitLines } from './streams.js';
import { readJsonOrUndefined, s3Url } from './vault-io.js';
import {
  allocateBackupId,
  backupIdOfPrefix,
  backupIdPattern,
  backupPrefix,
  failedKey,
  manifestKey,
  minioEntryVaultKey,
  purgeDeletionsKey,
  purgePlanKey,
  purgeReportKey,
  restoreFailedKey,
  restoreIdOfPrefix,
  restoreReportKey,
  restoreStartedKey,
  sstableKey,
  startedKey,
  vaultPrefixes,
} from './vault-layout.js';
import { type WalKeepFrom, walNotNeeded } from './wal-retention.js';

/**
 * Plans a purge (README, "Retention"): decides which backups go, then which object versions nobody
 * needs any more. What is referenced is learnt only by reading the kept backups' manifests — each
 * node's `files.tsv` and each bucket manifest, version by version — never from key prefixes
 * (cassandra-medusa #485 deleted other hosts' files by prefix matching). What a running backup may
 * still need is protected by two rules (medusa #363 raced a running backup):
 * - its base (the complete backup it is differential against) is pinned, and
 * - no version last modified after the fence is deleted: fence = the earlier of (now − grace) and
 *   (the earliest running backup's start − clock skew). A running backup's uploads are younger than
 *   its start, so they are never candidates, whatever its manifests say (it has none yet).
 * Anything the purge cannot read — a kept backup's manifest or file list — stops it: nothing is
 * deleted that it could not prove unreferenced.
 */

/** The backup state machine's timeout: a backup started longer ago without manifest or failed marker is abandoned. */
export const backupTimeoutHours = 12;
/** The restore state machine's timeout: a restore marker older than this without a report is stale. */
export const restoreTimeoutHours = 24;
/** Margin for clocks (the hosts', Lambda's, S3's) when comparing a start time with LastModified. */
export const clockSkewMinutes = 10;
/** Deletions listed in the plan document itself (the whole list is in the deletion list object). */
const sampleSize = 50;
/** Locked versions named in the plan (the count covers all). */
const lockedExamples = 50;

/** Retention settings of a purge (`vault.retention`). */
export interface PurgeSettings {
  readonly retention: RetentionCounts & { readonly failedDays: number; readonly graceHours: number };
  /** Margin subtracted from a running backup's start. @default {@link clockSkewMinutes} minutes */
  readonly clockSkewSeconds?: number;
}

/** Collaborators of {@link planPurge}. */
export interface PurgeDeps {
  readonly s3: S3Client;
  readonly vaultBucket: string;
  readonly now: () => Date;
  /** Progress lines (to the function log); never object contents. */
  readonly log?: (line: string) => void;
}

/** One backup folder as found in the vault. */
export interface BackupFolder {
  readonly backupId: string;
  readonly status: BackupStatus;
  /** When it started (started.json, else the id's time). */
  readonly startedAt: Date;
  readonly manifest?: BackupManifest;
}

/** A restore found running (started marker, no report, not stale). */
export interface RunningRestore {
  readonly restoreId: string;
  readonly backupId: string;
  readonly startedAt: Date;
}

const hours = (n: number) => n * 3_600_000;

/** Parses the purge input; the error names each bad field. */
export function parsePurgeInput(raw: unknown): PurgeInput {
  const result = purgeInputSchema.safeParse(raw ?? {});
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`purge input rejected (${fields}). Example: {"dryRun": true}`);
  }
  return result.data;
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isNotFoundError(error)) return false;
    throw toStorageError(error, `HeadObject ${s3Url(bucket, key)}`);
  }
}

/** Every folder name (`<prefix><name>/`) below `prefix`, every page. */
async function listFolders(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) folders.push(p.Prefix);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return folders;
}

/** Every object version (not delete markers unless asked) below `prefix`, page by page. */
export async function* listVersions(
  s3: S3Client,
  bucket: string,
  prefix: string,
  options: { readonly deleteMarkers?: boolean } = {},
): AsyncGenerator<{ key: string; versionId: string; size: number; lastModified: Date }> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const v of page.Versions ?? []) {
      if (!v.Key) continue;
      yield {
        key: v.Key,
        versionId: v.VersionId ?? 'null',
        size: v.Size ?? 0,
        lastModified: v.LastModified ?? new Date(0),
      };
    }
    if (options.deleteMarkers) {
      for (const m of page.DeleteMarkers ?? []) {
        if (!m.Key) continue;
        yield {
          key: m.Key,
          versionId: m.VersionId ?? 'null',
          size: 0,
          lastModified: m.LastModified ?? new Date(0),
        };
      }
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
}

/**
 * Every backup folder of the vault, classified: complete (a manifest that parses), failed (failed
 * marker), running (started marker younger than the backup timeout), abandoned (anything else). A
 * manifest that does not parse stops the purge.
 */
export async function inventoryBackups(s3: S3Client, bucket: string, now: Date): Promise<BackupFolder[]> {
  const ids = (await listFolders(s3, bucket, vaultPrefixes.backups))
    .map((p) => backupIdOfPrefix(p))
    .filter((id): id is string => id !== undefined && backupIdPattern.test(id));
  const folders: BackupFolder[] = [];
  await forEachConcurrent(ids, 8, async (backupId) => {
    const raw = await readJsonOrUndefined(s3, bucket, manifestKey(backupId));
    if (raw !== undefined) {
      const parsed = backupManifestSchema.safeParse(raw);
      if (!parsed.success)
        throw new PurgeRefusedError(
          `${s3Url(bucket, manifestKey(backupId))} does not parse (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}): the purge cannot tell what it references, so it deletes nothing — repair or remove that manifest`,
        );
      folders.push({
        backupId,
        status: 'complete',
        startedAt: new Date(parsed.data.startedAt),
        manifest: parsed.data,
      });
      return;
    }
    const started = await readJsonOrUndefined<{ startedAt?: string }>(s3, bucket, startedKey(backupId));
    const startedAt = started?.startedAt ? new Date(started.startedAt) : backupTime(backupId);
    if (await exists(s3, bucket, failedKey(backupId))) {
      folders.push({ backupId, status: 'failed', startedAt });
      return;
    }
    const running = started !== undefined && now.getTime() - startedAt.getTime() < hours(backupTimeoutHours);
    folders.push({ backupId, status: running ? 'running' : 'abandoned', startedAt });
  });
  return folders.sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
}

/** Restores that are running now: a started marker, no report or failed marker, younger than the restore timeout. */
export async function findRunningRestores(
  s3: S3Client,
  bucket: string,
  now: Date,
): Promise<RunningRestore[]> {
  const ids = (await listFolders(s3, bucket, vaultPrefixes.restores))
    .map((p) => restoreIdOfPrefix(p))
    .filter((id): id is string => id !== undefined);
  const running: RunningRestore[] = [];
  await forEachConcurrent(ids, 8, async (restoreId) => {
    const marker = await readJsonOrUndefined<{ backupId?: string; startedAt?: string }>(
      s3,
      bucket,
      restoreStartedKey(restoreId),
    );
    if (!marker?.backupId || !marker.startedAt) return;
    const startedAt = new Date(marker.startedAt);
    if (now.getTime() - startedAt.getTime() >= hours(restoreTimeoutHours)) return;
    if (await exists(s3, bucket, restoreReportKey(restoreId))) return;
    if (await exists(s3, bucket, restoreFailedKey(restoreId))) return;
    running.push({ restoreId, backupId: marker.backupId, startedAt });
  });
  return running.sort((a, b) => (a.restoreId < b.restoreId ? -1 : 1));
}

/**
 * The complete backups a running backup may read: its base is the newest complete backup Prepare saw,
 * which is the newest one with an older id that had completed when it started — or any with an older
 * id that completed around or after its start (Prepare may have seen it). All of those are pinned.
 */
export function basesOfRunningBackup(
  running: BackupFolder,
  complete: readonly BackupFolder[],
  skew: number = clockSkewMinutes * 60_000,
): string[] {
  const older = complete
    .filter((b) => b.backupId < running.backupId && b.manifest)
    .sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
  const start = running.startedAt.getTime();
  const late = older.filter((b) => new Date(b.manifest?.completedAt ?? 0).getTime() >= start - skew);
  const base = older.find((b) => new Date(b.manifest?.completedAt ?? 0).getTime() < start - skew);
  return [...late, ...(base ? [base] : [])].map((b) => b.backupId);
}

/** The reference of one object version: `key` NUL `versionId`. */
const ref = (key: string, versionId: string) => `${key}\u0000${versionId}`;

/**
 * Adds every object version a complete backup references: each node's SSTables (its `files.tsv`,
 * under that node's own `cassandra/<cluster>/<hostId>/`) and each bucket manifest's object versions.
 * An unreadable list throws {@link PurgeRefusedError} when `strict` (a kept backup), else is skipped.
 */
export async function collectReferences(
  s3: S3Client,
  bucket: string,
  manifest: BackupManifest,
  add: (reference: string) => void,
  strict: boolean,
): Promise<void> {
  const refuse = (what: string, error: unknown): void => {
    if (!strict) return;
    throw new PurgeRefusedError(
      `backup ${manifest.backupId} is kept but its ${what} is unreadable (${(error as Error).message}): the purge cannot tell what it references, so it deletes nothing — restore that object (a previous version) or remove the backup's manifest`,
      { cause: error },
    );
  };
  for (const node of manifest.cassandra?.nodes ?? []) {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: node.filesKey }));
      const body = out.Body as AsyncIterable<Uint8Array>;
      for await (const line of splitLines(body)) {
        if (!line) continue;
        const [relpath, , , versionId] = line.split('\t');
        if (!relpath || !versionId)
          throw new Error(`line "${line.slice(0, 80)}" is not relpath, size, sha256, versionId`);
        add(ref(sstableKey(manifest.clusterName, node.hostId, relpath), versionId));
      }
    } catch (error) {
      refuse(`file list ${s3Url(bucket, node.filesKey)} (node ${node.name})`, error);
    }
  }
  for (const b of manifest.minio?.buckets ?? []) {
    try {
      for await (const entry of readJsonLines(s3, bucket, b.manifestKey, {
        parse: (v) => manifestEntrySchema.parse(v),
      })) {
        add(ref(minioEntryVaultKey(b.bucket, entry), entry.versionId));
      }
    } catch (error) {
      refuse(`bucket manifest ${s3Url(bucket, b.manifestKey)}`, error);
    }
  }
}

/** Object Lock state of one version, or undefined when nothing holds it. */
async function lockOf(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string,
  now: Date,
): Promise<LockedVersion | undefined> {
  let retainUntil: Date | undefined;
  let mode: string | undefined;
  let legalHold = false;
  try {
    const r = await s3.send(
      new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    );
    retainUntil = r.Retention?.RetainUntilDate;
    mode = r.Retention?.Mode;
  } catch (error) {
    if (!isNoLock(error)) throw toStorageError(error, `GetObjectRetention ${s3Url(bucket, key)}`);
  }
  try {
    const h = await s3.send(
      new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    );
    legalHold = h.LegalHold?.Status === 'ON';
  } catch (error) {
    if (!isNoLock(error)) throw toStorageError(error, `GetObjectLegalHold ${s3Url(bucket, key)}`);
  }
  const retained = retainUntil !== undefined && retainUntil.getTime() > now.getTime();
  if (!retained && !legalHold) return undefined;
  return {
    key,
    versionId,
    retainUntil: retained && retainUntil ? retainUntil.toISOString() : null,
    mode: retained ? (mode ?? null) : null,
    legalHold,
  };
}

/** A version with no retention or legal hold set answers with an error, not an empty lock. */
function isNoLock(error: unknown): boolean {
  const { name, Code } = error as { name?: string; Code?: string };
  return ['NoSuchObjectLockConfiguration', 'ObjectLockConfigurationNotFoundError', 'InvalidRequest'].some(
    (n) => n === name || n === Code,
  );
}

/** Whether the bucket has Object Lock enabled (then every deletion candidate is checked first). */
async function objectLockEnabled(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    const out = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    return out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (error) {
    if (isNoLock(error)) return false;
    throw toStorageError(error, `GetObjectLockConfiguration ${bucket}`);
  }
}

const categoryOrder: Record<DeletionLine['category'], number> = {
  manifest: 0,
  'backup-folder': 1,
  sstable: 2,
  'minio-object': 3,
  'postgresql-wal': 4,
};

/**
 * Plans a purge and writes `purges/<id>/plan.json` and the deletion list; deletes nothing. Returns the
 * small summary the state machine carries.
 */
export async function planPurge(
  rawInput: unknown,
  settings: PurgeSettings,
  deps: PurgeDeps,
): Promise<PurgePlanSummary> {
  const input = parsePurgeInput(rawInput);
  const { s3, vaultBucket: bucket } = deps;
  const log = deps.log ?? (() => {});
  const now = deps.now();
  const purgeId = allocateBackupId(now);
  const r = settings.retention;
  const skew = (settings.clockSkewSeconds ?? clockSkewMinutes * 60) * 1000;

  const folders = await inventoryBackups(s3, bucket, now);
  const restores = await findRunningRestores(s3, bucket, now);
  const complete = folders.filter((f) => f.status === 'complete');
  const running = folders.filter((f) => f.status === 'running');
  log(
    `purge ${purgeId}: ${folders.length} backup folder(s): ${complete.length} complete, ${running.length} running, ${restores.length} restore(s) running`,
  );

  // Pins: what running restores read, and what running backups are differential against.
  const pins = new Map<string, string[]>();
  const pin = (id: string, by: string) => pins.set(id, [...(pins.get(id) ?? []), by]);
  const completeIds = new Set(complete.map((c) => c.backupId));
  for (const restore of restores) {
    if (completeIds.has(restore.backupId)) pin(restore.backupId, `restore ${restore.restoreId} is running`);
  }
  const runningBackups = running.map((b) => {
    const bases = basesOfRunningBackup(b, complete, skew);
    for (const id of bases) pin(id, `backup ${b.backupId} is running (it may reuse this one's files)`);
    return { backupId: b.backupId, startedAt: b.startedAt.toISOString(), pins: bases };
  });

  const retentionDecisions = decideRetention(
    complete.map((c) => ({ backupId: c.backupId, pinnedBy: pins.get(c.backupId) ?? [] })),
    r,
  );
  const keep = new Map(retentionDecisions.map((d) => [d.backupId, d]));
  const lockEnabled = await objectLockEnabled(s3, bucket);
  const locked: LockedVersion[] = [];

  const decisions: PurgeBackupDecision[] = [];
  for (const folder of folders) {
    const id = folder.backupId;
    const ageDays = (now.getTime() - folder.startedAt.getTime()) / hours(24);
    if (folder.status === 'complete') {
      const d = keep.get(id);
      if (d?.keep) {
        decisions.push({
          backupId: id,
          status: 'complete',
          action: 'keep',
          reason: describeReasons(d.reasons),
        });
        continue;
      }
      const manifestLocks = lockEnabled ? await lockedVersionsOf(manifestKey(id)) : [];
      if (manifestLocks.length > 0) {
        locked.push(...manifestLocks);
        const until = manifestLocks.map((l) => l.retainUntil ?? 'legal hold').join(', ');
        decisions.push({
          backupId: id,
          status: 'complete',
          action: 'locked',
          reason: `expired, but Object Lock holds its manifest (${until}): kept, with everything it references, until the lock ends`,
        });
        continue;
      }
      decisions.push({ backupId: id, status: 'complete', action: 'delete', reason: describeReasons([]) });
    } else if (folder.status === 'running') {
      decisions.push({ backupId: id, status: 'running', action: 'keep', reason: 'running: never touched' });
    } else {
      const old = ageDays > r.failedDays;
      decisions.push({
        backupId: id,
        status: folder.status,
        action: old ? 'delete' : 'keep',
        reason: `${folder.status} ${ageDays.toFixed(1)} day(s) ago; ${folder.status} backups are kept ${r.failedDays} day(s) to diagnose${old ? ', then deleted' : ''}`,
      });
    }
  }

  // References of every kept complete backup (locked ones included); expired ones only explain.
  const referenced = new Set<string>();
  const onlyExpired = new Map<string, string>();
  for (const d of decisions) {
    const manifest = folders.find((f) => f.backupId === d.backupId)?.manifest;
    if (!manifest) continue;
    if (d.action === 'delete') {
      await collectReferences(s3, bucket, manifest, (x) => onlyExpired.set(x, d.backupId), false);
    } else {
      await collectReferences(s3, bucket, manifest, (x) => referenced.add(x), true);
    }
  }
  log(`purge ${purgeId}: kept backups reference ${referenced.size} object version(s)`);

  const graceFence = now.getTime() - hours(r.graceHours);
  const runningFence = Math.min(
    ...running.map((b) => b.startedAt.getTime() - skew),
    Number.POSITIVE_INFINITY,
  );
  const fence = new Date(Math.min(graceFence, runningFence));

  const deletions: DeletionLine[] = [];
  let referencedVersions = 0;
  let withinGrace = 0;
  for (const [prefix, category] of [
    [vaultPrefixes.cassandra, 'sstable'],
    [vaultPrefixes.minio, 'minio-object'],
  ] as const) {
    for await (const v of listVersions(s3, bucket, prefix)) {
      const x = ref(v.key, v.versionId);
      if (referenced.has(x)) {
        referencedVersions += 1;
        continue;
      }
      if (v.lastModified.getTime() >= fence.getTime()) {
        withinGrace += 1;
        continue;
      }
      const by = onlyExpired.get(x);
      deletions.push({
        key: v.key,
        versionId: v.versionId,
        size: v.size,
        category,
        reason: by
          ? `referenced only by expired backup(s) (e.g. ${by}); no kept backup references this version`
          : 'referenced by no complete backup (left by a failed or interrupted backup, or a superseded upload)',
      });
    }
  }
  // Archived PostgreSQL WAL: needed from the start of the oldest kept backup of its cluster
  // (`wal-retention.ts`). A WAL folder that no kept backup uses is left alone and reported.
  const walKeptFrom = new Map<string, WalKeepFrom>();
  const walFolders = new Set<string>();
  for (const d of [...decisions].sort((a, b) => (a.backupId < b.backupId ? -1 : 1))) {
    const pg = folders.find((f) => f.backupId === d.backupId)?.manifest?.postgresql;
    if (!pg?.walPrefix.startsWith(vaultPrefixes.postgresql)) continue;
    walFolders.add(pg.walPrefix);
    if (d.action !== 'delete' && !walKeptFrom.has(pg.walPrefix))
      walKeptFrom.set(pg.walPrefix, { startWalFile: pg.startWalFile, backupId: d.backupId });
  }
  for (const prefix of walFolders)
    if (!walKeptFrom.has(prefix))
      log(`purge ${purgeId}: no kept backup uses the WAL in ${s3Url(bucket, prefix)}: none of it is deleted`);
  for (const [prefix, from] of walKeptFrom) {
    for await (const v of listVersions(s3, bucket, prefix)) {
      const file = v.key.slice(prefix.length);
      const why = file.endsWith('.gz') ? walNotNeeded(file.slice(0, -'.gz'.length), from) : undefined;
      if (!why) continue;
      if (v.lastModified.getTime() >= fence.getTime()) {
        withinGrace += 1;
        continue;
      }
      deletions.push({
        key: v.key,
        versionId: v.versionId,
        size: v.size,
        category: 'postgresql-wal',
        reason: why,
      });
    }
  }
  for (const d of decisions) {
    if (d.action !== 'delete') continue;
    for await (const v of listVersions(s3, bucket, backupPrefix(d.backupId), { deleteMarkers: true })) {
      deletions.push({
        key: v.key,
        versionId: v.versionId,
        size: v.size,
        category: v.key === manifestKey(d.backupId) ? 'manifest' : 'backup-folder',
        reason: `backup ${d.backupId}: ${d.reason}`,
      });
    }
  }

  // Object Lock: a locked version is reported and left alone, never forced.
  let deletable = deletions;
  if (lockEnabled) {
    const lockedKeys = new Set<string>();
    await forEachConcurrent(deletions, 16, async (line) => {
      const lock = await lockOf(s3, bucket, line.key, line.versionId, now);
      if (lock) {
        locked.push(lock);
        lockedKeys.add(ref(line.key, line.versionId));
      }
    });
    deletable = deletions.filter((line) => !lockedKeys.has(ref(line.key, line.versionId)));
  }
  deletable.sort(
    (a, b) =>
      categoryOrder[a.category] - categoryOrder[b.category] || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );

  const byCategory = zeroByCategory();
  for (const line of deletable) byCategory[line.category] += 1;
  const plan: PurgePlan = {
    purgeId,
    vaultBucket: bucket,
    dryRun: input.dryRun,
    startedAt: now.toISOString(),
    fence: fence.toISOString(),
    retention: {
      hourly: r.hourly,
      daily: r.daily,
      weekly: r.weekly,
      monthly: r.monthly,
      failedDays: r.failedDays,
      graceHours: r.graceHours,
    },
    backups: decisions,
    runningRestores: restores.map((x) => ({ restoreId: x.restoreId, backupId: x.backupId })),
    runningBackups,
    wal: [...walKeptFrom].map(([walPrefix, from]) => ({ walPrefix, ...from })),
    referencedVersions,
    withinGrace,
    planned: { versions: deletable.length, bytes: deletable.reduce((n, l) => n + l.size, 0), byCategory },
    locked: { versions: locked.length, examples: locked.slice(0, lockedExamples) },
    sample: deletable.slice(0, sampleSize),
    planKey: purgePlanKey(purgeId),
    deletionsKey: purgeDeletionsKey(purgeId),
    reportKey: purgeReportKey(purgeId),
  };
  await writeJsonLines(s3, bucket, plan.deletionsKey, deletable, { gzip: true });
  await writeJson(s3, bucket, plan.planKey, plan);
  log(
    `purge ${purgeId}: ${input.dryRun ? 'would delete' : 'deletes'} ${deletable.length} version(s) (${plan.planned.bytes} bytes); ${locked.length} locked; ${withinGrace} within the grace period`,
  );
  return { purgeId, dryRun: input.dryRun, planKey: plan.planKey, deletions: deletable.length };

  async function lockedVersionsOf(key: string): Promise<LockedVersion[]> {
    const found: LockedVersion[] = [];
    for await (const v of listVersions(s3, bucket, key)) {
      if (v.key !== key) continue;
      const lock = await lockOf(s3, bucket, v.key, v.versionId, now);
      if (lock) found.push(lock);
    }
    return found;
  }
}
