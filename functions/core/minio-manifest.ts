import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BucketFinalized, BucketResult } from './contract/backup.js';
import { InvalidInputError, ObjectsNotCopiedError, VerificationFailedError } from './errors.js';
import { readJsonLines, writeJson, writeJsonLines } from './manifest-io.js';
import { httpStatusOf, isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import {
  type BatchResultLine,
  batchEntrySchema,
  batchResultLineSchema,
  compareKeys,
  type FailedLine,
  type FailedObject,
  failedObjectSchema,
  isFailed,
  isVanished,
  type ManifestEntry,
  manifestEntrySchema,
  type PlanParts,
  type PlanRecord,
  partOfRecord,
} from './minio-layout.js';
import { readBucketPlans } from './minio-plan.js';
import { forEachConcurrent } from './streams.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  bucketManifestKey,
  carriedKeyOf,
  failedObjectsKeyOf,
  minioEntryVaultKey,
  parseManifestKey,
  planKeyOf,
  planPartsKey,
  unreadableKeysKeyOf,
} from './vault-layout.js';
import { isInSample, type VerifySample } from './verify-sample.js';

/**
 * Bucket manifests: built from the carried entries and the batch results once every batch has run.
 * Everything streams in S3 key order; memory is one batch's results at a time. Verification while
 * finalizing is a rotating sample of the carried entries ({@link VerifySample}); what the run wrote was
 * checked by the copy batches; {@link verifyBucketManifest} checks a whole manifest (deep: re-reads it).
 */

/** Input of {@link finalizeBucketManifest}. */
export interface FinalizeBucketManifestInput {
  readonly vault: S3Client;
  readonly vaultBucket: string;
  readonly backupId: string;
  /** The source bucket. */
  readonly bucket: string;
  /** Which carried entries to re-check against the vault (HEAD with version id). @default none */
  readonly sample?: VerifySample;
  /** Sampled entries checked at the same time. @default 16 */
  readonly concurrency?: number;
  /**
   * Records every this-many-th manifest key in `<bucket>.parts.json`, where the next backup splits its
   * plan of the bucket (`minio-plan.ts`, "Parts"). @default no parts file (the next plan is whole)
   */
  readonly planPartObjects?: number;
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
  /** Of the carried objects, those an interrupted backup copied (this run resumed its copy). */
  readonly resumed?: { readonly from: string; readonly objects: number };
  /** Carried objects re-checked against the vault by this run's rotating sample. */
  readonly sampledObjects: number;
  /** Objects deleted from the source between listing and copy (not in the backup): the first few, and how many. */
  readonly vanished: { readonly count: number; readonly keys: string[] };
  /** Objects that could not be copied: the first {@link maxNamedObjects}, how many, and the full list's key. */
  readonly failed: { readonly count: number; readonly objects: FailedObject[]; readonly listKey?: string };
}

/** Most objects named in a summary or failure message (the count covers all; the vault file lists all). */
export const maxNamedObjects = 10;

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

/**
 * The plans of a bucket, one per part in part order (one for a bucket planned whole). Every part must
 * have finished: a missing one would leave its keys out of the manifest.
 */
async function readPlans(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  bucket: string,
): Promise<PlanRecord[]> {
  const plans = await readBucketPlans(vault, vaultBucket, backupId, bucket);
  if (!plans) {
    const key = planKeyOf(backupId, bucket);
    throw new VerificationFailedError(
      `bucket ${bucket}: plan s3://${vaultBucket}/${key} is missing — planBucketBackup did not complete for backup ${backupId}`,
    );
  }
  return plans.map((plan, i) => {
    if (plan) return plan;
    const part = { part: i + 1, parts: plans.length };
    throw new VerificationFailedError(
      `bucket ${bucket}: plan s3://${vaultBucket}/${planKeyOf(backupId, bucket, part)} of part ${part.part} of ${part.parts} is missing — that part was not planned for backup ${backupId}`,
    );
  });
}

/** One batch's results, reconciled with its plan. */
export interface ReconciledBatch {
  /** Copied entries, in S3 key order. */
  readonly copied: ManifestEntry[];
  /** Planned keys deleted from the source before they could be read. */
  readonly vanished: string[];
  /** Planned keys that could not be copied, with the cause. */
  readonly failed: FailedLine[];
}

/**
 * Checks one batch's results against its plan: every planned key has exactly one result line (a copied
 * entry, `vanished` or `failed`), and no result names an unplanned key.
 */
export function reconcileBatch(
  batchKey: string,
  plannedKeys: readonly string[],
  results: readonly BatchResultLine[],
): ReconciledBatch {
  const byKey = new Map<string, BatchResultLine>();
  for (const line of results) {
    if (byKey.has(line.key)) {
      throw new VerificationFailedError(`${batchKey}: result names "${line.key}" twice — rerun the batch`);
    }
    byKey.set(line.key, line);
  }
  const copied: ManifestEntry[] = [];
  const vanished: string[] = [];
  const failed: FailedLine[] = [];
  for (const key of plannedKeys) {
    const line = byKey.get(key);
    if (!line) {
      throw new VerificationFailedError(
        `${batchKey}: planned object "${key}" has no copy result — rerun the batch (its result file is incomplete)`,
      );
    }
    byKey.delete(key);
    if (isVanished(line)) vanished.push(key);
    else if (isFailed(line)) failed.push(line);
    else copied.push(line);
  }
  const [unplanned] = byKey.keys();
  if (unplanned !== undefined) {
    throw new VerificationFailedError(
      `${batchKey}: result names "${unplanned}", which the batch did not plan`,
    );
  }
  return { copied: copied.sort((a, b) => compareKeys(a.key, b.key)), vanished, failed };
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
  const plans = await readPlans(vault, vaultBucket, backupId, bucket);
  const counts = {
    objects: 0,
    bytes: 0,
    copiedObjects: 0,
    copiedBytes: 0,
    carriedObjects: 0,
    sampledObjects: 0,
  };
  const checks = new BoundedChecks(input.concurrency ?? 16);
  const problems: string[] = [];
  let problemCount = 0;

  // The parts are consecutive key ranges: their carried files, one after another, are in key order.
  async function* carried(): AsyncGenerator<ManifestEntry> {
    for (const plan of plans) {
      const part = partOfRecord(plan);
      let partCarried = 0;
      for await (const entry of readJsonLines(vault, vaultBucket, carriedKeyOf(backupId, bucket, part), {
        parse: (value) => manifestEntrySchema.parse(value),
      })) {
        partCarried += 1;
        counts.carriedObjects += 1;
        if (input.sample && isInSample(entry, input.sample)) {
          counts.sampledObjects += 1;
          await checks.add(async () => {
            const problem = await checkEntry(vault, vaultBucket, bucket, entry, false);
            if (problem) {
              problemCount += 1;
              if (problems.length < maxNamedFailures) problems.push(problem);
            }
          });
        }
        yield entry;
      }
      if (partCarried !== plan.carriedObjects) {
        const which = part.parts > 1 ? ` (part ${part.part} of ${part.parts})` : '';
        throw new VerificationFailedError(
          `bucket ${bucket}${which}: carried file has ${partCarried} entries, the plan recorded ${plan.carriedObjects} — rerun the backup`,
        );
      }
    }
  }
  const vanished: string[] = [];
  let vanishedCount = 0;
  const failed: FailedObject[] = [];
  async function* copied(): AsyncGenerator<ManifestEntry> {
    for (const plan of plans) {
      for (let n = 1; n <= plan.batches; n++) {
        const batchKey = batchKeyOf(backupId, bucket, n, partOfRecord(plan));
        const plannedKeys: string[] = [];
        for await (const entry of readJsonLines(vault, vaultBucket, batchKey, {
          parse: (value) => batchEntrySchema.parse(value),
        })) {
          plannedKeys.push(entry.key);
        }
        const batch = reconcileBatch(
          batchKey,
          plannedKeys,
          await readBatchResults(vault, vaultBucket, batchKey),
        );
        for (const key of batch.vanished) {
          vanishedCount += 1;
          if (vanished.length < maxNamedObjects) vanished.push(key);
        }
        // Failures are few by nature (each is an object an operator must look at): all are kept, and listed.
        for (const line of batch.failed)
          failed.push({ bucket, key: line.key, error: line.error, cause: line.cause });
        for (const entry of batch.copied) {
          counts.copiedObjects += 1;
          counts.copiedBytes += entry.size;
          yield entry;
        }
      }
    }
  }
  // Every planPartObjects-th key: where the next backup splits its plan of the bucket.
  const boundaries: string[] = [];
  let lastKey: string | undefined;
  async function* counted(): AsyncGenerator<ManifestEntry> {
    for await (const entry of mergeManifestEntries(carried(), copied())) {
      counts.objects += 1;
      counts.bytes += entry.size;
      lastKey = entry.key;
      if (input.planPartObjects && counts.objects % input.planPartObjects === 0) boundaries.push(entry.key);
      yield entry;
    }
  }

  const manifestKey = bucketManifestKey(backupId, bucket);
  await writeJsonLines(vault, vaultBucket, manifestKey, counted(), { gzip: true });
  await checks.drain();
  if (input.planPartObjects) {
    // A boundary at the very last key would only add an empty last part.
    if (boundaries.length > 0 && boundaries[boundaries.length - 1] === lastKey) boundaries.pop();
    const parts: PlanParts = {
      bucket,
      manifestKey,
      everyObjects: input.planPartObjects,
      objects: counts.objects,
      boundaries,
    };
    await writeJson(vault, vaultBucket, planPartsKey(backupId, bucket), parts);
  }
  if (problemCount > 0) {
    const more = problemCount > problems.length ? `; and ${problemCount - problems.length} more` : '';
    throw new VerificationFailedError(
      `bucket ${bucket}: ${problemCount} of ${counts.sampledObjects} sampled carried objects failed verification: ${problems.join('; ')}${more} — the backup cannot restore them. Objects an earlier backup copied are referenced, not copied again: run a full backup ({"full": true}) to copy them afresh`,
    );
  }
  for (const plan of plans) {
    if (!plan.unreadableKeys) continue;
    for await (const line of readJsonLines(
      vault,
      vaultBucket,
      unreadableKeysKeyOf(backupId, bucket, partOfRecord(plan)),
      { parse: (value) => failedObjectSchema.parse(value) },
    )) {
      failed.push(line);
    }
  }
  const resumedFrom = plans.find((p) => p.resumedFrom)?.resumedFrom;
  const resumedObjects = plans.reduce((sum, p) => sum + (p.resumedObjects ?? 0), 0);
  let listKey: string | undefined;
  if (failed.length > 0) {
    listKey = failedObjectsKeyOf(backupId, bucket);
    await writeJsonLines(vault, vaultBucket, listKey, failed);
  }
  return {
    bucket,
    manifestKey,
    ...counts,
    ...(resumedFrom ? { resumed: { from: resumedFrom, objects: resumedObjects } } : {}),
    vanished: { count: vanishedCount, keys: vanished },
    failed: {
      count: failed.length,
      objects: failed.slice(0, maxNamedObjects),
      ...(listKey ? { listKey } : {}),
    },
  };
}

/**
 * The message of a backup that could not copy some objects: each named (bucket, key, cause) up to
 * {@link maxNamedObjects} in all, then how many more and where the full lists are.
 */
export function objectsNotCopiedMessage(
  vaultBucket: string,
  buckets: readonly Pick<BucketManifestSummary, 'bucket' | 'failed'>[],
): string {
  const total = buckets.reduce((sum, b) => sum + b.failed.count, 0);
  const named = buckets.flatMap((b) => b.failed.objects).slice(0, maxNamedObjects);
  const lines = named.map((o) => `${o.bucket}/${JSON.stringify(o.key)}: ${o.cause}`);
  const lists = buckets.filter((b) => b.failed.listKey).map((b) => `s3://${vaultBucket}/${b.failed.listKey}`);
  const more = total > named.length ? `; and ${total - named.length} more` : '';
  return `${total} object${total === 1 ? '' : 's'} could not be copied, so this run is not a backup: ${lines.join('; ')}${more} — full list: ${lists.join(', ')}. Fix or remove these objects on the source, then run the backup again`;
}

/**
 * Gathers the buckets' Finalize MinIO results (one invocation each) into the MinIO branch's result.
 * If any bucket has objects that could not be copied, fails with {@link ObjectsNotCopiedError} naming
 * the first {@link maxNamedObjects} (read from the buckets' `failed-objects.jsonl`, since the results
 * carry only counts), the total and every list's key: after every bucket was finalized, so one message
 * covers them all.
 */
export async function checkMinioCopies(
  vault: S3Client,
  vaultBucket: string,
  buckets: readonly BucketFinalized[],
): Promise<{ buckets: BucketResult[] }> {
  const failing = buckets.filter((b) => b.failed.count > 0);
  if (failing.length > 0) {
    let named = 0;
    const withNames: Pick<BucketManifestSummary, 'bucket' | 'failed'>[] = [];
    for (const b of failing) {
      const objects: FailedObject[] = [];
      if (b.failed.listKey && named < maxNamedObjects) {
        for await (const line of readJsonLines(vault, vaultBucket, b.failed.listKey, {
          parse: (value) => failedObjectSchema.parse(value),
        })) {
          objects.push(line);
          named += 1;
          if (named >= maxNamedObjects) break;
        }
      }
      withNames.push({
        bucket: b.bucket,
        failed: {
          count: b.failed.count,
          objects,
          ...(b.failed.listKey ? { listKey: b.failed.listKey } : {}),
        },
      });
    }
    throw new ObjectsNotCopiedError(objectsNotCopiedMessage(vaultBucket, withNames));
  }
  return { buckets: buckets.map(({ failed: _failed, ...result }) => result) };
}

/**
 * Runs checks a few at a time alongside a stream: `add` waits while `limit` are in flight (so the
 * stream never runs ahead of its checks), `drain` waits for the rest and rethrows the first error.
 */
class BoundedChecks {
  private readonly running = new Set<Promise<void>>();
  private error: unknown;

  constructor(private readonly limit: number) {}

  async add(check: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.error !== undefined) throw this.error;
    const task: Promise<void> = check()
      .catch((error: unknown) => {
        this.error ??= error;
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.error !== undefined) throw this.error;
  }
}

/** Checks one manifest entry against its vault version; returns what is wrong, or undefined. */
async function checkEntry(
  vault: Pick<S3Client, 'send'>,
  vaultBucket: string,
  bucket: string,
  entry: ManifestEntry,
  deep: boolean,
): Promise<string | undefined> {
  const key = minioEntryVaultKey(bucket, entry);
  const named = `${key} (key ${JSON.stringify(entry.key)})`;
  const target = { Bucket: vaultBucket, Key: key, VersionId: entry.versionId };
  const missing = (error: unknown): string | undefined => {
    if (isTransientError(error)) return undefined;
    const status = httpStatusOf(error);
    // 400: not a version id of this bucket; 405: the version is a delete marker.
    if (isNotFoundError(error) || status === 400 || status === 405) {
      return `${named} version ${entry.versionId} is missing from the vault`;
    }
    return undefined;
  };
  try {
    if (!deep) {
      const head = await vault.send(new HeadObjectCommand(target));
      if (head.ContentLength !== entry.size) {
        return `${named} version ${entry.versionId} has ${head.ContentLength} bytes, the manifest says ${entry.size}`;
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
      return `${named} version ${entry.versionId} has ${bytes} bytes, the manifest says ${entry.size}`;
    if (sha256 !== entry.sha256) {
      return `${named} version ${entry.versionId} has SHA-256 ${sha256}, the manifest says ${entry.sha256}`;
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
