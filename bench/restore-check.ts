/**
 * The benchmarks' check of a restore: the restored bucket, listed, holds exactly the source bucket's
 * objects — the same count, the same keys, the same sizes, and the same ETag wherever both sides have a
 * plain MD5 ETag (a single-part upload: 32 hex digits; a multipart ETag `<md5 of part md5s>-<parts>`
 * depends on the part size the tool chose, so it is not compared). A restore that fails the check gets
 * no row: the bench fails with the first differences.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';

/** One object of a listing, as the check compares it. */
export const listedObjectSchema = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  /** Without quotes, lower case. */
  etag: z.string(),
});
/** One object of a listing. */
export type ListedObject = z.infer<typeof listedObjectSchema>;

const listPageSchema = z.object({
  Contents: z.array(z.object({ Key: z.string(), Size: z.number(), ETag: z.string().optional() })).optional(),
  IsTruncated: z.boolean().optional(),
  NextContinuationToken: z.string().optional(),
});

/** Every object of a bucket (ListObjectsV2, 1,000 a page), in key order. */
export async function listBucket(s3: S3Client, bucket: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = listPageSchema.parse(
      await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: 1000,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      ),
    );
    for (const o of page.Contents ?? []) {
      objects.push(
        listedObjectSchema.parse({
          key: o.Key,
          size: o.Size,
          etag: (o.ETag ?? '').replaceAll('"', '').toLowerCase(),
        }),
      );
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const plainMd5 = /^[0-9a-f]{32}$/;

/** What a passed check compared. */
export interface RestoreCheckResult {
  readonly objects: number;
  readonly bytes: number;
  /** Objects whose ETags were compared (both plain MD5). */
  readonly etagsCompared: number;
}

/** The differences between two listings (at most `limit` of them); empty when they match. */
export function compareListings(
  expected: readonly ListedObject[],
  actual: readonly ListedObject[],
  limit = 5,
): { differences: string[]; etagsCompared: number } {
  const differences: string[] = [];
  const add = (text: string) => {
    if (differences.length < limit) differences.push(text);
  };
  if (expected.length !== actual.length) add(`${actual.length} objects, expected ${expected.length}`);
  const byKey = new Map(actual.map((o) => [o.key, o]));
  let etagsCompared = 0;
  for (const want of expected) {
    const have = byKey.get(want.key);
    if (!have) {
      add(`"${want.key}" missing`);
      continue;
    }
    byKey.delete(want.key);
    if (have.size !== want.size) add(`"${want.key}": ${have.size} bytes, expected ${want.size}`);
    if (plainMd5.test(have.etag) && plainMd5.test(want.etag)) {
      etagsCompared += 1;
      if (have.etag !== want.etag) add(`"${want.key}": ETag ${have.etag}, expected ${want.etag}`);
    }
  }
  for (const extra of byKey.keys()) add(`"${extra}" not in the source`);
  return { differences, etagsCompared };
}

/**
 * Lists `restored` and compares it with `source` (both buckets, possibly on different servers).
 * Throws naming the first differences when they differ.
 */
export async function checkRestore(options: {
  readonly source: { readonly s3: S3Client; readonly bucket: string };
  readonly restored: { readonly s3: S3Client; readonly bucket: string };
  /** Who restored (for the error message). */
  readonly tool: string;
}): Promise<RestoreCheckResult> {
  const [expected, actual] = await Promise.all([
    listBucket(options.source.s3, options.source.bucket),
    listBucket(options.restored.s3, options.restored.bucket),
  ]);
  const { differences, etagsCompared } = compareListings(expected, actual);
  if (differences.length > 0) {
    throw new Error(
      `${options.tool}: the restored bucket ${options.restored.bucket} differs from ${options.source.bucket}: ${differences.join('; ')}`,
    );
  }
  return {
    objects: actual.length,
    bytes: actual.reduce((n, o) => n + o.size, 0),
    etagsCompared,
  };
}
