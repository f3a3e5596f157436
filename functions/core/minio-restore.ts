import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import {
  BackupNotFoundError,
  InvalidInputError,
  RestoreRefusedError,
  RestoreVerificationError,
  VerificationFailedError,
} from './errors.js';
import { readJsonLines, type WrittenJsonLines, writeJsonLines } from './manifest-io.js';
import { type ProgressLogger, partSizeFor } from './minio-copy.js';
import {
  describeEndpoint,
  httpStatusOf,
  isNotFoundError,
  isTransientError,
  toStorageError,
} from './minio-errors.js';
import { compareKeys, type ManifestEntry, manifestEntrySchema, normalizeEtag } from './minio-layout.js';
import { Batcher } from './minio-plan.js';
import { DigestStream, forEachConcurrent, mapConcurrent, type StreamDigest } from './streams.js';
import { batchResultKeyOf, minioObjectKey, parseManifestKey } from './vault-layout.js';

/**
 * The MinIO side of a restore: copies the exact object versions a bucket manifest references from the
 * vault back into a target MinIO bucket, then checks the target against the manifest.
 *
 * ```
 * restores/<restoreId>/minio/batches.jsonl                      index of every batch file (Distributed Map items)
 * restores/<restoreId>/minio/<bucket>/batches/00001.jsonl        manifest entries to restore (ManifestEntry per line)
 * restores/<restoreId>/minio/<bucket>/batches/00001.result.jsonl what restoreBatch wrote (RestoredObject per line)
 * ```
 * `<bucket>` is the source bucket the manifest describes. Three steps, each a Lambda:
 * {@link planBucketRestore} (once per bucket; refuses a non-empty target unless `overwrite`, creates a
 * missing target bucket, cuts the manifest into batch files), {@link restoreBatch} (per batch file,
 * fanned out by a Distributed Map over the index that {@link writeRestoreBatchIndex} writes), and
 * {@link verifyBucketRestore} (once per bucket, after every batch).
 *
 * Memory: the manifest and the target listing are read as streams in S3 key order; planning holds one
 * batch, verification one listing page plus the objects in flight, restoring one batch's entries plus
 * the objects in flight (each ≤ max(threshold, (queueSize + 1) × part size), as in `minio-copy.ts`).
 */

const MiB = 1024 * 1024;

/** Most differences named in a verification result or error (the counts cover all). */
export const maxExamples = 20;

const restoreIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Working folder of one restore's MinIO part. */
export const restoreMinioPrefix = (restoreId: string): string => `restores/${restoreId}/minio/`;
/** Working folder of one source bucket in one restore. */
export const restoreBucketPrefix = (restoreId: string, bucket: string): string =>
  `${restoreMinioPrefix(restoreId)}${bucket}/`;
/** Restore batch file `n` (1-based, zero-padded to 5 digits) of a source bucket. */
export const restoreBatchKeyOf = (restoreId: string, bucket: string, n: number): string =>
  `${restoreBucketPrefix(restoreId, bucket)}batches/${String(n).padStart(5, '0')}.jsonl`;
/** The index of every restore batch file of a restore, across buckets (JSONL of {@link RestoreBatchItem}). */
export const restoreBatchIndexKey = (restoreId: string): string =>
  `${restoreMinioPrefix(restoreId)}batches.jsonl`;

/** One batch file of a restore, as the Distributed Map reads it from the index. */
export interface RestoreBatchItem {
  /** The source bucket (the one the manifest describes). */
  readonly bucket: string;
  readonly targetBucket: string;
  readonly batchKey: string;
}

/** One line of a restore batch result file: an object written to the target. */
export const restoredObjectSchema = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  /** Vault version id the bytes came from. */
  versionId: z.string().min(1),
  /** ETag the target returned (no quotes). */
  targetEtag: z.string(),
  /** Version id in the target, when the target bucket is versioned. */
  targetVersionId: z.string().optional(),
});
/** One line of a restore batch result file. */
export type RestoredObject = z.infer<typeof restoredObjectSchema>;

/** What the restore needs from the target MinIO client. */
export type TargetClient = S3Client;

/** Input of {@link planBucketRestore}. */
export interface PlanBucketRestoreInput {
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly vaultBucket: string;
  /** Bucket manifest to restore: `backups/<backupId>/minio/<bucket>.manifest.jsonl.gz`. */
  readonly manifestKey: string;
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
}

/** Input of {@link restoreBatch}. */
export interface RestoreBatchInput {
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly vaultBucket: string;
  /** Client of the target MinIO. */
  readonly target: TargetClient;
  /** The bucket the manifest describes (objects are read from `minio/<sourceBucket>/<key>`). */
  readonly sourceBucket: string;
  readonly targetBucket: string;
  /** Vault key of the batch file (`restores/<restoreId>/minio/<bucket>/batches/<n>.jsonl`). */
  readonly batchKey: string;
  /** Objects larger than this are written with a multipart upload. @default 16 MiB */
  readonly multipartThresholdBytes?: number;
  /** Part size of multipart uploads (raised if an object would need more than 10,000 parts). @default 16 MiB */
  readonly partSizeBytes?: number;
  /** Objects restored at the same time. @default 4 */
  readonly concurrency?: number;
  /** Parts of one multipart upload in flight at the same time. @default 4 */
  readonly queueSize?: number;
  /** Progress of large objects and the batch summary. */
  readonly logger?: ProgressLogger;
}

/** Outcome of {@link restoreBatch}. */
export interface RestoreBatchResult {
  readonly batchKey: string;
  readonly restoredObjects: number;
  readonly restoredBytes: number;
}

/** Input of {@link verifyBucketRestore}. */
export interface VerifyBucketRestoreInput {
  readonly vault: Pick<S3Client, 'send'>;
  readonly vaultBucket: string;
  /** The bucket manifest that was restored. */
  readonly manifestKey: string;
  /** Client of the target MinIO. */
  readonly target: Pick<S3Client, 'send'>;
  readonly targetBucket: string;
  /** Also re-read every target object and compare its SHA-256 with the manifest. */
  readonly deep: boolean;
  /** Count objects in the target that the manifest does not list as failures. @default false */
  readonly strict?: boolean;
  /** Objects checked at the same time. @default 16 (HEAD), 4 (deep) */
  readonly concurrency?: number;
}

/** A target object that differs from its manifest entry. */
export interface RestoreMismatch {
  readonly key: string;
  /** What differs, e.g. `size 3, the manifest says 4`. */
  readonly problems: readonly string[];
}

/** Outcome of {@link verifyBucketRestore}. Lists hold the first {@link maxExamples}; counts cover all. */
export interface BucketRestoreVerification {
  readonly sourceBucket: string;
  readonly targetBucket: string;
  readonly manifestKey: string;
  /** Objects (and their bytes) in the manifest. */
  readonly objects: number;
  readonly bytes: number;
  readonly deep: boolean;
  /** Manifest keys absent from the target. */
  readonly missing: string[];
  readonly missingCount: number;
  readonly mismatched: RestoreMismatch[];
  readonly mismatchedCount: number;
  /** Target keys the manifest does not list (failures only when `strict`). */
  readonly extra: string[];
  readonly extraCount: number;
}

/** Collects the first {@link maxExamples} items of a list and counts them all. */
export class ExampleList<T> {
  /** The first items added. */
  readonly examples: T[] = [];
  /** How many were added in all. */
  count = 0;

  constructor(private readonly limit: number = maxExamples) {}

  /** Counts `item` and keeps it if fewer than the limit are kept. */
  add(item: T): void {
    this.count += 1;
    if (this.examples.length < this.limit) this.examples.push(item);
  }
}

function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

function sourceBucketOf(manifestKey: string): string {
  const parsed = parseManifestKey(manifestKey);
  if (!parsed) {
    throw new InvalidInputError(
      `"${manifestKey}" is not a bucket manifest key — expected backups/<backupId>/minio/<bucket>.manifest.jsonl.gz`,
    );
  }
  return parsed.bucket;
}

/** The message of a refused restore into a bucket that already holds objects. */
export function nonEmptyTargetMessage(targetBucket: string, objects: number, more: boolean): string {
  const count = more ? `at least ${objects} objects` : `${objects} object${objects === 1 ? '' : 's'}`;
  return `target bucket ${targetBucket} holds ${count}: pass overwrite, or choose an empty bucket`;
}

/**
 * Reads a manifest's entries, checking they are in strict S3 key order (a duplicate or out-of-order key
 * means the manifest is corrupt). A missing manifest is {@link BackupNotFoundError}.
 */
async function* manifestEntries(
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

/** Deletes what an earlier attempt of this plan left (a retry must not leave stale batches). */
async function clearFolder(vault: S3Client, vaultBucket: string, prefix: string): Promise<void> {
  let continuationToken: string | undefined;
  try {
    do {
      const page = await vault.send(
        new ListObjectsV2Command({
          Bucket: vaultBucket,
          Prefix: prefix,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) await vault.send(new DeleteObjectCommand({ Bucket: vaultBucket, Key: object.Key }));
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  } catch (error) {
    throw toStorageError(error, `clearing ${s3Url(vaultBucket, prefix)}`);
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
  const batcher = new Batcher<ManifestEntry>(input.batchMaxObjects ?? 1000, input.batchMaxBytes ?? 1024 ** 3);

  const inspected = await inspectTarget(target, targetBucket);
  if (inspected.state === 'non-empty' && !overwrite) {
    throw new RestoreRefusedError(nonEmptyTargetMessage(targetBucket, inspected.objects, inspected.more));
  }

  if (!dryRun) await clearFolder(vault, vaultBucket, restoreBucketPrefix(restoreId, sourceBucket));
  const batchKeys: string[] = [];
  let objects = 0;
  let bytes = 0;
  const writeBatch = async (entries: ManifestEntry[] | undefined): Promise<void> => {
    if (!entries) return;
    const batchKey = restoreBatchKeyOf(restoreId, sourceBucket, batchKeys.length + 1);
    batchKeys.push(batchKey);
    if (!dryRun) await writeJsonLines(vault, vaultBucket, batchKey, entries);
  };
  for await (const entry of manifestEntries(vault, vaultBucket, manifestKey)) {
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
  };
}

/** The index items of one bucket's plan (pass them, for every bucket, to {@link writeRestoreBatchIndex}). */
export function restoreBatchItemsOf(plan: BucketRestorePlan): RestoreBatchItem[] {
  return plan.batchKeys.map((batchKey) => ({
    bucket: plan.sourceBucket,
    targetBucket: plan.targetBucket,
    batchKey,
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

/**
 * The end-of-stream check of a restored object: the bytes read from the vault version must have the
 * size and SHA-256 the manifest recorded. A mismatch means the vault copy is corrupt.
 */
export function checkRestoredBytes(
  where: string,
  entry: Pick<ManifestEntry, 'key' | 'size' | 'sha256' | 'versionId'>,
  digest: StreamDigest,
): VerificationFailedError | undefined {
  if (digest.bytes !== entry.size) {
    return new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}"): read ${digest.bytes} bytes, the manifest says ${entry.size} — the vault copy is corrupt or the connection was cut; retry, else restore this object from another backup`,
    );
  }
  if (digest.sha256 !== entry.sha256) {
    return new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}"): SHA-256 ${digest.sha256} differs from the manifest's ${entry.sha256} — the vault copy is corrupt; restore this object from another backup`,
    );
  }
  return undefined;
}

interface RestoreObjectOptions {
  readonly vault: S3Client;
  readonly vaultBucket: string;
  readonly target: TargetClient;
  readonly sourceBucket: string;
  readonly targetBucket: string;
  readonly multipartThresholdBytes: number;
  readonly partSizeBytes: number;
  readonly queueSize: number;
}

/** True for answers meaning "this version is not in the vault" (gone, a delete marker, or not an id). */
function isMissingVersion(error: unknown): boolean {
  if (isTransientError(error)) return false;
  const status = httpStatusOf(error);
  return isNotFoundError(error) || status === 400 || status === 405;
}

/** Restores one manifest entry: the vault version's bytes and headers, PUT under the original key. */
async function restoreObject(options: RestoreObjectOptions, entry: ManifestEntry): Promise<RestoredObject> {
  const { vault, vaultBucket, target, targetBucket } = options;
  const vaultKey = minioObjectKey(options.sourceBucket, entry.key);
  const where = s3Url(vaultBucket, vaultKey);
  let response: GetObjectCommandOutput;
  try {
    response = await vault.send(
      new GetObjectCommand({ Bucket: vaultBucket, Key: vaultKey, VersionId: entry.versionId }),
    );
  } catch (error) {
    if (isMissingVersion(error)) {
      throw new VerificationFailedError(
        `${where} version ${entry.versionId} (key "${entry.key}") is missing from the vault — this backup cannot restore it; restore this object from another backup`,
        { cause: error },
      );
    }
    throw toStorageError(error, `GetObject ${where} version ${entry.versionId}`);
  }
  const body = response.Body as Readable;
  if (response.ContentLength !== undefined && response.ContentLength !== entry.size) {
    body.destroy();
    throw new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}") has ${response.ContentLength} bytes, the manifest says ${entry.size} — the vault copy is corrupt; restore this object from another backup`,
    );
  }
  const digest = new DigestStream({
    md5: false,
    check: (result) => checkRestoredBytes(where, entry, result),
  });
  // Errors either side tear both streams down; the outcome is read from the upload.
  pipeline(body, digest).catch(() => {});
  const contentType = entry.contentType ?? response.ContentType;
  const upload = new Upload({
    client: target,
    partSize: partSizeFor(entry.size, options.multipartThresholdBytes, options.partSizeBytes),
    queueSize: options.queueSize,
    params: {
      Bucket: targetBucket,
      Key: entry.key,
      Body: digest,
      ContentLength: entry.size,
      ...(contentType ? { ContentType: contentType } : {}),
      // The backup kept these headers on the vault version; the manifest records only type and metadata.
      ...(response.ContentEncoding ? { ContentEncoding: response.ContentEncoding } : {}),
      ...(response.CacheControl ? { CacheControl: response.CacheControl } : {}),
      ...(response.ContentDisposition ? { ContentDisposition: response.ContentDisposition } : {}),
      ...(response.ContentLanguage ? { ContentLanguage: response.ContentLanguage } : {}),
      Metadata: entry.metadata,
    },
  });
  let written: { ETag?: string; VersionId?: string };
  try {
    written = await upload.done();
  } catch (error) {
    throw toStorageError(
      error,
      `restoring ${where} version ${entry.versionId} to ${s3Url(targetBucket, entry.key)}`,
    );
  } finally {
    body.destroy();
    digest.destroy();
  }
  return {
    key: entry.key,
    size: digest.digest().bytes,
    sha256: digest.digest().sha256,
    versionId: entry.versionId,
    targetEtag: normalizeEtag(written.ETag),
    ...(written.VersionId ? { targetVersionId: written.VersionId } : {}),
  };
}

/** The counts of a restored batch from its result lines. */
export function summarizeRestored(batchKey: string, lines: readonly RestoredObject[]): RestoreBatchResult {
  return {
    batchKey,
    restoredObjects: lines.length,
    restoredBytes: lines.reduce((sum, line) => sum + line.size, 0),
  };
}

/** True when a result file's lines cover exactly the batch's entries, in order. */
export function isCompleteResult(
  entries: readonly ManifestEntry[],
  lines: readonly RestoredObject[],
): boolean {
  return (
    lines.length === entries.length &&
    lines.every((line, i) => line.key === entries[i]?.key && line.versionId === entries[i]?.versionId)
  );
}

async function readResult(vault: S3Client, vaultBucket: string, resultKey: string) {
  const lines: RestoredObject[] = [];
  try {
    for await (const line of readJsonLines(vault, vaultBucket, resultKey, {
      parse: (value) => restoredObjectSchema.parse(value),
    })) {
      lines.push(line);
    }
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
  return lines;
}

/**
 * Restores every object of a batch file: GET the exact vault version (`minio/<sourceBucket>/<key>` +
 * its version id) → PUT to `targetBucket` under the original key, with the manifest's content type and
 * user metadata and the content encoding, cache control, disposition and language the vault version
 * kept; streamed (multipart above the threshold), SHA-256 computed on the way. A version that is
 * missing or whose size or SHA-256 differs from the manifest fails with `VerificationFailedError`
 * naming key and version, before its upload completes (nothing unverified is committed). Transient
 * failures throw `TransientStorageError`. Writes `…/batches/<n>.result.jsonl` last. Idempotent: a
 * batch whose complete result exists is not restored again; a retried partial batch writes its objects
 * again (same bytes and headers).
 */
export async function restoreBatch(input: RestoreBatchInput): Promise<RestoreBatchResult> {
  const { vault, vaultBucket, batchKey } = input;
  const options: RestoreObjectOptions = {
    vault,
    vaultBucket,
    target: input.target,
    sourceBucket: input.sourceBucket,
    targetBucket: input.targetBucket,
    multipartThresholdBytes: input.multipartThresholdBytes ?? 16 * MiB,
    partSizeBytes: input.partSizeBytes ?? 16 * MiB,
    queueSize: input.queueSize ?? 4,
  };
  const entries: ManifestEntry[] = [];
  try {
    for await (const entry of readJsonLines(vault, vaultBucket, batchKey, {
      parse: (value) => manifestEntrySchema.parse(value),
    })) {
      entries.push(entry);
    }
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new InvalidInputError(
        `restore batch ${s3Url(vaultBucket, batchKey)} does not exist — run planBucketRestore for this restore first`,
        { cause: error },
      );
    }
    throw error;
  }

  const resultKey = batchResultKeyOf(batchKey);
  const done = await readResult(vault, vaultBucket, resultKey);
  if (done && isCompleteResult(entries, done)) {
    input.logger?.info('batch already restored', { batchKey });
    return summarizeRestored(batchKey, done);
  }

  const started = Date.now();
  const lines = await mapConcurrent(entries, input.concurrency ?? 4, async (entry) => {
    const line = await restoreObject(options, entry);
    if (line.size > options.multipartThresholdBytes) {
      input.logger?.info('restored large object', {
        bucket: input.targetBucket,
        key: line.key,
        bytes: line.size,
      });
    }
    return line;
  });
  await writeJsonLines(vault, vaultBucket, resultKey, lines);
  const result = summarizeRestored(batchKey, lines);
  input.logger?.info('batch restored', { ...result, seconds: (Date.now() - started) / 1000 });
  return result;
}

/** One object of a target listing. */
export interface TargetObject {
  readonly key: string;
  readonly size: number;
}

/** How one key relates the manifest to the target listing. */
export type RestoreJoin =
  | { readonly kind: 'missing'; readonly entry: ManifestEntry }
  | { readonly kind: 'extra'; readonly object: TargetObject }
  | { readonly kind: 'both'; readonly entry: ManifestEntry; readonly object: TargetObject };

/**
 * Merge-joins manifest entries with a target listing, both in S3 key order: one item per key in
 * either. Throws `VerificationFailedError` if the listing is out of order (the join would be wrong).
 */
export async function* joinManifestWithTarget(
  entries: AsyncIterable<ManifestEntry>,
  listing: AsyncIterable<TargetObject>,
): AsyncGenerator<RestoreJoin> {
  const manifest = entries[Symbol.asyncIterator]();
  let lastListed: string | undefined;
  try {
    let pending = await manifest.next();
    for await (const object of listing) {
      if (lastListed !== undefined && compareKeys(lastListed, object.key) >= 0) {
        throw new VerificationFailedError(
          `the target listing is not in S3 key order ("${object.key}" after "${lastListed}") — report the MinIO version`,
        );
      }
      lastListed = object.key;
      while (!pending.done && compareKeys(pending.value.key, object.key) < 0) {
        yield { kind: 'missing', entry: pending.value };
        pending = await manifest.next();
      }
      if (!pending.done && pending.value.key === object.key) {
        yield { kind: 'both', entry: pending.value, object };
        pending = await manifest.next();
      } else {
        yield { kind: 'extra', object };
      }
    }
    for (; !pending.done; pending = await manifest.next()) yield { kind: 'missing', entry: pending.value };
  } finally {
    await manifest.return?.();
  }
}

/** What verification observed of one target object. */
export interface ObservedObject {
  readonly size: number;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** Present after a deep read. */
  readonly sha256?: string;
}

function lowercaseKeys(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * What differs between a manifest entry and the target object (empty when they agree): size, content
 * type (when the manifest recorded one), user metadata (keys compared lowercase), SHA-256 (when read).
 */
export function describeDifferences(entry: ManifestEntry, observed: ObservedObject): string[] {
  const problems: string[] = [];
  if (observed.size !== entry.size) problems.push(`size ${observed.size}, the manifest says ${entry.size}`);
  if (entry.contentType !== undefined && observed.contentType !== entry.contentType) {
    problems.push(
      `content type ${JSON.stringify(observed.contentType ?? null)}, the manifest says ${JSON.stringify(entry.contentType)}`,
    );
  }
  const want = lowercaseKeys(entry.metadata);
  const got = lowercaseKeys(observed.metadata);
  const names = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
  const differing = names.filter((name) => want[name] !== got[name]);
  if (differing.length > 0) {
    problems.push(
      `metadata ${JSON.stringify(Object.fromEntries(differing.map((n) => [n, got[n] ?? null])))}, the manifest says ${JSON.stringify(Object.fromEntries(differing.map((n) => [n, want[n] ?? null])))}`,
    );
  }
  if (observed.sha256 !== undefined && observed.sha256 !== entry.sha256) {
    problems.push(`SHA-256 ${observed.sha256}, the manifest says ${entry.sha256}`);
  }
  return problems;
}

async function* listTarget(
  target: Pick<S3Client, 'send'>,
  targetBucket: string,
): AsyncGenerator<TargetObject> {
  let continuationToken: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await target.send(
        new ListObjectsV2Command({
          Bucket: targetBucket,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
      );
    } catch (error) {
      if (isNotFoundError(error)) {
        throw new RestoreVerificationError(
          `target bucket ${targetBucket} does not exist — the restore did not run, or the bucket was deleted; run the restore again`,
          { cause: error },
        );
      }
      throw toStorageError(error, `ListObjectsV2 ${targetBucket}`);
    }
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0 };
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken);
}

/** HEADs (or, deep, reads and hashes) one target object; undefined when it is gone. */
async function observeTarget(
  target: Pick<S3Client, 'send'>,
  targetBucket: string,
  key: string,
  deep: boolean,
): Promise<ObservedObject | undefined> {
  try {
    if (!deep) {
      const head = await target.send(new HeadObjectCommand({ Bucket: targetBucket, Key: key }));
      return { size: head.ContentLength ?? 0, contentType: head.ContentType, metadata: head.Metadata ?? {} };
    }
    const response = await target.send(new GetObjectCommand({ Bucket: targetBucket, Key: key }));
    const digest = new DigestStream({ md5: false });
    const drain = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await pipeline(response.Body as Readable, digest, drain);
    const { bytes, sha256 } = digest.digest();
    return { size: bytes, contentType: response.ContentType, metadata: response.Metadata ?? {}, sha256 };
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw toStorageError(error, `${deep ? 'reading' : 'HeadObject'} ${s3Url(targetBucket, key)}`);
  }
}

/** The message of a failed restore verification: counts, then the first differences. */
export function verificationFailureMessage(result: BucketRestoreVerification, strict: boolean): string {
  const parts: string[] = [];
  const more = (count: number, shown: number): string => (count > shown ? `, and ${count - shown} more` : '');
  if (result.missingCount > 0) {
    parts.push(
      `${result.missingCount} missing (${result.missing.map((k) => JSON.stringify(k)).join(', ')}${more(result.missingCount, result.missing.length)})`,
    );
  }
  if (result.mismatchedCount > 0) {
    parts.push(
      `${result.mismatchedCount} different (${result.mismatched.map((m) => `${JSON.stringify(m.key)}: ${m.problems.join(', ')}`).join('; ')}${more(result.mismatchedCount, result.mismatched.length)})`,
    );
  }
  if (strict && result.extraCount > 0) {
    parts.push(
      `${result.extraCount} not in the backup (${result.extra.map((k) => JSON.stringify(k)).join(', ')}${more(result.extraCount, result.extra.length)})`,
    );
  }
  return `target bucket ${result.targetBucket}: ${parts.join('; ')} of ${result.objects} objects restored from ${result.manifestKey}${result.deep ? ' (deep)' : ''} — run the restore of this bucket again with overwrite; if it keeps failing, check the target MinIO`;
}

/**
 * Verifies a restored bucket against its manifest: lists the target (streamed, merge-joined with the
 * manifest in S3 key order) and checks every manifest key is present with the same size, content type
 * and user metadata (one HeadObject each); with `deep`, re-reads every object and compares its SHA-256.
 * Objects the manifest does not list are reported as `extra`, and are failures only with `strict`.
 * Throws {@link RestoreVerificationError} naming the first differences when anything is missing or
 * different; otherwise returns the result (lists hold up to 20 examples, counts cover all).
 */
export async function verifyBucketRestore(
  input: VerifyBucketRestoreInput,
): Promise<BucketRestoreVerification> {
  const { vault, vaultBucket, manifestKey, target, targetBucket, deep } = input;
  const sourceBucket = sourceBucketOf(manifestKey);
  const missing = new ExampleList<string>();
  const mismatched = new ExampleList<RestoreMismatch>();
  const extra = new ExampleList<string>();
  let objects = 0;
  let bytes = 0;

  async function* toCheck(): AsyncGenerator<{ entry: ManifestEntry; object: TargetObject }> {
    const joined = joinManifestWithTarget(
      manifestEntries(vault, vaultBucket, manifestKey),
      listTarget(target, targetBucket),
    );
    for await (const item of joined) {
      if (item.kind === 'extra') {
        extra.add(item.object.key);
        continue;
      }
      objects += 1;
      bytes += item.entry.size;
      if (item.kind === 'missing') missing.add(item.entry.key);
      else yield item;
    }
  }
  await forEachConcurrent(toCheck(), input.concurrency ?? (deep ? 4 : 16), async ({ entry, object }) => {
    if (!deep && object.size !== entry.size) {
      mismatched.add({ key: entry.key, problems: [`size ${object.size}, the manifest says ${entry.size}`] });
      return;
    }
    const observed = await observeTarget(target, targetBucket, entry.key, deep);
    if (!observed) {
      missing.add(entry.key);
      return;
    }
    const problems = describeDifferences(entry, observed);
    if (problems.length > 0) mismatched.add({ key: entry.key, problems });
  });

  const result: BucketRestoreVerification = {
    sourceBucket,
    targetBucket,
    manifestKey,
    objects,
    bytes,
    deep,
    missing: missing.examples.sort(compareKeys),
    missingCount: missing.count,
    // Checks finish out of order; sorted examples read better (with more than 20, which 20 may vary).
    mismatched: mismatched.examples.sort((a, b) => compareKeys(a.key, b.key)),
    mismatchedCount: mismatched.count,
    extra: extra.examples,
    extraCount: extra.count,
  };
  const strict = input.strict ?? false;
  if (result.missingCount > 0 || result.mismatchedCount > 0 || (strict && result.extraCount > 0)) {
    throw new RestoreVerificationError(verificationFailureMessage(result, strict));
  }
  return result;
}
