import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { deterministicBytes, deterministicStream, type Label, Rng } from './prng.js';
import { multipartThresholdBytes, type SeedPlan } from './size-plan.js';
import type { WireDataGenerator } from './wire-data.js';

/**
 * The seeded MinIO objects: Wire-like asset keys (`v3/persistent/<uuid>`, `v3/eternal/<uuid>`),
 * awkward keys (spaces, unicode, `+`, `%`, `=`), a 0-byte object with metadata, a key of 1,024
 * bytes, a folder marker (`v3/folder/`), a tagged object, one with every content header, many small
 * ones, some medium and at least one above the multipart threshold; content types and
 * `x-amz-meta-*` user metadata.
 */

/** The bucket Wire's cargohold keeps assets in. */
export const assetsBucket = 'assets';

/** One object to write: its key, size, headers, and the labels its bytes derive from. */
export interface ObjectSpec {
  readonly key: string;
  readonly size: number;
  readonly contentType: string;
  /** User metadata (sent as `x-amz-meta-<name>`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Labels of the deterministic content. */
  readonly labels: readonly Label[];
  /** First bytes (a file magic number) so images look like images. */
  readonly magic?: 'png' | 'jpeg' | 'text';
  /** Content headers besides the type. */
  readonly headers?: {
    readonly contentEncoding?: string;
    readonly contentDisposition?: string;
    readonly contentLanguage?: string;
    readonly cacheControl?: string;
    readonly expires?: Date;
  };
  /** Object tags. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** S3's longest key, in bytes. */
export const maxKeyBytes = 1024;

/**
 * A key of exactly {@link maxKeyBytes} bytes of UTF-8 (two-byte characters included), cut into
 * segments of at most 255 bytes, the longest path element MinIO stores (it keeps objects as files).
 */
export function longestKey(prefix: string): string {
  const segment = (bytes: number): string => {
    const pairs = Math.floor(bytes / 3);
    return `${'é'.repeat(pairs)}${'k'.repeat(bytes - pairs * 2)}`;
  };
  let key = prefix;
  while (Buffer.byteLength(key) < maxKeyBytes) {
    const left = maxKeyBytes - Buffer.byteLength(key);
    key += left > 255 ? `${segment(200)}/` : segment(left);
  }
  return key;
}

const magicBytes = {
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  text: Buffer.alloc(0),
};

const KiB = 1024;

/** The content types small assets are drawn from (Wire assets are mostly encrypted blobs). */
const smallTypes = [
  { contentType: 'application/octet-stream' },
  { contentType: 'application/octet-stream' },
  { contentType: 'image/png', magic: 'png' as const },
  { contentType: 'image/jpeg', magic: 'jpeg' as const },
  { contentType: 'text/plain; charset=utf-8', magic: 'text' as const },
];

function wireMetadata(rng: Rng, data: WireDataGenerator, retention: string): Record<string, string> {
  const uploader = data.user('seed', rng.int(0, data.plan.users - 1)).id;
  const metadata: Record<string, string> = { uploader, retention };
  if (rng.chance(0.7)) metadata.conv = data.conversationId('seed', rng.int(0, data.plan.conversations - 1));
  if (rng.chance(0.3)) metadata.token = rng.bytes(16).toString('base64url');
  return metadata;
}

/** The objects of the seeded state, in a fixed order (special keys first, then by size class). */
export function seededObjects(plan: SeedPlan, seed: number, data: WireDataGenerator): ObjectSpec[] {
  const rng = new Rng(seed, 'objects');
  const specials: ObjectSpec[] = [
    {
      key: `v3/persistent/${rng.uuid()}`,
      size: 0,
      contentType: 'application/octet-stream',
      metadata: { uploader: data.user('seed', 0).id, retention: 'persistent' },
      labels: [seed, 'empty'],
    },
    {
      key: 'café/ñ 🎉.png',
      size: 12 * KiB + 7,
      contentType: 'image/png',
      metadata: {
        uploader: data.user('seed', 1).id,
        conv: data.conversationId('seed', 0),
        retention: 'eternal',
      },
      labels: [seed, 'unicode'],
      magic: 'png',
    },
    {
      key: 'team logos/Acme GmbH (final) v2.jpg',
      size: 30 * KiB,
      contentType: 'image/jpeg',
      metadata: { uploader: data.user('seed', 2).id, retention: 'eternal-infrequent_access' },
      labels: [seed, 'spaces'],
      magic: 'jpeg',
    },
    {
      key: 'v3/persistent/a+b=c%20d&e.bin',
      size: 3 * KiB,
      contentType: 'application/octet-stream',
      metadata: { uploader: data.user('seed', 3).id, retention: 'persistent', note: 'plus equals percent' },
      labels: [seed, 'symbols'],
    },
    {
      key: 'public/日本語/ファイル名 ünïcödé.txt',
      size: 2 * KiB + 1,
      contentType: 'text/plain; charset=utf-8',
      metadata: { uploader: data.user('seed', 4).id, retention: 'eternal' },
      labels: [seed, 'cjk'],
      magic: 'text',
    },
    {
      key: `v3/eternal/${rng.uuid()}`,
      size: 1,
      contentType: 'application/octet-stream',
      metadata: { uploader: data.user('seed', 5).id, retention: 'eternal' },
      labels: [seed, 'one-byte'],
    },
    // Shapes a long-lived installation holds (issue 8): the longest key S3 accepts, a folder marker,
    // a tagged object, every content header.
    {
      key: longestKey('v3/long-key/'),
      size: 5 * KiB + 3,
      contentType: 'application/octet-stream',
      metadata: { uploader: data.user('seed', 6).id, retention: 'persistent' },
      labels: [seed, 'longest-key'],
    },
    {
      key: 'v3/folder/',
      size: 0,
      contentType: 'application/x-directory',
      metadata: { uploader: data.user('seed', 9).id, note: 'folder marker' },
      labels: [seed, 'folder-marker'],
    },
    {
      key: `v3/tagged/${rng.uuid()}`,
      size: 4 * KiB,
      contentType: 'application/octet-stream',
      metadata: { uploader: data.user('seed', 7).id, retention: 'eternal' },
      labels: [seed, 'tagged'],
      tags: { retention: 'eternal', project: 'wire backup', 'legal-hold': 'true' },
    },
    {
      key: 'public/headers/report.txt',
      size: 3 * KiB + 11,
      contentType: 'text/plain; charset=utf-8',
      metadata: { uploader: data.user('seed', 8).id, retention: 'eternal' },
      labels: [seed, 'headers'],
      magic: 'text',
      headers: {
        contentEncoding: 'identity',
        contentDisposition: 'attachment; filename="report.txt"',
        contentLanguage: 'de-DE',
        cacheControl: 'public, max-age=31536000, immutable',
        expires: new Date('2031-01-01T00:00:00Z'),
      },
    },
  ];
  const sized = (cls: string, n: number, range: readonly [number, number]): ObjectSpec[] =>
    Array.from({ length: n }, (_, i) => {
      const r = new Rng(seed, 'object', cls, i);
      const retention = r.chance(0.8) ? 'persistent' : 'eternal';
      const type =
        cls === 'small'
          ? r.pick(smallTypes)
          : { contentType: r.pick(['video/mp4', 'application/octet-stream']) };
      return {
        key: `v3/${retention}/${r.uuid()}`,
        size: r.int(range[0], range[1]),
        contentType: type.contentType,
        metadata: wireMetadata(r, data, retention),
        labels: [seed, 'object', cls, i],
        ...('magic' in type ? { magic: type.magic } : {}),
      };
    });
  return [
    ...specials,
    ...sized('small', plan.objects.small, plan.objects.smallBytes),
    ...sized('medium', plan.objects.medium, plan.objects.mediumBytes),
    ...sized('large', Math.max(1, plan.objects.large), plan.objects.largeBytes),
  ];
}

/** Text content for `text/*` objects: readable lines, deterministic. */
function textBody(spec: ObjectSpec): Buffer {
  const rng = new Rng(...spec.labels, 'text');
  const words = [
    'wire',
    'secure',
    'backup',
    'café',
    'Größe',
    'naïve',
    'über',
    '日本',
    'team',
    'asset',
    'restore',
  ];
  const parts: string[] = [];
  for (let length = 0; length < spec.size; ) {
    const word = `${rng.pick(words)}${rng.chance(0.1) ? '\n' : ' '}`;
    parts.push(word);
    length += Buffer.byteLength(word);
  }
  const bytes = Buffer.from(parts.join(''));
  // Cut on a byte boundary, then drop a trailing partial UTF-8 sequence by padding with spaces.
  const cut = bytes.subarray(0, spec.size);
  const valid = Buffer.from(cut.toString('utf8').replace(/\uFFFD+$/, ''));
  return Buffer.concat([valid, Buffer.alloc(spec.size - valid.length, 0x20)]);
}

/** The body of an object: a stream for large ones, a buffer otherwise. */
export function objectBody(spec: ObjectSpec): Buffer | ReturnType<typeof deterministicStream> {
  if (spec.magic === 'text') return textBody(spec);
  const prefix = spec.magic ? magicBytes[spec.magic] : Buffer.alloc(0);
  if (spec.size > 4 * 1024 * 1024) return deterministicStream(spec.size, spec.labels, prefix);
  // The same keystream as the stream form: both give equal bytes for equal labels.
  const body = deterministicBytes(spec.size, ...spec.labels);
  prefix.copy(body, 0, 0, Math.min(prefix.length, spec.size));
  return body;
}

/** SHA-256 (hex) of an object's content, computed without uploading it. */
export async function objectSha256(spec: ObjectSpec): Promise<string> {
  const body = objectBody(spec);
  const hash = createHash('sha256');
  if (Buffer.isBuffer(body)) return hash.update(body).digest('hex');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Creates the bucket when it does not exist. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw error;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** Deletes every object (and, in a versioned bucket, every version and delete marker). */
export async function emptyBucket(s3: S3Client, bucket: string): Promise<number> {
  const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  let deleted = 0;
  const remove = async (objects: { Key: string; VersionId?: string }[]): Promise<void> => {
    for (let i = 0; i < objects.length; i += 1000) {
      const batch = objects.slice(i, i + 1000);
      const result = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      if (result.Errors?.length) {
        throw new Error(
          `seed: could not delete ${result.Errors.length} objects from ${bucket}: ${result.Errors[0]?.Message}`,
        );
      }
      deleted += batch.length;
    }
  };
  if (versioning.Status === 'Enabled' || versioning.Status === 'Suspended') {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
      await remove(
        [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
          Key: v.Key ?? '',
          VersionId: v.VersionId,
        })),
      );
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
    return deleted;
  }
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    await remove((page.Contents ?? []).map((o) => ({ Key: o.Key ?? '' })));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return deleted;
}

/** Uploads one object: a single PUT below the multipart threshold, a multipart `Upload` above it. */
export async function putObject(s3: S3Client, bucket: string, spec: ObjectSpec): Promise<void> {
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: spec.key,
      Body: objectBody(spec),
      ContentType: spec.contentType,
      Metadata: { ...spec.metadata },
      ...(spec.headers?.contentEncoding ? { ContentEncoding: spec.headers.contentEncoding } : {}),
      ...(spec.headers?.contentDisposition ? { ContentDisposition: spec.headers.contentDisposition } : {}),
      ...(spec.headers?.contentLanguage ? { ContentLanguage: spec.headers.contentLanguage } : {}),
      ...(spec.headers?.cacheControl ? { CacheControl: spec.headers.cacheControl } : {}),
      ...(spec.headers?.expires ? { Expires: spec.headers.expires } : {}),
      ...(spec.tags ? { Tagging: new URLSearchParams(Object.entries(spec.tags)).toString() } : {}),
      ...(spec.size <= multipartThresholdBytes ? { ContentLength: spec.size } : {}),
    },
    partSize: 8 * 1024 * 1024,
    queueSize: 4,
  });
  await upload.done();
}

/** Runs `work` over `items`, `concurrency` at a time, in order of start. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}
