import {
  HeadBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { BucketBackupPlan, PlanPartItem } from './contract/backup.js';
import {
  BackupNotFoundError,
  BucketNotFoundError,
  TransientStorageError,
  VerificationFailedError,
} from './errors.js';
import { readJson, readJsonLines, writeJson, writeJsonLines } from './manifest-io.js';
import { describeEndpoint, httpStatusOf, isNotFoundError, toStorageError } from './minio-errors.js';
import {
  type BatchEntry,
  batchResultLineSchema,
  compareKeys,
  type FailedObject,
  isCopied,
  type KeyRange,
  type ManifestEntry,
  manifestEntrySchema,
  normalizeEtag,
  type PlannedPart,
  type PlanParts,
  type PlanRecord,
  partOfRecord,
  partRange,
  planPartsSchema,
  planRecordSchema,
  withinRange,
} from './minio-layout.js';
import { Batcher } from './object-transfer.js';
import { clearVaultFolder, readJsonLinesOrUndefined } from './vault-io.js';
import {
  batchKeyOf,
  batchPrefixOf,
  batchResultKeyOf,
  carriedKeyOf,
  minioBatchesKey,
  type PlanPart,
  parseManifestKey,
  partWorkPrefix,
  planKeyOf,
  planPartsKey,
  unreadableKeysKeyOf,
  wholeBucket,
} from './vault-layout.js';

/**
 * Plans the backup of one MinIO bucket: lists the source, diffs it against the previous bucket manifest
 * and writes the work for the Distributed Map (batch files) plus the unchanged entries (carried file).
 *
 * Memory: the listing and the previous manifest are both in S3 key order, so the diff is a streaming
 * merge-join: at most one listing page (1,000 objects), one batch and one decoded manifest chunk are
 * held, whatever the bucket size (10 M objects plan in the same memory as 10). Holding the previous
 * manifest as a Map instead would cost about 445 MB of heap per million objects (measured on Node 22
 * with 35-character keys, ETag, version id and SHA-256 per entry), which caps a 10 GB Lambda near 20 M
 * objects. Time is one ListObjectsV2 page per 1,000 objects plus one pass over the previous manifest.
 */

/** What planning needs from the source client. */
export type SourceLister = Pick<S3Client, 'send' | 'config'>;

/** Input of {@link planBucketBackup}. */
export interface PlanBucketBackupInput {
  /** Client of the source MinIO. */
  readonly source: SourceLister;
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly sourceBucket: string;
  readonly vaultBucket: string;
  readonly backupId: string;
  /** Bucket manifest of the previous complete backup that included this bucket; absent = copy all. */
  readonly previousManifestKey?: string;
  /** Most objects per batch file. @default 1000 */
  readonly batchMaxObjects?: number;
  /** Most bytes per batch file (an object larger than this gets a batch of its own). @default 1 GiB */
  readonly batchMaxBytes?: number;
  /** Interrupted backups this plan may resume from, newest first (`BackupPlan.minio.resumeCandidates`). */
  readonly resumeCandidates?: readonly string[];
  /** Told why an interrupted run's copies could not all be carried (those objects are copied again). */
  readonly onResumeProblem?: (message: string) => void;
  /** The part of the bucket to plan and its key range (see "Parts"). @default the whole bucket */
  readonly part?: PlannedPart;
}

/** Outcome of {@link planBucketBackup} (also stored as `plan.json`): the contract's schema. */
export type { BucketBackupPlan } from './contract/backup.js';

/** One object of a source listing. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: string;
}

/** How one listed object relates to the previous manifest. */
export type DiffDecision =
  | { readonly kind: 'copy'; readonly object: ListedObject }
  | { readonly kind: 'carry'; readonly entry: ManifestEntry }
  | { readonly kind: 'deleted'; readonly entry: ManifestEntry };

/** An ISO timestamp cut to whole seconds (NaN when it does not parse). */
function toSecond(timestamp: string): number {
  return Math.floor(Date.parse(timestamp) / 1000);
}

/**
 * True when a listed object is the one the previous manifest recorded: same key, size, source ETag
 * and last-modified second. (ETags change with content; a multipart ETag also changes with the part
 * layout, which at worst causes one unnecessary copy. Rewriting the same bytes with other metadata or
 * content type keeps the ETag but not LastModified. The comparison is by second because listings give
 * milliseconds and the GET header the manifest records gives seconds.)
 */
export function isUnchanged(object: ListedObject, previous: ManifestEntry): boolean {
  return (
    object.key === previous.key &&
    object.size === previous.size &&
    normalizeEtag(object.etag) === normalizeEtag(previous.etag) &&
    toSecond(object.lastModified) === toSecond(previous.lastModified)
  );
}

function assertAscending(what: string, previousKey: string | undefined, key: string): void {
  if (previousKey !== undefined && compareKeys(previousKey, key) >= 0) {
    throw new VerificationFailedError(
      `${what} is not in S3 key order ("${key}" after "${previousKey}") — the incremental diff needs ordered lists; if this is a MinIO listing, report the MinIO version`,
    );
  }
}

/**
 * Merge-joins a listing with the previous manifest, both in S3 key order, yielding one decision per
 * listed object and one `deleted` per previous entry no longer listed. Throws
 * {@link VerificationFailedError} if either input is out of order (the join would be wrong).
 */
export async function* diffAgainstPrevious(
  listing: AsyncIterable<ListedObject>,
  previous: AsyncIterable<ManifestEntry>,
): AsyncGenerator<DiffDecision> {
  const previousIterator = previous[Symbol.asyncIterator]();
  let lastPreviousKey: string | undefined;
  const nextPrevious = async (): Promise<ManifestEntry | undefined> => {
    const step = await previousIterator.next();
    if (step.done) return undefined;
    assertAscending('the previous manifest', lastPreviousKey, step.value.key);
    lastPreviousKey = step.value.key;
    return step.value;
  };
  let pending = await nextPrevious();
  let lastListedKey: string | undefined;
  try {
    for await (const object of listing) {
      assertAscending('the source listing', lastListedKey, object.key);
      lastListedKey = object.key;
      while (pending && compareKeys(pending.key, object.key) < 0) {
        yield { kind: 'deleted', entry: pending };
        pending = await nextPrevious();
      }
      if (pending && pending.key === object.key) {
        yield isUnchanged(object, pending) ? { kind: 'carry', entry: pending } : { kind: 'copy', object };
        pending = await nextPrevious();
      } else {
        yield { kind: 'copy', object };
      }
    }
    while (pending) {
      yield { kind: 'deleted', entry: pending };
      pending = await nextPrevious();
    }
  } finally {
    await previousIterator.return?.();
  }
}

/**
 * Resuming. A full backup of a big bucket may not fit one execution (a timeout, an abort, a vault
 * outage past the retries). What its finished copy batches wrote is not thrown away: every copied
 * object is a verified vault version, named with its source ETag, size and last-modified time in the
 * batch's result file. The next backup's plan of the bucket takes the newest interrupted run that
 * planned it (`resumeCandidates`: failed or abandoned, newer than the newest complete backup that
 * copied MinIO, and younger than the purge's grace period, so no purge can have deleted its
 * versions), reads that run's carried file and its batches' result files (each in S3 key order,
 * batch after batch) and offers those entries to the diff ahead of the previous manifest's: an object
 * still listed with the same ETag, size and last-modified second is carried, not copied again. So a
 * run that stops at 60 % leaves only the other 40 % to the next. The resumed entries come from our own
 * files; one that does not parse or is out of order ends the resume there (its objects are copied
 * again), never the backup.
 */

/** The plan of part `part` of `bucket` in `backupId`, or undefined where it has none. */
async function readPlanRecordOrUndefined(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  bucket: string,
  part: PlanPart,
): Promise<PlanRecord | undefined> {
  try {
    return await readJson(vault, vaultBucket, planKeyOf(backupId, bucket, part), (value) =>
      planRecordSchema.parse(value),
    );
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
}

/**
 * A run's plans of one bucket, in part (so key) order: `plans[i]` is part i + 1's, undefined where that
 * part was not planned. Undefined when the run planned none of the bucket: neither `plan.json` nor,
 * planned in parts, the first part's (which says how many parts there are).
 */
export async function readBucketPlans(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  bucket: string,
): Promise<(PlanRecord | undefined)[] | undefined> {
  const read = (part: PlanPart) => readPlanRecordOrUndefined(vault, vaultBucket, backupId, bucket, part);
  const whole = await read(wholeBucket);
  if (whole) return [whole];
  // Part 1's folder is the same whatever the number of parts above 1.
  const first = await read({ part: 1, parts: 2 });
  const parts = first?.parts;
  if (!first || parts === undefined || parts < 2) return undefined;
  const plans: (PlanRecord | undefined)[] = [first];
  for (let part = 2; part <= parts; part++) plans.push(await read({ part, parts }));
  return plans;
}

/** An interrupted run's plans of one bucket: one per part it planned, in part (so key) order. */
interface ResumeSource {
  readonly backupId: string;
  readonly plans: readonly PlanRecord[];
}

/**
 * The newest candidate run that planned `bucket` (its `plan.json`, or the first part's when it planned
 * the bucket in parts), with the plans of every part it finished, or undefined.
 */
async function resumeSourceOf(
  vault: S3Client,
  vaultBucket: string,
  bucket: string,
  candidates: readonly string[],
  onProblem: (message: string) => void,
): Promise<ResumeSource | undefined> {
  for (const backupId of candidates) {
    try {
      // A part it did not plan is left out (its objects are copied again).
      const plans = await readBucketPlans(vault, vaultBucket, backupId, bucket);
      if (plans) return { backupId, plans: plans.filter((plan) => plan !== undefined) };
    } catch (error) {
      if (error instanceof VerificationFailedError) {
        onProblem(`interrupted backup ${backupId} is not resumed for bucket ${bucket}: ${error.message}`);
        continue;
      }
      throw error;
    }
  }
  return undefined;
}

/** True when two key ranges can share a key. */
function rangesOverlap(a: PlannedPart, b: PlannedPart): boolean {
  if (a.upTo !== undefined && b.after !== undefined && compareKeys(a.upTo, b.after) <= 0) return false;
  if (b.upTo !== undefined && a.after !== undefined && compareKeys(b.upTo, a.after) <= 0) return false;
  return true;
}

/** The objects an interrupted run had copied by the end of each finished batch of one part, in S3 key order. */
async function* copiedByRun(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  bucket: string,
  plan: PlanRecord,
): AsyncGenerator<ManifestEntry> {
  const part = partOfRecord(plan);
  for (let n = 1; n <= plan.batches; n++) {
    const lines = await readJsonLinesOrUndefined(
      vault,
      vaultBucket,
      batchResultKeyOf(batchKeyOf(backupId, bucket, n, part)),
      (value) => batchResultLineSchema.parse(value),
    );
    for (const line of lines ?? []) if (isCopied(line)) yield line;
  }
}

/**
 * Merges two streams in S3 key order; on a key in both, the `first` stream's entry wins. An entry out of
 * order in its stream is dropped (the diff then copies that object, or carries the other stream's).
 */
export async function* preferFirst<T extends { readonly key: string }>(
  first: AsyncIterable<T>,
  second: AsyncIterable<T>,
  onDropped: (entry: T) => void = () => {},
): AsyncGenerator<T> {
  async function* ascending(stream: AsyncIterable<T>): AsyncGenerator<T> {
    let last: string | undefined;
    for await (const entry of stream) {
      if (last !== undefined && compareKeys(last, entry.key) >= 0) {
        onDropped(entry);
        continue;
      }
      last = entry.key;
      yield entry;
    }
  }
  const a = ascending(first);
  const b = ascending(second);
  try {
    let x = await a.next();
    let y = await b.next();
    while (!x.done && !y.done) {
      const order = compareKeys(x.value.key, y.value.key);
      if (order <= 0) {
        yield x.value;
        if (order === 0) y = await b.next();
        x = await a.next();
      } else {
        yield y.value;
        y = await b.next();
      }
    }
    for (; !x.done; x = await a.next()) yield x.value;
    for (; !y.done; y = await b.next()) yield y.value;
  } finally {
    await a.return(undefined);
    await b.return(undefined);
  }
}

/**
 * What an interrupted run holds of a bucket (of the parts of it that overlap `range`): each part's
 * carried entries and its finished batches' copies, in key order, part after part. A problem reading
 * them (other than a transient one, which the state retries) ends the stream there and is reported to
 * `onProblem`.
 */
async function* interruptedRunEntries(
  vault: S3Client,
  vaultBucket: string,
  source: ResumeSource,
  bucket: string,
  range: PlannedPart,
  copied: WeakSet<ManifestEntry>,
  onProblem: (message: string) => void,
): AsyncGenerator<ManifestEntry> {
  const { backupId } = source;
  let dropped = 0;
  try {
    for (const plan of source.plans) {
      const part = partOfRecord(plan);
      if (!rangesOverlap(part, range)) continue;
      const carried = readJsonLines(vault, vaultBucket, carriedKeyOf(backupId, bucket, part), {
        parse: (value) => manifestEntrySchema.parse(value),
      });
      async function* copiedEntries(): AsyncGenerator<ManifestEntry> {
        for await (const entry of copiedByRun(vault, vaultBucket, backupId, bucket, plan)) {
          copied.add(entry);
          yield entry;
        }
      }
      yield* preferFirst(copiedEntries(), carried, () => {
        dropped += 1;
      });
    }
  } catch (error) {
    if (error instanceof TransientStorageError) throw error;
    onProblem(
      `resuming from interrupted backup ${backupId}: its files of bucket ${bucket} could not all be read (${error instanceof Error ? error.message : String(error)}); the objects after that point are copied again`,
    );
  }
  if (dropped > 0) {
    onProblem(
      `resuming from interrupted backup ${backupId}: ${dropped} entr${dropped === 1 ? 'y' : 'ies'} of bucket ${bucket} out of key order were ignored (those objects are copied again)`,
    );
  }
}

async function headSourceBucket(source: SourceLister, bucket: string): Promise<void> {
  try {
    await source.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = httpStatusOf(error);
    if (isNotFoundError(error)) {
      throw new BucketNotFoundError(
        `source bucket "${bucket}" does not exist at ${await describeEndpoint(source)} — create it in MinIO or remove it from minio.buckets in the configuration`,
        { cause: error },
      );
    }
    if (status === 403) {
      throw new BucketNotFoundError(
        `source bucket "${bucket}" at ${await describeEndpoint(source)} is not readable with the configured credentials — grant them s3:ListBucket and s3:GetObject on it`,
        { cause: error },
      );
    }
    throw toStorageError(error, `HeadBucket ${bucket} at ${await describeEndpoint(source)}`);
  }
}

/** A listed key that is not valid UTF-8: shown URL-encoded, since it has no text form. */
export interface UnreadableKey {
  /** The key as the listing sent it (`encoding-type=url`: `%FF` for a byte that is not UTF-8). */
  readonly shown: string;
  readonly size: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a key of a listing requested with `encoding-type=url` (`+` is a space, `%XX` a byte) and
 * checks its bytes are UTF-8. Returns the key, or undefined when its bytes are not valid UTF-8: S3
 * keys are UTF-8, but a listing can name one that is not (written around an S3 API, or by an older
 * server), and its text form (with U+FFFD in place of the bad bytes) would name another object.
 */
export function decodeListedKey(encoded: string): string | undefined {
  try {
    return strictUtf8.decode(listedKeyBytes(encoded));
  } catch {
    return undefined;
  }
}

/**
 * The bytes of a key of a listing requested with `encoding-type=url` (`+` is a space, `%XX` a byte).
 * The text between escapes is encoded a run at a time, never a UTF-16 unit at a time (which turns a
 * character outside the BMP into two U+FFFD); a key with no escape, the common case, is one `Buffer.from`.
 */
function listedKeyBytes(encoded: string): Uint8Array {
  if (!encoded.includes('%') && !encoded.includes('+')) return Buffer.from(encoded, 'utf8');
  const pieces: Buffer[] = [];
  let text = 0;
  for (const found of encoded.matchAll(/\+|%[0-9a-fA-F]{2}/g)) {
    const byte = found[0] === '+' ? 0x20 : Number.parseInt(found[0].slice(1), 16);
    pieces.push(Buffer.from(encoded.slice(text, found.index), 'utf8'), Buffer.of(byte));
    text = found.index + found[0].length;
  }
  pieces.push(Buffer.from(encoded.slice(text), 'utf8'));
  return Buffer.concat(pieces);
}

/**
 * Lists a bucket page by page (1,000 keys each), in S3 key order. Keys are requested URL-encoded so
 * that a key whose bytes are not UTF-8 is recognised: it is passed to `onUnreadable` (never yielded,
 * never silently dropped), because no request could name it. With a `range`, the listing starts after
 * `range.after` (`StartAfter`: nothing before it is listed) and stops at the first key past `range.upTo`.
 */
export async function* listSourceObjects(
  source: SourceLister,
  bucket: string,
  onUnreadable: (key: UnreadableKey) => void = () => {},
  range: KeyRange = {},
): AsyncGenerator<ListedObject> {
  const upToBytes = range.upTo === undefined ? undefined : Buffer.from(range.upTo, 'utf8');
  let continuationToken: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await source.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: 1000,
          EncodingType: 'url',
          ...(continuationToken
            ? { ContinuationToken: continuationToken }
            : range.after !== undefined
              ? { StartAfter: range.after }
              : {}),
        }),
      );
    } catch (error) {
      throw toStorageError(error, `ListObjectsV2 ${bucket}`);
    }
    // A server that ignores encoding-type answers without it; its keys are then plain text.
    const encoded = page.EncodingType === 'url';
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      const key = encoded ? decodeListedKey(object.Key) : object.Key;
      if (key === undefined) {
        // Not text, but still in byte order: past the range's end it belongs to the next part.
        if (upToBytes && Buffer.compare(listedKeyBytes(object.Key), upToBytes) > 0) return;
        onUnreadable({ shown: object.Key, size: object.Size ?? 0 });
        continue;
      }
      // Past `upTo` the part ends; a key up to `after` comes only from a server that ignores StartAfter.
      if (range.upTo !== undefined && compareKeys(key, range.upTo) > 0) return;
      if (range.after !== undefined && compareKeys(key, range.after) <= 0) continue;
      yield {
        key,
        size: object.Size ?? 0,
        etag: normalizeEtag(object.ETag),
        lastModified: (object.LastModified ?? new Date(0)).toISOString(),
      };
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken);
}

/** A manifest line before the part's range: skipped without validating it. */
const beforeRange = Symbol('before the range');

/**
 * The previous manifest's entries in `range`. A part after the first reads the manifest from its start
 * (a gzip stream has no index) but validates only its own entries: the ones before are skipped on their
 * key alone, and the read stops at the first entry past the range.
 */
async function* previousEntries(
  vault: S3Client,
  vaultBucket: string,
  previousManifestKey: string | undefined,
  range: KeyRange = {},
): AsyncGenerator<ManifestEntry> {
  if (!previousManifestKey) return;
  const manifestKey = previousManifestKey;
  const { after } = range;
  const parse = (value: unknown): ManifestEntry | typeof beforeRange => {
    if (after !== undefined && typeof value === 'object' && value !== null && 'key' in value) {
      const { key } = value;
      if (typeof key === 'string' && compareKeys(key, after) <= 0) return beforeRange;
    }
    return manifestEntrySchema.parse(value);
  };
  async function* entries(): AsyncGenerator<ManifestEntry> {
    for await (const line of readJsonLines(vault, vaultBucket, manifestKey, { parse })) {
      if (line !== beforeRange) yield line;
    }
  }
  try {
    yield* withinRange(entries(), range);
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new BackupNotFoundError(
        `previous bucket manifest s3://${vaultBucket}/${previousManifestKey} does not exist — pass previousManifestKey only for a bucket the previous complete backup included`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Plans the backup of one source bucket, or of one part of it (see the module comment and "Parts").
 * Writes `backups/<id>/minio/<bucket>/batches/<n>.jsonl` (objects to copy), `…/carried.jsonl.gz`
 * (unchanged entries with their vault version ids) and, last, `…/plan.json` (a part: the same under
 * `…/parts/<part>/`). Idempotent: a retry first removes what an earlier attempt wrote.
 */
export async function planBucketBackup(input: PlanBucketBackupInput): Promise<BucketBackupPlan> {
  const { source, vault, sourceBucket, vaultBucket, backupId, previousManifestKey } = input;
  const onResumeProblem = input.onResumeProblem ?? (() => {});
  const part: PlannedPart = input.part ?? wholeBucket;
  const batcher = new Batcher<BatchEntry>(input.batchMaxObjects ?? 1000, input.batchMaxBytes ?? 1024 ** 3);
  await headSourceBucket(source, sourceBucket);
  // A retry must not leave the batches of an earlier attempt behind.
  await clearVaultFolder(vault, vaultBucket, partWorkPrefix(backupId, sourceBucket, part));

  const counts = {
    batches: 0,
    toCopyObjects: 0,
    toCopyBytes: 0,
    carriedObjects: 0,
    carriedBytes: 0,
    deletedObjects: 0,
    unreadableKeys: 0,
    resumedObjects: 0,
    resumedBytes: 0,
  };
  const resumeSource = await resumeSourceOf(
    vault,
    vaultBucket,
    sourceBucket,
    input.resumeCandidates ?? [],
    onResumeProblem,
  );
  // Entries the interrupted run copied (not those it carried itself): counted as resumed when carried.
  const resumedCopies = new WeakSet<ManifestEntry>();
  const previous = resumeSource
    ? withinRange(
        preferFirst(
          interruptedRunEntries(
            vault,
            vaultBucket,
            resumeSource,
            sourceBucket,
            part,
            resumedCopies,
            onResumeProblem,
          ),
          previousEntries(vault, vaultBucket, previousManifestKey, part),
        ),
        part,
      )
    : previousEntries(vault, vaultBucket, previousManifestKey, part);
  const unreadable: FailedObject[] = [];
  const writeBatch = async (entries: BatchEntry[] | undefined): Promise<void> => {
    if (!entries) return;
    counts.batches += 1;
    await writeJsonLines(
      vault,
      vaultBucket,
      batchKeyOf(backupId, sourceBucket, counts.batches, part),
      entries,
    );
  };
  // The carried file is written while the diff runs: its writer pulls carried entries from this
  // generator, which writes each batch file as it fills.
  async function* carried(): AsyncGenerator<ManifestEntry> {
    const decisions = diffAgainstPrevious(
      listSourceObjects(
        source,
        sourceBucket,
        ({ shown, size }) => {
          counts.unreadableKeys += 1;
          unreadable.push({
            bucket: sourceBucket,
            key: shown,
            error: 'InvalidObjectKey',
            cause: `the listing names a key (shown URL-encoded) whose bytes are not valid UTF-8 (${size} bytes): no S3 request can name it, so it cannot be copied — rename the object on the source (e.g. with a tool that addresses it by its raw bytes) or remove it`,
          });
        },
        part,
      ),
      previous,
    );
    for await (const decision of decisions) {
      if (decision.kind === 'carry') {
        counts.carriedObjects += 1;
        counts.carriedBytes += decision.entry.size;
        if (resumedCopies.has(decision.entry)) {
          counts.resumedObjects += 1;
          counts.resumedBytes += decision.entry.size;
        }
        yield decision.entry;
      } else if (decision.kind === 'deleted') {
        // An object the interrupted run copied and the source has deleted since was in no backup.
        if (!resumedCopies.has(decision.entry)) counts.deletedObjects += 1;
      } else {
        counts.toCopyObjects += 1;
        counts.toCopyBytes += decision.object.size;
        await writeBatch(batcher.add({ ...decision.object }));
      }
    }
    await writeBatch(batcher.flush());
  }
  await writeJsonLines(vault, vaultBucket, carriedKeyOf(backupId, sourceBucket, part), carried(), {
    gzip: true,
  });
  // Rare, and each is named in the failure: held in memory, written only when there are any.
  if (unreadable.length > 0) {
    await writeJsonLines(vault, vaultBucket, unreadableKeysKeyOf(backupId, sourceBucket, part), unreadable);
  }

  const plan: BucketBackupPlan = {
    bucket: sourceBucket,
    part: part.part,
    parts: part.parts,
    batchPrefix: batchPrefixOf(backupId, sourceBucket, part),
    ...counts,
    resumedFrom: resumeSource?.backupId ?? null,
  };
  // The part (number, count and key range) is recorded for a resume and for Finalize.
  const record: PlanRecord = {
    backupId,
    ...plan,
    ...part,
    ...(previousManifestKey ? { previousManifestKey } : {}),
  };
  await writeJson(vault, vaultBucket, planKeyOf(backupId, sourceBucket, part), record);
  return plan;
}

/**
 * Parts. One Plan MinIO invocation lists and diffs a bucket at about 81 s per million objects
 * (`docs/COST-MODEL.md`), so a bucket of 10 M would take most of a 900 s invocation, and a larger one
 * would not fit. A bucket is therefore planned in parts, each a key range planned by its own invocation
 * of the Plan MinIO Map, all at once. The ranges come from the previous backup: Finalize MinIO records
 * every `minio.planPartObjects`th key of the bucket manifest it writes (`<bucket>.parts.json`), so the
 * next backup splits the bucket into ranges of about that many objects without a listing of its own.
 * Each part lists from its lower bound (`StartAfter`) to its upper bound, diffs against its slice of
 * the previous manifest (read from the start, skipping what is before the slice on the key alone, and
 * stopping after it) and writes its own batch, carried and plan files under `parts/<part>/`. Finalize
 * MinIO reads the parts in order: they are consecutive key ranges, so their files concatenate into one
 * stream in S3 key order, and the bucket keeps one manifest, as before. A bucket without a previous
 * manifest (its first backup) or without a parts file (one written before parts existed) is planned
 * whole, in one invocation.
 */

/** The Plan MinIO Map's items: every bucket, in as many parts as its previous backup's parts file says. */
export async function planPartItems(
  vault: S3Client,
  vaultBucket: string,
  buckets: readonly string[],
  previousManifestKeys: Readonly<Record<string, string>>,
  onProblem: (message: string) => void = () => {},
): Promise<PlanPartItem[]> {
  const items: PlanPartItem[] = [];
  for (const bucket of buckets) {
    const manifestKey = previousManifestKeys[bucket];
    const parts = manifestKey ? await partsOf(vault, vaultBucket, bucket, manifestKey, onProblem) : undefined;
    const count = parts ? parts.boundaries.length + 1 : 1;
    for (let part = 1; part <= count; part++) items.push({ bucket, part, parts: count });
  }
  return items;
}

/** The parts file written with `manifestKey`, or undefined (none, or one that cannot be used: told to `onProblem`). */
async function partsOf(
  vault: S3Client,
  vaultBucket: string,
  bucket: string,
  manifestKey: string,
  onProblem: (message: string) => void,
): Promise<PlanParts | undefined> {
  const backupId = parseManifestKey(manifestKey)?.backupId;
  if (!backupId) return undefined;
  const key = planPartsKey(backupId, bucket);
  let parts: PlanParts;
  try {
    parts = await readJson(vault, vaultBucket, key, (value) => planPartsSchema.parse(value));
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    if (error instanceof VerificationFailedError) {
      onProblem(`bucket ${bucket} is planned whole: ${error.message}`);
      return undefined;
    }
    throw error;
  }
  if (parts.manifestKey !== manifestKey || parts.bucket !== bucket) {
    onProblem(
      `bucket ${bucket} is planned whole: s3://${vaultBucket}/${key} describes ${parts.manifestKey}, not ${manifestKey}`,
    );
    return undefined;
  }
  return parts;
}

/**
 * The key range of part `part` of `parts` of a bucket, from the parts file written with its previous
 * manifest (the one Prepare counted the parts from). Fails with {@link VerificationFailedError} if that
 * file is gone or no longer has that many parts: the plan would miss or repeat keys.
 */
export async function plannedPartOf(
  vault: S3Client,
  vaultBucket: string,
  input: {
    readonly bucket: string;
    readonly part: number;
    readonly parts: number;
    readonly previousManifestKey?: string;
  },
): Promise<PlannedPart> {
  const { bucket, part, parts } = input;
  if (parts === 1) return wholeBucket;
  const fail = (why: string): never => {
    throw new VerificationFailedError(
      `bucket ${bucket}, part ${part} of ${parts}: ${why} — Prepare split the bucket from it; run the backup again (it is split afresh)`,
    );
  };
  if (!input.previousManifestKey)
    return fail('there is no previous manifest of the bucket, so no parts file');
  let problem: string | undefined;
  const found = await partsOf(vault, vaultBucket, bucket, input.previousManifestKey, (message) => {
    problem = message;
  });
  if (!found) return fail(problem ?? `the parts file written with ${input.previousManifestKey} is missing`);
  if (found.boundaries.length + 1 !== parts) {
    return fail(
      `the parts file written with ${input.previousManifestKey} now has ${found.boundaries.length + 1} parts`,
    );
  }
  return { part, parts, ...partRange(found.boundaries, part) };
}

/** One batch file, as the copy Distributed Map reads it from the batches index. */
export interface BatchIndexItem {
  readonly bucket: string;
  readonly batchKey: string;
}

/** The batches index's lines: every batch file of every bucket, buckets in the order given. */
export function* batchIndexItems(
  backupId: string,
  plans: readonly Pick<BucketBackupPlan, 'bucket' | 'batches' | 'part' | 'parts'>[],
): Generator<BatchIndexItem> {
  for (const { bucket, batches, part, parts } of plans) {
    for (let n = 1; n <= batches; n++)
      yield { bucket, batchKey: batchKeyOf(backupId, bucket, n, { part, parts }) };
  }
}

/**
 * Writes `backups/<id>/minio/batches.jsonl`, the copy Distributed Map's items, from the buckets' plans
 * (each planned by its own invocation): the batch keys follow from each plan's count, so nothing is
 * read back. Its size is one short line per batch (1,000 objects), about 10 MB at 100 M objects.
 */
export async function writeBatchIndex(
  vault: S3Client,
  vaultBucket: string,
  backupId: string,
  plans: readonly Pick<BucketBackupPlan, 'bucket' | 'batches' | 'part' | 'parts'>[],
): Promise<{ batchesKey: string; batches: number }> {
  const batchesKey = minioBatchesKey(backupId);
  let batches = 0;
  const items = function* () {
    for (const item of batchIndexItems(backupId, plans)) {
      batches += 1;
      yield item;
    }
  };
  await writeJsonLines(vault, vaultBucket, batchesKey, items(), { gzip: false });
  return { batchesKey, batches };
}
