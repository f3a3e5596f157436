import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError, VerificationFailedError } from './errors.js';
import { readJson, readJsonLines, writeJsonLines } from './manifest-io.js';
import { httpStatusOf, isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import {
  type BatchResultLine,
  batchEntrySchema,
  batchResultLineSchema,
  compareKeys,
  isVanished,
  type ManifestEntry,
  manifestEntrySchema,
  type PlanRecord,
  planRecordSchema,
} from './minio-layout.js';
import { forEachConcurrent } from './streams.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  bucketManifestKey,
  carriedKeyOf,
  minioObjectKey,
  parseManifestKey,
  planKeyOf,
} from './vault-layout.js';

/**
 * Bucket manifests: built from the carried entries and the batch results once every batch has run,
 * and verified against the vault object versions they reference. Everything streams in S3 key order;
 * memory is one batch's results at a time.
 */

/** Input of {@link finalizeBucketManifest}. */
export interface FinalizeBucketManifestInput {
  readonly vault: S3Client;
  readonly vaultBucket: string;
  readonly backupId: string;
  /** The source bucket. */
  readonly bucket: string;
}

/** Outcome of {@link finalizeBucketManifest}. */
export interface BucketManifestSummary {
  readonly bucket: string;
  readonly manifestKey: string;
  /** Objects in the manifest (present in the source at backup time). */
  readonly objects: number;
  readonly bytes: number;
  readonly copiedObjects: number;
  readonly copiedBytes: number;
  readonly carriedObjects: number;
}

/** Input of {@link verifyBucketManifest}. */
export interface VerifyBucketManifestInput {
  readonly vault: Pick<S3Client, 'send'>;
  readonly vaultBucket: string;
  /** `backups/<id>/minio/<bucket>.manifest.jsonl.gz`. */
  readonly manifestKey: string;
  /** Also re-read every object version and compare its SHA-256. */
  readonly deep: boolean;
  /** Objects checked at the same time. @default 16 (HEAD), 4 (deep) */
  readonly concurrency?: number;
}

/** Outcome of {@link verifyBucketManifest}. */
export interface BucketManifestVerification {
  readonly bucket: string;
  readonly manifestKey: string;
  readonly objects: number;
  readonly bytes: number;
  readonly deep: boolean;
}

/** Most failures named in one verification error (the count covers all). */
const maxNamedFailures = 20;

async function readPlan(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  bucket: string,
): Promise<PlanRecord> {
  const key = planKeyOf(backupId, bucket);
  try {
    return await readJson(vault, vaultBucket, key, (value) => planRecordSchema.parse(value));
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new VerificationFailedError(
        `bucket ${bucket}: plan s3://${vaultBucket}/${key} is missing — planBucketBackup did not complete for backup ${backupId}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Checks one batch's results against its plan: every planned key has exactly one result line (a copied
 * entry or `vanished`), and no result names an unplanned key. Returns the copied entries in S3 key order.
 */
export function reconcileBatch(
  batchKey: string,
  plannedKeys: readonly string[],
  results: readonly BatchResultLine[],
): ManifestEntry[] {
  const byKey = new Map<string, BatchResultLine>();
  for (const line of results) {
    if (byKey.has(line.key)) {
      throw new VerificationFailedError(`${batchKey}: result names "${line.key}" twice — rerun the batch`);
    }
    byKey.set(line.key, line);
  }
  const copied: ManifestEntry[] = [];
  for (const key of plannedKeys) {
    const line = byKey.get(key);
    if (!line) {
      throw new VerificationFailedError(
        `${batchKey}: planned object "${key}" has no copy result — rerun the batch (its result file is incomplete)`,
      );
    }
    byKey.delete(key);
    if (!isVanished(line)) copied.push(line);
  }
  const [unplanned] = byKey.keys();
  if (unplanned !== undefined) {
    throw new VerificationFailedError(
      `${batchKey}: result names "${unplanned}", which the batch did not plan`,
    );
  }
  return copied.sort((a, b) => compareKeys(a.key, b.key));
}

async function readBatchResults(
  vault: S3Client,
  vaultBucket: string,
  batchKey: string,
): Promise<BatchResultLine[]> {
  const resultKey = batchResultKeyOf(batchKey);
  const lines: BatchResultLine[] = [];
  try {
    for await (const line of readJsonLines(vault, vaultBucket, resultKey, {
      parse: (value) => batchResultLineSchema.parse(value),
    })) {
      lines.push(line);
    }
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new VerificationFailedError(
        `batch ${batchKey} has no result file (${resultKey}) — the batch was never copied; rerun the backup`,
        { cause: error },
      );
    }
    throw error;
  }
  return lines;
}

/**
 * Merges two streams of manifest entries, each in S3 key order, into one. Throws
 * {@link VerificationFailedError} if an input is out of order or a key appears in both.
 */
export async function* mergeManifestEntries(
  left: AsyncIterable<ManifestEntry>,
  right: AsyncIterable<ManifestEntry>,
): AsyncGenerator<ManifestEntry> {
  const a = left[Symbol.asyncIterator]();
  const b = right[Symbol.asyncIterator]();
  let lastKey: string | undefined;
  const emit = (entry: ManifestEntry): ManifestEntry => {
    if (lastKey !== undefined) {
      const order = compareKeys(lastKey, entry.key);
      if (order === 0) throw new VerificationFailedError(`"${entry.key}" is both carried and copied`);
      if (order > 0) {
        throw new VerificationFailedError(
          `entries are out of S3 key order ("${entry.key}" after "${lastKey}")`,
        );
      }
    }
    lastKey = entry.key;
    return entry;
  };
  try {
    let x = await a.next();
    let y = await b.next();
    while (!x.done && !y.done) {
      if (compareKeys(x.value.key, y.value.key) <= 0) {
        yield emit(x.value);
        x = await a.next();
      } else {
        yield emit(y.value);
        y = await b.next();
      }
    }
    for (; !x.done; x = await a.next()) yield emit(x.value);
    for (; !y.done; y = await b.next()) yield emit(y.value);
  } finally {
    await a.return?.();
    await b.return?.();
  }
}

/**
 * Builds `backups/<id>/minio/<bucket>.manifest.jsonl.gz`: the carried entries merged with every batch's
 * copied entries, in S3 key order. Fails with {@link VerificationFailedError} naming the batch or key if
 * a batch has no result file or a planned key has neither a result nor `vanished`.
 */
export async function finalizeBucketManifest(
  input: FinalizeBucketManifestInput,
): Promise<BucketManifestSummary> {
  const { vault, vaultBucket, backupId, bucket } = input;
  const plan = await readPlan(vault, vaultBucket, backupId, bucket);
  const counts = { objects: 0, bytes: 0, copiedObjects: 0, copiedBytes: 0, carriedObjects: 0 };

  async function* carried(): AsyncGenerator<ManifestEntry> {
    for await (const entry of readJsonLines(vault, vaultBucket, carriedKeyOf(backupId, bucket), {
      parse: (value) => manifestEntrySchema.parse(value),
    })) {
      counts.carriedObjects += 1;
      yield entry;
    }
    if (counts.carriedObjects !== plan.carriedObjects) {
      throw new VerificationFailedError(
        `bucket ${bucket}: carried file has ${counts.carriedObjects} entries, the plan recorded ${plan.carriedObjects} — rerun the backup`,
      );
    }
  }
  async function* copied(): AsyncGenerator<ManifestEntry> {
    for (let n = 1; n <= plan.batches; n++) {
      const batchKey = batchKeyOf(backupId, bucket, n);
      const plannedKeys: string[] = [];
      for await (const entry of readJsonLines(vault, vaultBucket, batchKey, {
        parse: (value) => batchEntrySchema.parse(value),
      })) {
        plannedKeys.push(entry.key);
      }
      for (const entry of reconcileBatch(
        batchKey,
        plannedKeys,
        await readBatchResults(vault, vaultBucket, batchKey),
      )) {
        counts.copiedObjects += 1;
        counts.copiedBytes += entry.size;
        yield entry;
      }
    }
  }
  async function* counted(): AsyncGenerator<ManifestEntry> {
    for await (const entry of mergeManifestEntries(carried(), copied())) {
      counts.objects += 1;
      counts.bytes += entry.size;
      yield entry;
    }
  }

  const manifestKey = bucketManifestKey(backupId, bucket);
  await writeJsonLines(vault, vaultBucket, manifestKey, counted(), { gzip: true });
  return { bucket, manifestKey, ...counts };
}

/** Checks one manifest entry against its vault version; returns what is wrong, or undefined. */
async function checkEntry(
  vault: Pick<S3Client, 'send'>,
  vaultBucket: string,
  bucket: string,
  entry: ManifestEntry,
  deep: boolean,
): Promise<string | undefined> {
  const key = minioObjectKey(bucket, entry.key);
  const target = { Bucket: vaultBucket, Key: key, VersionId: entry.versionId };
  const missing = (error: unknown): string | undefined => {
    if (isTransientError(error)) return undefined;
    const status = httpStatusOf(error);
    // 400: not a version id of this bucket; 405: the version is a delete marker.
    if (isNotFoundError(error) || status === 400 || status === 405) {
      return `${key} version ${entry.versionId} is missing from the vault`;
    }
    return undefined;
  };
  try {
    if (!deep) {
      const head = await vault.send(new HeadObjectCommand(target));
      if (head.ContentLength !== entry.size) {
        return `${key} version ${entry.versionId} has ${head.ContentLength} bytes, the manifest says ${entry.size}`;
      }
      return undefined;
    }
    const response = await vault.send(new GetObjectCommand(target));
    const body = response.Body as Readable;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
    } finally {
      body.destroy();
    }
    const sha256 = hash.digest('hex');
    if (bytes !== entry.size)
      return `${key} version ${entry.versionId} has ${bytes} bytes, the manifest says ${entry.size}`;
    if (sha256 !== entry.sha256) {
      return `${key} version ${entry.versionId} has SHA-256 ${sha256}, the manifest says ${entry.sha256}`;
    }
    return undefined;
  } catch (error) {
    const problem = missing(error);
    if (problem) return problem;
    throw toStorageError(error, `verifying s3://${vaultBucket}/${key} version ${entry.versionId}`);
  }
}

/**
 * Verifies a bucket manifest against the vault: every entry's object version exists with the recorded
 * size (HeadObject with VersionId); with `deep`, every version is re-read and its SHA-256 compared.
 * Fails with {@link VerificationFailedError} naming the failing keys (up to 20, with the total count).
 */
export async function verifyBucketManifest(
  input: VerifyBucketManifestInput,
): Promise<BucketManifestVerification> {
  const { vault, vaultBucket, manifestKey, deep } = input;
  const parsed = parseManifestKey(manifestKey);
  if (!parsed) {
    throw new InvalidInputError(
      `"${manifestKey}" is not a bucket manifest key — expected backups/<backupId>/minio/<bucket>.manifest.jsonl.gz`,
    );
  }
  const { bucket } = parsed;
  let objects = 0;
  let bytes = 0;
  const failures: string[] = [];
  let failureCount = 0;
  const entries = readJsonLines(vault, vaultBucket, manifestKey, {
    parse: (value) => manifestEntrySchema.parse(value),
  });
  await forEachConcurrent(entries, input.concurrency ?? (deep ? 4 : 16), async (entry) => {
    const problem = await checkEntry(vault, vaultBucket, bucket, entry, deep);
    objects += 1;
    bytes += entry.size;
    if (problem) {
      failureCount += 1;
      if (failures.length < maxNamedFailures) failures.push(problem);
    }
  });
  if (failureCount > 0) {
    const more = failureCount > failures.length ? `; and ${failureCount - failures.length} more` : '';
    throw new VerificationFailedError(
      `bucket ${bucket}: ${failureCount} of ${objects} objects failed ${deep ? 'deep ' : ''}verification against ${manifestKey}: ${failures.join('; ')}${more} — the backup cannot restore them; run a new backup`,
    );
  }
  return { bucket, manifestKey, objects, bytes, deep };
}
