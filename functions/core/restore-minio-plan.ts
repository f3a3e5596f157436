import {
  CreateBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  BackupNotFoundError,
  InvalidInputError,
  RestoreRefusedError,
  VerificationFailedError,
} from './errors.js';
import { readJsonLines, type WrittenJsonLines, writeJsonLines } from './manifest-io.js';
import {
  describeEndpoint,
  httpStatusOf,
  isNotFoundError,
  isTransientError,
  toStorageError,
} from './minio-errors.js';
import { compareKeys, type ManifestEntry, manifestEntrySchema } from './minio-layout.js';
import { Batcher } from './object-transfer.js';
import { joinManifestWithTarget, listTargetObjects } from './restore-minio-verify.js';
import { clearVaultFolder, s3Url } from './vault-io.js';
import {
  type BackupSource,
  parseManifestKey,
  restoreBatchIndexKey,
  restoreBatchKeyOf,
  restoreBucketPrefix,
} from './vault-layout.js';

/**
 * The MinIO side of a restore, in three steps (each a Lambda), as the backup side is cut:
 * planning (this module, once per bucket: refuses a non-empty target unless `overwrite`, creates a
 * missing target bucket, cuts the manifest into batch files and lists them for the Distributed Map),
 * copying (`restore-minio-copy.ts`, per batch file) and verification (`restore-minio-verify.ts`, once
 * per bucket, after every batch). Where the files are: `vault-layout.ts` (`restores/<restoreId>/minio/`).
 *
 * ```
 * restores/<restoreId>/minio/batches.jsonl                      index of every batch file (RestoreBatchItem per line)
 * restores/<restoreId>/minio/<bucket>/batches/00001.jsonl        manifest entries to restore (ManifestEntry per line)
 * restores/<restoreId>/minio/<bucket>/batches/00001.result.jsonl what restoreBatch wrote (RestoredObject per line)
 * ```
 * `<bucket>` is the source bucket the manifest describes. Memory: the manifest is read as a stream in
 * S3 key order; planning holds one batch.
 */

const restoreIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** One batch file of a restore, as the Distributed Map reads it from the index. */
export interface RestoreBatchItem {
  /** The source bucket (the one the manifest describes). */
  readonly bucket: string;
  readonly targetBucket: string;
  readonly batchKey: string;
  /** Where the batch's objects are read: the archive on a restore from there. @default 'vault' */
  readonly source?: BackupSource;
}

/** Where a restore reads the backup's bucket manifests and objects (the vault, or the archive bucket). */
export interface RestoreSourceAccess {
  readonly source: BackupSource;
  readonly client: Pick<S3Client, 'send'>;
  readonly bucket: string;
}

/** What the restore needs from the target MinIO client. */
export type TargetClient = S3Client;

/** Input of {@link planBucketRestore}. */
export interface PlanBucketRestoreInput {
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly vaultBucket: string;
  /** Bucket manifest to restore: `backups/<backupId>/minio/<bucket>.manifest.jsonl.gz`. */
  readonly manifestKey: string;
  /** Where the manifest is read (and later its objects). @default - the vault */
  readonly source?: RestoreSourceAccess;
  /** Client of the target MinIO. */
  readonly target: TargetClient;
  readonly targetBucket: string;
  /** Names the restore's working folder in the vault (`restores/<restoreId>/`). */
  readonly restoreId: string;
  /** Restore into a bucket that already holds objects (objects with the same keys are replaced). */
  readonly overwrite: boolean;
  /** Read and check everything, write nothing anywhere (no bucket, no batch files). @default false */
  readonly dryRun?: boolean;
  /** Most objects per batch file. @default 1000 */
  readonly batchMaxObjects?: number;
  /** Most bytes per batch file (an object larger than this gets a batch of its own). @default 1 GiB */
  readonly batchMaxBytes?: number;
}

/** What the target bucket looked like when the restore was planned. */
export type TargetBucketState = 'missing' | 'empty' | 'non-empty';

/** Outcome of {@link planBucketRestore}. */
export interface BucketRestorePlan {
  readonly sourceBucket: string;
  readonly targetBucket: string;
  readonly manifestKey: string;
  /** Objects (and their bytes) the manifest lists, all of which will be restored. */
  readonly objects: number;
  readonly bytes: number;
  /** Number of batch files. */
  readonly batches: number;
  /** Vault keys of the batch files in order (in a dry run: the keys they would have; none is written). */
  readonly batchKeys: string[];
  readonly dryRun: boolean;
  /** The target bucket before the restore (`missing`: created by this plan unless dry-running). */
  readonly targetState: TargetBucketState;
  /** Where the objects are read. @default 'vault' */
  readonly source?: BackupSource;
}

/** The source bucket a bucket manifest key names; anything else is {@link InvalidInputError}. */
export function sourceBucketOf(manifestKey: string): string {
  const parsed = parseManifestKey(manifestKey);
  if (!parsed) {
    throw new InvalidInputError(
      `"${manifestKey}" is not a bucket manifest key — expected backups/<backupId>/minio/<bucket>.manifest.jsonl.gz`,
    );
  }
  return parsed.bucket;
}

/** The message of a refused restore into a bucket that already holds objects (`foreign`: one not the backup's). */
export function nonEmptyTargetMessage(
  targetBucket: string,
  objects: number,
  more: boolean,
  foreign?: string,
): string {
  const count = more ? `at least ${objects} objects` : `${objects} object${objects === 1 ? '' : 's'}`;
  const whose =
    foreign === undefined
      ? ''
      : `, not only this backup's (${JSON.stringify(foreign)} is not, or differs in size)`;
  return `target bucket ${targetBucket} holds ${count}${whose}: pass overwrite, or choose an empty bucket`;
}

/**
 * The first object of the target bucket that the backup does not hold under the same key and size, or
 * undefined when the bucket holds only (some of) the backup's objects. Streams both sides.
 */
async function firstForeignObject(
  vault: Pick<S3Client, 'send'>,
  vaultBucket: string,
  manifestKey: string,
  target: TargetClient,
  targetBucket: string,
): Promise<string | undefined> {
  const joined = joinManifestWithTarget(
    manifestEntries(vault, vaultBucket, manifestKey),
    listTargetObjects(target, targetBucket),
  );
  for await (const row of joined) {
    if (row.kind === 'extra') return row.object.key;
    if (row.kind === 'both' && row.object.size !== row.entry.size) return row.object.key;
  }
  return undefined;
}

/**
 * Reads a manifest's entries, checking they are in strict S3 key order (a duplicate or out-of-order key
 * means the manifest is corrupt). A missing manifest is {@link BackupNotFoundError}.
 */
export async function* manifestEntries(
  vault: Pick<S3Client, 'send'>,
  vaultBucket: string,
  manifestKey: string,
): AsyncGenerator<ManifestEntry> {
  let lastKey: string | undefined;
  try {
    for await (const entry of readJsonLines(vault, vaultBucket, manifestKey, {
      parse: (value) => manifestEntrySchema.parse(value),
    })) {
      if (lastKey !== undefined && compareKeys(lastKey, entry.key) >= 0) {
        throw new VerificationFailedError(
          `${s3Url(vaultBucket, manifestKey)} is not in S3 key order ("${entry.key}" after "${lastKey}") — the manifest is corrupt; restore from another backup`,
        );
      }
      lastKey = entry.key;
      yield entry;
    }
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new BackupNotFoundError(
        `bucket manifest ${s3Url(vaultBucket, manifestKey)} does not exist — choose a complete backup that includes this bucket`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Looks at the target bucket: missing, empty, or holding objects (counted up to one listing page). */
async function inspectTarget(
  target: TargetClient,
  targetBucket: string,
): Promise<{ state: TargetBucketState; objects: number; more: boolean }> {
  let page: ListObjectsV2CommandOutput;
  try {
    page = await target.send(new ListObjectsV2Command({ Bucket: targetBucket, MaxKeys: 1000 }));
  } catch (error) {
    if (isNotFoundError(error)) return { state: 'missing', objects: 0, more: false };
    if (isTransientError(error)) throw toStorageError(error, `ListObjectsV2 ${targetBucket}`);
    const status = httpStatusOf(error);
    throw new RestoreRefusedError(
      `cannot list target bucket ${targetBucket} at ${await describeEndpoint(target)} (${(error as Error).name ?? 'error'}${status ? ` ${status}` : ''}) — give the restore credentials s3:ListBucket, s3:PutObject and s3:CreateBucket there, or choose another bucket`,
      { cause: error },
    );
  }
  const objects = page.Contents?.length ?? 0;
  return { state: objects > 0 ? 'non-empty' : 'empty', objects, more: page.IsTruncated === true };
}

async function createTargetBucket(target: TargetClient, targetBucket: string, overwrite: boolean) {
  try {
    await target.send(new CreateBucketCommand({ Bucket: targetBucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'BucketAlreadyOwnedByYou') {
      // Created by someone else since we looked: look again so a non-empty bucket is still refused.
      const again = await inspectTarget(target, targetBucket);
      if (again.state === 'non-empty' && !overwrite) {
        throw new RestoreRefusedError(nonEmptyTargetMessage(targetBucket, again.objects, again.more));
      }
      return;
    }
    if (name === 'BucketAlreadyExists') {
      throw new RestoreRefusedError(
        `target bucket ${targetBucket} belongs to another account at ${await describeEndpoint(target)} — choose another bucket name`,
        { cause: error },
      );
    }
    throw toStorageError(error, `CreateBucket ${targetBucket}`);
  }
}

/**
 * Plans the restore of one bucket manifest into `targetBucket`. In order, before anything is written:
 * checks the restore id and manifest key, refuses with {@link RestoreRefusedError} when the target
 * bucket holds objects and `overwrite` is false, reads the whole manifest (missing:
 * {@link BackupNotFoundError}; corrupt: `VerificationFailedError`) while writing its entries into batch
 * files `restores/<restoreId>/minio/<bucket>/batches/<n>.jsonl`; then creates the target bucket if it
 * is missing. A dry run does the same reads and checks and writes nothing anywhere. Idempotent: a retry
 * first removes the batch files an earlier attempt wrote. List the batch files for the Distributed Map
 * with {@link writeRestoreBatchIndex} (not in a dry run).
 */
export async function planBucketRestore(input: PlanBucketRestoreInput): Promise<BucketRestorePlan> {
  const { vault, vaultBucket, manifestKey, target, targetBucket, restoreId, overwrite } = input;
  const dryRun = input.dryRun ?? false;
  if (!restoreIdPattern.test(restoreId)) {
    throw new InvalidInputError(
      `restore id "${restoreId}" must be 1–128 letters, digits, ".", "_" or "-" (it names a vault folder)`,
    );
  }
  const sourceBucket = sourceBucketOf(manifestKey);
  const from = input.source ?? { source: 'vault', client: vault, bucket: vaultBucket };
  const batcher = new Batcher<ManifestEntry>(input.batchMaxObjects ?? 1000, input.batchMaxBytes ?? 1024 ** 3);

  const inspected = await inspectTarget(target, targetBucket);
  if (inspected.state === 'non-empty' && !overwrite) {
    // A bucket holding only this backup's objects (what an interrupted restore of it wrote) is no one
    // else's data: the re-run writes the same keys again. Anything else needs overwrite.
    const foreign = await firstForeignObject(from.client, from.bucket, manifestKey, target, targetBucket);
    if (foreign !== undefined) {
      throw new RestoreRefusedError(
        nonEmptyTargetMessage(targetBucket, inspected.objects, inspected.more, foreign),
      );
    }
  }

  if (!dryRun) await clearVaultFolder(vault, vaultBucket, restoreBucketPrefix(restoreId, sourceBucket));
  const batchKeys: string[] = [];
  let objects = 0;
  let bytes = 0;
  const writeBatch = async (entries: ManifestEntry[] | undefined): Promise<void> => {
    if (!entries) return;
    const batchKey = restoreBatchKeyOf(restoreId, sourceBucket, batchKeys.length + 1);
    batchKeys.push(batchKey);
    if (!dryRun) await writeJsonLines(vault, vaultBucket, batchKey, entries);
  };
  for await (const entry of manifestEntries(from.client, from.bucket, manifestKey)) {
    objects += 1;
    bytes += entry.size;
    await writeBatch(batcher.add(entry));
  }
  await writeBatch(batcher.flush());

  // Created last, so a manifest that turns out unreadable leaves no empty bucket behind.
  if (!dryRun && inspected.state === 'missing') await createTargetBucket(target, targetBucket, overwrite);
  return {
    sourceBucket,
    targetBucket,
    manifestKey,
    objects,
    bytes,
    batches: batchKeys.length,
    batchKeys,
    dryRun,
    targetState: inspected.state,
    ...(from.source === 'archive' ? { source: from.source } : {}),
  };
}

/** Input of {@link planBucketRestores}: every bucket of one restore, with what they share. */
export interface PlanBucketRestoresInput
  extends Omit<PlanBucketRestoreInput, 'manifestKey' | 'targetBucket'> {
  /** The bucket manifests to restore and where each goes. */
  readonly buckets: readonly { readonly manifestKey: string; readonly targetBucket: string }[];
}

/** Plans every bucket of a restore with {@link planBucketRestore}, one after the other, in order. */
export async function planBucketRestores(input: PlanBucketRestoresInput): Promise<BucketRestorePlan[]> {
  const { buckets, ...shared } = input;
  const plans: BucketRestorePlan[] = [];
  for (const { manifestKey, targetBucket } of buckets) {
    plans.push(await planBucketRestore({ ...shared, manifestKey, targetBucket }));
  }
  return plans;
}

/** The index items of one bucket's plan (pass them, for every bucket, to {@link writeRestoreBatchIndex}). */
export function restoreBatchItemsOf(plan: BucketRestorePlan): RestoreBatchItem[] {
  return plan.batchKeys.map((batchKey) => ({
    bucket: plan.sourceBucket,
    targetBucket: plan.targetBucket,
    batchKey,
    ...(plan.source === 'archive' ? { source: plan.source } : {}),
  }));
}

/**
 * Writes `restores/<restoreId>/minio/batches.jsonl`, one {@link RestoreBatchItem} per line, across every
 * bucket of the restore: the Distributed Map's `ItemReader` (JSONL), which keeps long lists of batch
 * keys out of the state. Streams `items`; replaces an earlier index of the same restore.
 */
export async function writeRestoreBatchIndex(
  vault: S3Client,
  vaultBucket: string,
  restoreId: string,
  items: Iterable<RestoreBatchItem> | AsyncIterable<RestoreBatchItem>,
): Promise<WrittenJsonLines> {
  return writeJsonLines(vault, vaultBucket, restoreBatchIndexKey(restoreId), items);
}
