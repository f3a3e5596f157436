import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { RestoreVerificationError, VerificationFailedError } from './errors.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import {
  type ContentHeaders,
  compareKeys,
  contentHeadersSchema,
  type ManifestEntry,
} from './minio-layout.js';
import { contentHeadersOf } from './object-transfer.js';
import { manifestEntries, sourceBucketOf } from './restore-minio-plan.js';
import { DigestStream, forEachConcurrent } from './streams.js';
import { s3Url } from './vault-io.js';

/**
 * Verifies a restored MinIO bucket against its manifest (the last step of a MinIO restore, see
 * `restore-minio-plan.ts`). Memory: the manifest and the target listing are read as streams in S3 key
 * order and merge-joined; verification holds one listing page plus the objects in flight.
 */

/** Most differences named in a verification result or error (the counts cover all). */
export const maxExamples = 20;

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
  /** Content encoding, disposition, language, cache control, expiry. */
  readonly headers?: ContentHeaders;
  readonly metadata: Readonly<Record<string, string>>;
  /** Present when the manifest entry records tags. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Present after a deep read. */
  readonly sha256?: string;
}

function lowercaseKeys(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * What differs between a manifest entry and the target object (empty when they agree): size, content
 * type (when the manifest recorded one), the other content headers and tags (when the manifest recorded
 * them: layout 2), user metadata (keys compared lowercase), SHA-256 (when read).
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
  if (entry.headers !== undefined) {
    const got: ContentHeaders = observed.headers ?? {};
    for (const name of Object.keys(contentHeadersSchema.shape) as (keyof ContentHeaders)[]) {
      const want = entry.headers[name];
      const have = got[name];
      const same =
        name === 'expires' && want !== undefined && have !== undefined
          ? Date.parse(want) === Date.parse(have)
          : want === have;
      if (!same) {
        problems.push(
          `${name} ${JSON.stringify(have ?? null)}, the manifest says ${JSON.stringify(want ?? null)}`,
        );
      }
    }
  }
  if (entry.tags !== undefined) {
    const want = entry.tags;
    const got = observed.tags ?? {};
    const names = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
    if (names.some((n) => want[n] !== got[n])) {
      problems.push(`tags ${JSON.stringify(got)}, the manifest says ${JSON.stringify(want)}`);
    }
  }
  if (observed.sha256 !== undefined && observed.sha256 !== entry.sha256) {
    problems.push(`SHA-256 ${observed.sha256}, the manifest says ${entry.sha256}`);
  }
  return problems;
}

/** Lists a target bucket, in S3 key order (a missing bucket is `RestoreVerificationError`). */
export async function* listTargetObjects(
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

/**
 * HEADs (or, deep, reads and hashes) one target object, and reads its tags when `withTags`; undefined
 * when it is gone.
 */
async function observeTarget(
  target: Pick<S3Client, 'send'>,
  targetBucket: string,
  key: string,
  deep: boolean,
  withTags: boolean,
): Promise<ObservedObject | undefined> {
  try {
    const tags = async (): Promise<Record<string, string> | undefined> => {
      if (!withTags) return undefined;
      const tagging = await target.send(new GetObjectTaggingCommand({ Bucket: targetBucket, Key: key }));
      return Object.fromEntries((tagging.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    };
    if (!deep) {
      const head = await target.send(new HeadObjectCommand({ Bucket: targetBucket, Key: key }));
      return {
        size: head.ContentLength ?? 0,
        contentType: head.ContentType,
        headers: contentHeadersOf(head),
        metadata: head.Metadata ?? {},
        ...(withTags ? { tags: await tags() } : {}),
      };
    }
    const response = await target.send(new GetObjectCommand({ Bucket: targetBucket, Key: key }));
    const digest = new DigestStream({ md5: false });
    const drain = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await pipeline(response.Body as Readable, digest, drain);
    const { bytes, sha256 } = digest.digest();
    return {
      size: bytes,
      contentType: response.ContentType,
      headers: contentHeadersOf(response),
      metadata: response.Metadata ?? {},
      sha256,
      ...(withTags ? { tags: await tags() } : {}),
    };
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
      listTargetObjects(target, targetBucket),
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
    const observed = await observeTarget(target, targetBucket, entry.key, deep, entry.tags !== undefined);
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
