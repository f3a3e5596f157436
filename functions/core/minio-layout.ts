import { z } from 'zod';
import type { PlanPart } from './vault-layout.js';

/**
 * The shapes of the lines of a MinIO bucket backup's working files and manifests, and the S3 key
 * order they are kept in. Where those files are in the vault is `vault-layout.ts`:
 *
 * ```
 * plan.json                one PlanRecord
 * batches/00001.jsonl      BatchEntry per line
 * batches/00001.result.jsonl  BatchResultLine per line
 * carried.jsonl.gz, <bucket>.manifest.jsonl.gz  ManifestEntry per line
 * parts/0002/plan.json, …/batches/, …/carried.jsonl.gz   the same per part of a bucket planned in parts
 * <bucket>.parts.json      PlanParts: every Nth key of the manifest (where the next plan splits)
 * ```
 * Every list is in S3 key order (see {@link compareKeys}), so manifests are diffed and merged as
 * streams.
 */

/** An S3 ETag without its quotes (S3 returns `"…"`; manifests keep the bare value). */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"+|"+$/g, '');
}

/** True when an ETag is a plain MD5 of the content (a single PUT, no multipart `-<parts>` suffix). */
export function isPlainMd5Etag(etag: string): boolean {
  return /^[0-9a-f]{32}$/i.test(normalizeEtag(etag));
}

/**
 * Orders keys as S3 lists them: by UTF-8 bytes, which is Unicode code point order. JavaScript's `<`
 * compares UTF-16 code units and disagrees for characters above U+FFFF versus U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (a.codePointAt(i) ?? x) - (b.codePointAt(i) ?? y);
  }
  return a.length - b.length;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

/** One object to copy (a line of a batch file). */
export const batchEntrySchema = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  etag: z.string(),
  lastModified: z.string(),
});
/** One object to copy. */
export type BatchEntry = z.infer<typeof batchEntrySchema>;

/**
 * The content headers an object carries besides its type, as a GET returns them and a PUT sets them
 * (`expires` as the HTTP date the source sent).
 */
export const contentHeadersSchema = z.object({
  contentEncoding: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentLanguage: z.string().optional(),
  cacheControl: z.string().optional(),
  expires: z.string().optional(),
});
/** The content headers an object carries besides its type. */
export type ContentHeaders = z.infer<typeof contentHeadersSchema>;

/** One object of a bucket manifest: what was in the source and which vault version holds it. */
export const manifestEntrySchema = z.object({
  key: z.string().min(1),
  /**
   * Vault key of the bytes (layout 2, `vault-layout.ts` `minioObjectKey`). Absent in manifests written
   * by layout 1, whose bytes are at `minio/<bucket>/<key>` (`minioEntryVaultKey` reads both).
   */
  vaultKey: z.string().min(1).optional(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  /** Source ETag (no quotes), compared by the next backup to detect changes. */
  etag: z.string(),
  /** Vault version id of the vault key. */
  versionId: z.string().min(1),
  /** The source's version id of the copied (current) version, when the source bucket is versioned. */
  sourceVersionId: z.string().optional(),
  contentType: z.string().optional(),
  /**
   * Content encoding, disposition, language, cache control and expiry. Absent in layout-1 manifests,
   * whose vault versions carry them (a restore then takes them from the vault version).
   */
  headers: contentHeadersSchema.optional(),
  /** User metadata (`x-amz-meta-*`), keys lowercase. */
  metadata: z.record(z.string(), z.string()),
  /** Object tags (absent: none, or a layout-1 manifest, which did not record them). */
  tags: z.record(z.string(), z.string()).optional(),
  lastModified: z.string(),
});
/** One object of a bucket manifest. */
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

/** A planned object that was deleted from the source before its batch ran. */
export const vanishedLineSchema = z.object({ key: z.string().min(1), vanished: z.literal(true) });
/** A planned object that was deleted before its batch ran. */
export type VanishedLine = z.infer<typeof vanishedLineSchema>;

/** A planned object that could not be copied: why, in words a person can act on. */
export const failedLineSchema = z.object({
  key: z.string().min(1),
  failed: z.literal(true),
  /** Error name (`AccessDenied`, `VerificationFailedError`, …). */
  error: z.string(),
  cause: z.string(),
});
/** A planned object that could not be copied. */
export type FailedLine = z.infer<typeof failedLineSchema>;

/** An object a backup could not copy, as `failed-objects.jsonl` and the failure message name it. */
export const failedObjectSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  error: z.string(),
  cause: z.string(),
});
/** An object a backup could not copy. */
export type FailedObject = z.infer<typeof failedObjectSchema>;

/** A line of a batch result file: a copied object, a vanished one or a failed one. */
export const batchResultLineSchema = z.union([vanishedLineSchema, failedLineSchema, manifestEntrySchema]);
/** A line of a batch result file. */
export type BatchResultLine = ManifestEntry | VanishedLine | FailedLine;

/** True when a result line records a vanished object. */
export function isVanished(line: BatchResultLine): line is VanishedLine {
  return 'vanished' in line && line.vanished === true;
}

/** True when a result line records an object that could not be copied. */
export function isFailed(line: BatchResultLine): line is FailedLine {
  return 'failed' in line && line.failed === true;
}

/** True when a result line is a copied object's manifest entry. */
export function isCopied(line: BatchResultLine): line is ManifestEntry {
  return !isVanished(line) && !isFailed(line);
}

/** What `plan.json` holds. */
export const planRecordSchema = z.object({
  backupId: z.string(),
  bucket: z.string(),
  batchPrefix: z.string(),
  batches: z.number().int().nonnegative(),
  toCopyObjects: z.number().int().nonnegative(),
  toCopyBytes: z.number().int().nonnegative(),
  carriedObjects: z.number().int().nonnegative(),
  carriedBytes: z.number().int().nonnegative(),
  deletedObjects: z.number().int().nonnegative(),
  /** Listed keys that are not valid UTF-8 (named in `unreadable-keys.jsonl`; absent in older plans). */
  unreadableKeys: z.number().int().nonnegative().optional(),
  previousManifestKey: z.string().optional(),
  /** Of the carried objects, those copied by the interrupted backup `resumedFrom` (absent in older plans). */
  resumedObjects: z.number().int().nonnegative().optional(),
  resumedBytes: z.number().int().nonnegative().optional(),
  resumedFrom: z.string().nullable().optional(),
  /** Which part of the bucket this plan covers (absent in older plans: the whole bucket). */
  part: z.number().int().positive().optional(),
  parts: z.number().int().positive().optional(),
  /** The part's keys are after `after` (absent: from the first) and up to `upTo` included (absent: to the last). */
  after: z.string().optional(),
  upTo: z.string().optional(),
});
/** What `plan.json` holds. */
export type PlanRecord = z.infer<typeof planRecordSchema>;

/** A range of keys in S3 order: after `after` (excluded) up to `upTo` (included); an absent bound is open. */
export interface KeyRange {
  readonly after?: string;
  readonly upTo?: string;
}

/** A part of a bucket's plan (`minio-plan.ts`, "Parts") with its key range. */
export interface PlannedPart extends PlanPart, KeyRange {}

/** The part a plan record covers, with its key range (a record without one: the whole bucket). */
export function partOfRecord(plan: PlanRecord): PlannedPart {
  return {
    part: plan.part ?? 1,
    parts: plan.parts ?? 1,
    ...(plan.after === undefined ? {} : { after: plan.after }),
    ...(plan.upTo === undefined ? {} : { upTo: plan.upTo }),
  };
}

/**
 * What `<bucket>.parts.json` holds (`vault-layout.ts` `planPartsKey`): the key of every `everyObjects`th
 * entry of the bucket manifest written with it, in S3 key order. The next backup plans the bucket in
 * `boundaries.length + 1` parts: part 1 up to `boundaries[0]` included, part i after `boundaries[i-2]` up
 * to `boundaries[i-1]`, the last after the last boundary.
 */
export const planPartsSchema = z
  .object({
    bucket: z.string().min(1),
    manifestKey: z.string().min(1),
    everyObjects: z.number().int().positive(),
    objects: z.number().int().nonnegative(),
    boundaries: z.array(z.string().min(1)),
  })
  .refine(
    (p) => p.boundaries.every((key, i) => i === 0 || compareKeys(p.boundaries[i - 1] as string, key) < 0),
    {
      message: 'boundaries must be in strictly ascending S3 key order',
      path: ['boundaries'],
    },
  );
/** What `<bucket>.parts.json` holds. */
export type PlanParts = z.infer<typeof planPartsSchema>;

/** The key range of part `part` (1-based) of a bucket split at `boundaries`. */
export function partRange(boundaries: readonly string[], part: number): KeyRange {
  if (!Number.isInteger(part) || part < 1 || part > boundaries.length + 1) {
    throw new RangeError(`part ${part} does not exist: the bucket is split into ${boundaries.length + 1}`);
  }
  const after = boundaries[part - 2];
  const upTo = boundaries[part - 1];
  return { ...(after === undefined ? {} : { after }), ...(upTo === undefined ? {} : { upTo }) };
}

/** True when `key` is in the range. */
export function inRange(key: string, range: KeyRange): boolean {
  return (
    (range.after === undefined || compareKeys(key, range.after) > 0) &&
    (range.upTo === undefined || compareKeys(key, range.upTo) <= 0)
  );
}

/**
 * The entries of a stream in S3 key order that fall in the range: those up to `after` are skipped,
 * and the stream is closed at the first entry past `upTo` (nothing after it is read).
 */
export async function* withinRange<T extends { readonly key: string }>(
  entries: AsyncIterable<T>,
  range: KeyRange,
): AsyncGenerator<T> {
  for await (const entry of entries) {
    if (range.after !== undefined && compareKeys(entry.key, range.after) <= 0) continue;
    if (range.upTo !== undefined && compareKeys(entry.key, range.upTo) > 0) return;
    yield entry;
  }
}
