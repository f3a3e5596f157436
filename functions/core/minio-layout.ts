import { z } from 'zod';
import { bucketManifestKey, minioObjectKey } from './vault-layout.js';

/**
 * Where a MinIO bucket backup keeps its working files in the vault, and the shapes of their lines.
 *
 * ```
 * backups/<id>/minio/<bucket>/plan.json                  what planBucketBackup decided (written last)
 * backups/<id>/minio/<bucket>/batches/00001.jsonl        objects to copy (BatchEntry per line)
 * backups/<id>/minio/<bucket>/batches/00001.result.jsonl what copyBatch did (BatchResultLine per line)
 * backups/<id>/minio/<bucket>/carried.jsonl.gz           unchanged objects (ManifestEntry per line)
 * backups/<id>/minio/<bucket>.manifest.jsonl.gz          the bucket manifest (ManifestEntry per line)
 * minio/<bucket>/<key>                                   the objects; versions are the history
 * ```
 * Every list is in S3 key order (see {@link compareKeys}), so manifests are diffed and merged as
 * streams.
 */

/** Working folder of one bucket in one backup. */
export const bucketWorkPrefix = (backupId: string, bucket: string): string =>
  `backups/${backupId}/minio/${bucket}/`;
/** Folder of the batch files of one bucket (the Distributed Map's items). */
export const batchPrefixOf = (backupId: string, bucket: string): string =>
  `${bucketWorkPrefix(backupId, bucket)}batches/`;
/** Batch file `n` (1-based, zero-padded to 5 digits). */
export const batchKeyOf = (backupId: string, bucket: string, n: number): string =>
  `${batchPrefixOf(backupId, bucket)}${String(n).padStart(5, '0')}.jsonl`;
/** Result file of a batch file. */
export const batchResultKeyOf = (batchKey: string): string => batchKey.replace(/\.jsonl$/, '.result.jsonl');
/** Unchanged entries carried over from the previous manifest. */
export const carriedKeyOf = (backupId: string, bucket: string): string =>
  `${bucketWorkPrefix(backupId, bucket)}carried.jsonl.gz`;
/** The plan record (counts and number of batches). */
export const planKeyOf = (backupId: string, bucket: string): string =>
  `${bucketWorkPrefix(backupId, bucket)}plan.json`;
/** The bucket manifest (DESIGN.md "Vault layout"). */
export const manifestKeyOf = (backupId: string, bucket: string): string =>
  bucketManifestKey(backupId, bucket);
/** Vault key of a source object. */
export const vaultKeyOf = (bucket: string, key: string): string => minioObjectKey(bucket, key);

const batchKeyPattern = /^backups\/([^/]+)\/minio\/([^/]+)\/batches\/(\d+)\.jsonl$/;
const manifestKeyPattern = /^backups\/([^/]+)\/minio\/([^/]+)\.manifest\.jsonl\.gz$/;

/** Backup id, bucket and number of a batch file key, or undefined if `key` is not one. */
export function parseBatchKey(key: string): { backupId: string; bucket: string; n: number } | undefined {
  const match = batchKeyPattern.exec(key);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { backupId: match[1], bucket: match[2], n: Number(match[3]) };
}

/** Backup id and bucket of a bucket manifest key, or undefined if `key` is not one. */
export function parseManifestKey(key: string): { backupId: string; bucket: string } | undefined {
  const match = manifestKeyPattern.exec(key);
  if (!match?.[1] || !match[2]) return undefined;
  return { backupId: match[1], bucket: match[2] };
}

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

/** One object of a bucket manifest: what was in the source and which vault version holds it. */
export const manifestEntrySchema = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  /** Source ETag (no quotes), compared by the next backup to detect changes. */
  etag: z.string(),
  /** Vault version id of `minio/<bucket>/<key>`. */
  versionId: z.string().min(1),
  contentType: z.string().optional(),
  /** User metadata (`x-amz-meta-*`), keys lowercase. */
  metadata: z.record(z.string(), z.string()),
  lastModified: z.string(),
});
/** One object of a bucket manifest. */
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

/** A planned object that was deleted from the source before its batch ran. */
export const vanishedLineSchema = z.object({ key: z.string().min(1), vanished: z.literal(true) });
/** A planned object that was deleted before its batch ran. */
export type VanishedLine = z.infer<typeof vanishedLineSchema>;

/** A line of a batch result file: a copied object or a vanished one. */
export const batchResultLineSchema = z.union([vanishedLineSchema, manifestEntrySchema]);
/** A line of a batch result file. */
export type BatchResultLine = ManifestEntry | VanishedLine;

/** True when a result line records a vanished object. */
export function isVanished(line: BatchResultLine): line is VanishedLine {
  return 'vanished' in line && line.vanished === true;
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
  previousManifestKey: z.string().optional(),
});
/** What `plan.json` holds. */
export type PlanRecord = z.infer<typeof planRecordSchema>;
