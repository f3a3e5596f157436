import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceS3Client, createVaultS3Client } from '../../functions/core/clients.js';
import { BucketNotFoundError, VerificationFailedError } from '../../functions/core/errors.js';
import { readJsonLines, writeJsonLines } from '../../functions/core/manifest-io.js';
import { copyBatch } from '../../functions/core/minio-copy.js';
import { compareKeys, type ManifestEntry, manifestEntrySchema } from '../../functions/core/minio-layout.js';
import { finalizeBucketManifest, verifyBucketManifest } from '../../functions/core/minio-manifest.js';
import {
  type BucketBackupPlan,
  type PlanBucketBackupInput,
  planBucketBackup,
  plannedPartOf,
  planPartItems,
} from '../../functions/core/minio-plan.js';
import { defaultPartSizeBytes } from '../../functions/core/object-transfer.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  bucketManifestKey,
  minioObjectKey,
  planPartsKey,
} from '../../functions/core/vault-layout.js';
import { isInSample } from '../../functions/core/verify-sample.js';
import { readStackInfo } from '../../local/stack-info.js';

const MiB = 1024 * 1024;
const stack = readStackInfo();
const source = createSourceS3Client({
  endpoint: stack.minio.endpoint,
  region: stack.minio.region,
  accessKeyId: stack.minio.accessKey,
  secretAccessKey: stack.minio.secretKey,
  forcePathStyle: true,
  legacyChecksums: false,
});
const vault = createVaultS3Client({
  region: stack.vault.region,
  endpoint: stack.vault.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: stack.vault.accessKey, secretAccessKey: stack.vault.secretKey },
});
const vaultBucket = stack.vault.bucket;
const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;

/** One source object the tests put, and what the vault must end up holding. */
interface SourceObject {
  readonly key: string;
  readonly body: Buffer;
  readonly headers?: Omit<PutObjectCommandInput, 'Bucket' | 'Key' | 'Body'>;
  /** Upload as multipart to the source (its ETag then has a `-<parts>` suffix). */
  readonly multipart?: boolean;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function putSource(bucket: string, object: SourceObject): Promise<void> {
  if (object.multipart) {
    await new Upload({
      client: source,
      partSize: 5 * MiB,
      params: { Bucket: bucket, Key: object.key, Body: object.body, ...object.headers },
    }).done();
    return;
  }
  await source.send(
    new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: object.body, ...object.headers }),
  );
}

async function createSourceBucket(objects: readonly SourceObject[]): Promise<string> {
  const bucket = `it-minio-${runId}-${randomUUID().slice(0, 6)}`;
  await source.send(new CreateBucketCommand({ Bucket: bucket }));
  createdBuckets.push(bucket);
  for (const object of objects) await putSource(bucket, object);
  return bucket;
}

async function deleteAllVersions(client: S3Client, bucket: string, prefix: string): Promise<void> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const version of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      await client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }),
      );
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
}

async function emptyAndDeleteSourceBucket(bucket: string): Promise<void> {
  for (;;) {
    const page = await source.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (!page.Contents?.length) break;
    for (const object of page.Contents)
      await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
  }
  await source.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function vaultVersionCount(key: string): Promise<number> {
  const page = await vault.send(new ListObjectVersionsCommand({ Bucket: vaultBucket, Prefix: key }));
  return (page.Versions ?? []).filter((version) => version.Key === key).length;
}

async function readAll(key: string): Promise<unknown[]> {
  const lines: unknown[] = [];
  for await (const line of readJsonLines(vault, vaultBucket, key, { parse: (value) => value }))
    lines.push(line);
  return lines;
}

async function readManifest(manifestKey: string): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  for await (const entry of readJsonLines(vault, vaultBucket, manifestKey, {
    parse: (value) => manifestEntrySchema.parse(value),
  })) {
    entries.push(entry);
  }
  return entries;
}

/** Runs plan → copy every batch → finalize, as the state machine does. */
async function backUp(
  bucket: string,
  backupId: string,
  previousManifestKey?: string,
  batchMaxObjects = 3,
  resume: Pick<PlanBucketBackupInput, 'resumeCandidates' | 'onResumeProblem'> = {},
) {
  const plan = await planBucketBackup({
    source,
    vault,
    sourceBucket: bucket,
    vaultBucket,
    backupId,
    batchMaxObjects,
    ...(previousManifestKey ? { previousManifestKey } : {}),
    ...resume,
  });
  const copies = [];
  for (let n = 1; n <= plan.batches; n++) copies.push(await copyBatchOf(bucket, backupId, n));
  const summary = await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket });
  return { plan, copies, summary };
}

/** Plans a backup and copies only the batches named (as an interrupted run: the others never ran). */
async function planAndCopySome(
  bucket: string,
  backupId: string,
  batchMaxObjects: number,
  batchesCopied: readonly number[],
): Promise<void> {
  await planBucketBackup({ source, vault, sourceBucket: bucket, vaultBucket, backupId, batchMaxObjects });
  for (const n of batchesCopied) await copyBatchOf(bucket, backupId, n);
}

/** Copies batch `n` of a backup's plan of `bucket`, as one Copy Batch iteration does. */
function copyBatchOf(bucket: string, backupId: string, n: number) {
  return copyBatch({
    source,
    vault,
    sourceBucket: bucket,
    vaultBucket,
    batchKey: batchKeyOf(backupId, bucket, n),
  });
}

const createdBuckets: string[] = [];
/** Source bucket names used only as vault prefixes (no source bucket behind them). */
const fakeVaultBuckets: string[] = [];
const backupIds: string[] = [];
const newBackupId = (): string => {
  const id = `it-${runId}-${backupIds.length + 1}`;
  backupIds.push(id);
  return id;
};

afterAll(async () => {
  for (const bucket of createdBuckets) {
    await emptyAndDeleteSourceBucket(bucket);
    await deleteAllVersions(vault, vaultBucket, `minio/${bucket}/`);
  }
  for (const bucket of fakeVaultBuckets) await deleteAllVersions(vault, vaultBucket, `minio/${bucket}/`);
  for (const backupId of backupIds) await deleteAllVersions(vault, vaultBucket, `backups/${backupId}/`);
});

describe('MinIO bucket backup: plan, copy, finalize, verify', () => {
  const big = randomBytes(20 * MiB + 123);
  const gzipped = gzipSync(Buffer.from('{"hello":"world"}'.repeat(100)));
  const objects: SourceObject[] = [
    { key: 'empty', body: Buffer.alloc(0) },
    {
      key: 'small.txt',
      body: Buffer.from('hello wire\n'),
      headers: {
        ContentType: 'text/plain; charset=utf-8',
        CacheControl: 'max-age=3600',
        ContentDisposition: 'attachment; filename="small.txt"',
        Metadata: { owner: 'alice', 'asset-token': 'tok-123' },
      },
    },
    {
      key: 'v3/compressed.json',
      body: gzipped,
      headers: { ContentType: 'application/json', ContentEncoding: 'gzip' },
    },
    { key: 'big.bin', body: big, headers: { ContentType: 'application/octet-stream' } },
    { key: 'multipart-source.bin', body: randomBytes(11 * MiB), multipart: true },
    { key: 'dir with space/a b.txt', body: Buffer.from('spaces') },
    { key: 'ünïcödé/ファイル.txt', body: Buffer.from('unicode'), headers: { Metadata: { note: 'x' } } },
    { key: 'plus+sign', body: Buffer.from('plus') },
    { key: 'percent%20literal', body: Buffer.from('percent') },
    { key: 'emoji 😀 and ～', body: Buffer.from('emoji') },
    { key: 'xml <&> chars', body: Buffer.from('xml') },
  ];
  let bucket: string;
  let first: Awaited<ReturnType<typeof backUp>>;

  beforeAll(async () => {
    bucket = await createSourceBucket(objects);
    first = await backUp(bucket, newBackupId());
  });

  it('plans every object in batches of at most three and copies them all', () => {
    const totalBytes = objects.reduce((sum, o) => sum + o.body.length, 0);
    expect(first.plan).toMatchObject({
      bucket,
      batches: Math.ceil(objects.length / 3),
      toCopyObjects: objects.length,
      toCopyBytes: totalBytes,
      carriedObjects: 0,
      deletedObjects: 0,
    } satisfies Partial<BucketBackupPlan>);
    expect(first.copies.reduce((sum, c) => sum + c.copiedObjects, 0)).toBe(objects.length);
    expect(first.copies.reduce((sum, c) => sum + c.copiedBytes, 0)).toBe(totalBytes);
    expect(first.summary).toMatchObject({ objects: objects.length, bytes: totalBytes, carriedObjects: 0 });
  });

  it('writes a manifest in S3 key order with the SHA-256 of every object', async () => {
    const manifest = await readManifest(first.summary.manifestKey);
    const keys = manifest.map((e) => e.key);
    expect(keys).toEqual(objects.map((o) => o.key).sort(compareKeys));
    for (const object of objects) {
      const entry = manifest.find((e) => e.key === object.key);
      expect(entry?.sha256, object.key).toBe(sha256(object.body));
      expect(entry?.size, object.key).toBe(object.body.length);
    }
  });

  it('keeps content type, encoding, cache control, disposition and user metadata on the vault version', async () => {
    const manifest = await readManifest(first.summary.manifestKey);
    const small = manifest.find((e) => e.key === 'small.txt');
    const head = await vault.send(
      new HeadObjectCommand({
        Bucket: vaultBucket,
        Key: minioObjectKey(bucket, 'small.txt'),
        VersionId: small?.versionId,
      }),
    );
    expect(head).toMatchObject({
      ContentType: 'text/plain; charset=utf-8',
      CacheControl: 'max-age=3600',
      ContentDisposition: 'attachment; filename="small.txt"',
      Metadata: { owner: 'alice', 'asset-token': 'tok-123' },
    });
    expect(small).toMatchObject({ contentType: 'text/plain; charset=utf-8', metadata: { owner: 'alice' } });
    const compressed = await vault.send(
      new HeadObjectCommand({ Bucket: vaultBucket, Key: minioObjectKey(bucket, 'v3/compressed.json') }),
    );
    expect(compressed).toMatchObject({
      ContentEncoding: 'gzip',
      ContentType: 'application/json',
      ContentLength: gzipped.length,
    });
  });

  it('copies an object above the threshold with a multipart upload', async () => {
    const head = await vault.send(
      new HeadObjectCommand({ Bucket: vaultBucket, Key: minioObjectKey(bucket, 'big.bin') }),
    );
    expect(head.ContentLength).toBe(big.length);
    // 20 MiB + 123 bytes in parts of the default part size (8 MiB: 3 parts)
    expect(head.ETag).toMatch(new RegExp(`-${Math.ceil(big.length / defaultPartSizeBytes)}"$`));
  });

  it('verifies the manifest against the vault, shallow and deep', async () => {
    const shallow = await verifyBucketManifest({
      vault,
      vaultBucket,
      manifestKey: first.summary.manifestKey,
      deep: false,
    });
    const deep = await verifyBucketManifest({
      vault,
      vaultBucket,
      manifestKey: first.summary.manifestKey,
      deep: true,
    });
    expect(shallow).toMatchObject({ bucket, objects: objects.length, deep: false });
    expect(deep).toMatchObject({ bucket, objects: objects.length, deep: true });
  });

  it('copies only new and changed objects the next time and carries the rest with their versions', async () => {
    // Arrange
    await putSource(bucket, {
      key: 'small.txt',
      body: Buffer.from('hello again\n'),
      headers: { ContentType: 'text/plain' },
    });
    await putSource(bucket, { key: 'new.txt', body: Buffer.from('new') });
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'plus+sign' }));
    // The same bytes again with other metadata: same ETag, a later LastModified (second precision).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await putSource(bucket, {
      key: 'dir with space/a b.txt',
      body: Buffer.from('spaces'),
      headers: { Metadata: { uploader: 'bob' } },
    });
    const before = await readManifest(first.summary.manifestKey);

    // Act
    const second = await backUp(bucket, newBackupId(), first.summary.manifestKey);

    // Assert
    expect(second.plan).toMatchObject({
      toCopyObjects: 3,
      toCopyBytes: 'hello again\n'.length + 'new'.length + 'spaces'.length,
      carriedObjects: objects.length - 3,
      deletedObjects: 1,
      batches: 1,
    });
    expect(second.summary).toMatchObject({
      objects: objects.length,
      copiedObjects: 3,
      carriedObjects: objects.length - 3,
    });
    const after = await readManifest(second.summary.manifestKey);
    expect(after.map((e) => e.key)).toEqual(
      [...objects.map((o) => o.key).filter((k) => k !== 'plus+sign'), 'new.txt'].sort(compareKeys),
    );
    for (const entry of after) {
      const previous = before.find((e) => e.key === entry.key);
      if (entry.key === 'small.txt') expect(entry.versionId).not.toBe(previous?.versionId);
      else if (entry.key === 'dir with space/a b.txt') {
        expect(entry.versionId).not.toBe(previous?.versionId);
        expect(entry.etag).toBe(previous?.etag);
        expect(entry.metadata).toEqual({ uploader: 'bob' });
      } else if (entry.key !== 'new.txt') expect(entry, entry.key).toEqual(previous);
    }
    expect(await vaultVersionCount(minioObjectKey(bucket, 'big.bin'))).toBe(1);
    await verifyBucketManifest({ vault, vaultBucket, manifestKey: second.summary.manifestKey, deep: true });
  });
});

describe('copyBatch', () => {
  it('records an object deleted after planning as vanished, names it, and the manifest leaves it out', async () => {
    // Arrange
    const bucket = await createSourceBucket([
      { key: 'stays', body: Buffer.from('1') },
      { key: 'goes', body: Buffer.from('2') },
    ]);
    const backupId = newBackupId();
    await planBucketBackup({ source, vault, sourceBucket: bucket, vaultBucket, backupId });
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'goes' }));

    // Act
    const copied = await copyBatch({
      source,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      batchKey: batchKeyOf(backupId, bucket, 1),
    });
    const summary = await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket });

    // Assert
    expect(copied).toMatchObject({ copiedObjects: 1, vanished: 1 });
    expect(summary.objects).toBe(1);
    expect(summary.vanished).toEqual({ count: 1, keys: ['goes'] });
    expect(summary.failed.count).toBe(0);
    expect((await readManifest(summary.manifestKey)).map((e) => e.key)).toEqual(['stays']);
  });

  it('names a listed key that is not valid UTF-8 as an object that cannot be copied, never dropping it', async () => {
    // Arrange: MinIO refuses such keys, so a source that lists one (another S3 server, written around
    // the API) is played by a client answering HeadBucket and a URL-encoded listing.
    const bucket = `it-bad-utf8-${runId}`;
    const backupId = newBackupId();
    const lister = {
      config: source.config,
      send: async (command: object) => {
        if (command instanceof ListObjectsV2Command) {
          return {
            EncodingType: 'url',
            IsTruncated: false,
            Contents: [{ Key: 'v3/caf%E9.png', Size: 7, ETag: '"e"', LastModified: new Date(0) }],
          };
        }
        return {};
      },
    } as unknown as S3Client;

    // Act
    const plan = await planBucketBackup({
      source: lister,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      backupId,
    });
    const summary = await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket });

    // Assert
    expect(plan).toMatchObject({ toCopyObjects: 0, unreadableKeys: 1 });
    expect(summary.objects).toBe(0);
    expect(summary.failed.count).toBe(1);
    expect(summary.failed.objects[0]).toMatchObject({
      bucket,
      key: 'v3/caf%E9.png',
      error: 'InvalidObjectKey',
    });
    expect(summary.failed.objects[0]?.cause).toMatch(/not valid UTF-8/);
    expect(await readAll(summary.failed.listKey ?? '')).toEqual([summary.failed.objects[0]]);
  });

  it('does not copy a batch again once its result is complete', async () => {
    // Arrange
    const bucket = await createSourceBucket([{ key: 'once', body: Buffer.from('x') }]);
    const backupId = newBackupId();
    await planBucketBackup({ source, vault, sourceBucket: bucket, vaultBucket, backupId });
    const input = {
      source,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      batchKey: batchKeyOf(backupId, bucket, 1),
    };

    // Act
    const firstRun = await copyBatch(input);
    const retry = await copyBatch(input);

    // Assert
    expect(retry).toEqual(firstRun);
    expect(await vaultVersionCount(minioObjectKey(bucket, 'once'))).toBe(1);
  });

  it('never commits a copy whose bytes disagree with the source ETag or length', async () => {
    // Arrange: a source that serves bytes not matching what it announces (a small fake: real MinIO
    // cannot be made to lie), copied into the real vault, once as a single PUT, once as multipart.
    const bucket = `it-minio-${runId}-corrupt`;
    fakeVaultBuckets.push(bucket);
    const backupId = newBackupId();
    const small = Buffer.from('bytes on the wire');
    const large = randomBytes(17 * MiB);
    const served = new Map([
      ['bad-md5', { body: small, etag: `"${'0'.repeat(32)}"`, length: small.length }],
      ['short-read', { body: small, etag: '"abc-1"', length: small.length + 5 }],
      ['bad-md5-multipart', { body: large, etag: `"${'1'.repeat(32)}"`, length: large.length }],
    ]);
    const lying = {
      send: async (command: { input: { Key?: string } }) => {
        const object = served.get(command.input.Key ?? '');
        if (!object) throw new Error('unexpected request');
        // 1 MiB chunks, so the multipart case uploads its first part before the check fails.
        const chunks = Array.from({ length: Math.ceil(object.body.length / MiB) }, (_, i) =>
          object.body.subarray(i * MiB, (i + 1) * MiB),
        );
        return { Body: Readable.from(chunks), ETag: object.etag, ContentLength: object.length };
      },
    } as unknown as S3Client;
    const entries = [...served.keys()].map((key) => ({
      key,
      size: 1,
      etag: 'x',
      lastModified: new Date(0).toISOString(),
    }));

    for (const entry of entries) {
      const batchKey = batchKeyOf(backupId, bucket, entries.indexOf(entry) + 1);
      await writeJsonLines(vault, vaultBucket, batchKey, [entry]);

      // Act
      const result = await copyBatch({
        source: lying,
        vault,
        sourceBucket: bucket,
        vaultBucket,
        batchKey,
        retryDelayMs: 1,
      });

      // Assert: the object is named as failed, with the cause, after every attempt read bad bytes.
      expect(result, entry.key).toMatchObject({ copiedObjects: 0, failed: 1 });
      const lines = await readAll(batchResultKeyOf(batchKey));
      expect(lines, entry.key).toEqual([
        { key: entry.key, failed: true, error: 'ObjectChangedError', cause: expect.any(String) },
      ]);
      expect((lines[0] as { cause: string }).cause).toContain(`s3://${bucket}/${entry.key}`);
      expect((lines[0] as { cause: string }).cause).toMatch(/3 attempts/);
      expect(await vaultVersionCount(minioObjectKey(bucket, entry.key)), entry.key).toBe(0);
      const uploads = await vault.send(
        new ListMultipartUploadsCommand({ Bucket: vaultBucket, Prefix: minioObjectKey(bucket, entry.key) }),
      );
      expect(uploads.Uploads ?? [], entry.key).toEqual([]);
    }
  });

  it('works with the legacy-checksum client for old MinIO', async () => {
    // Arrange
    const legacy = createSourceS3Client({
      endpoint: stack.minio.endpoint,
      region: stack.minio.region,
      accessKeyId: stack.minio.accessKey,
      secretAccessKey: stack.minio.secretKey,
      forcePathStyle: true,
      legacyChecksums: true,
    });
    const bucket = await createSourceBucket([{ key: 'legacy.bin', body: randomBytes(1000) }]);
    const backupId = newBackupId();
    await planBucketBackup({ source: legacy, vault, sourceBucket: bucket, vaultBucket, backupId });

    // Act
    const copied = await copyBatch({
      source: legacy,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      batchKey: batchKeyOf(backupId, bucket, 1),
    });

    // Assert
    expect(copied).toMatchObject({ copiedObjects: 1, copiedBytes: 1000, vanished: 0 });
  });
});

describe('planBucketBackup', () => {
  it('names the bucket, the endpoint and the fix when the source bucket does not exist', async () => {
    const missing = `it-minio-${runId}-missing`;
    const error = await planBucketBackup({
      source,
      vault,
      sourceBucket: missing,
      vaultBucket,
      backupId: newBackupId(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BucketNotFoundError);
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toContain(stack.minio.endpoint);
    expect((error as Error).message).toMatch(/create it in MinIO or remove it from minio.buckets/);
  });
});

describe('resuming an interrupted backup (planBucketBackup with resumeCandidates)', () => {
  const keys = Array.from({ length: 10 }, (_, i) => `obj-${i}`);
  /** Plans `backupId` in batches of 3 and copies only the batches named (the rest "never ran"). */
  async function interruptedRun(bucket: string, batchesCopied: readonly number[]) {
    const backupId = newBackupId();
    await planAndCopySome(bucket, backupId, 3, batchesCopied);
    return backupId;
  }
  async function resumedRun(bucket: string, candidates: readonly string[]) {
    const problems: string[] = [];
    const { plan, summary } = await backUp(bucket, newBackupId(), undefined, 3, {
      resumeCandidates: candidates,
      onResumeProblem: (message) => problems.push(message),
    });
    return { plan, summary, problems };
  }

  it('carries what the interrupted run copied, copies the rest and what changed since', async () => {
    // Arrange: batches 1 (obj-0..2) and 3 (obj-6..8) copied; then obj-1 rewritten and obj-7 deleted.
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(`${key} v1`) })));
    const interrupted = await interruptedRun(bucket, [1, 3]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await putSource(bucket, { key: 'obj-1', body: Buffer.from('obj-1 v2') });
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'obj-7' }));

    // Act: the newest candidate never planned this bucket, the next one is the interrupted run.
    const resumed = await resumedRun(bucket, [`it-${runId}-never-planned`, interrupted]);

    // Assert
    expect(resumed.problems).toEqual([]);
    expect(resumed.plan).toMatchObject({
      resumedFrom: interrupted,
      resumedObjects: 4,
      carriedObjects: 4,
      toCopyObjects: 5,
      deletedObjects: 0,
    });
    expect(resumed.summary).toMatchObject({
      objects: 9,
      copiedObjects: 5,
      carriedObjects: 4,
      resumed: { from: interrupted, objects: 4 },
    });
    const manifest = await readManifest(resumed.summary.manifestKey);
    expect(manifest.map((e) => e.key)).toEqual(keys.filter((k) => k !== 'obj-7'));
    // The resumed objects were not copied again: one vault version each; obj-1 has its second.
    for (const key of ['obj-0', 'obj-2', 'obj-6', 'obj-8'])
      expect(await vaultVersionCount(minioObjectKey(bucket, key)), key).toBe(1);
    expect(await vaultVersionCount(minioObjectKey(bucket, 'obj-1'))).toBe(2);
    await verifyBucketManifest({ vault, vaultBucket, manifestKey: resumed.summary.manifestKey, deep: true });
  });

  it('copies again what a damaged result file of the interrupted run names, and still completes', async () => {
    // Arrange: batches 1 and 2 copied; batch 2's result file then damaged (its second line is not JSON).
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(`${key} v1`) })));
    const interrupted = await interruptedRun(bucket, [1, 2]);
    const resultKey = batchResultKeyOf(batchKeyOf(interrupted, bucket, 2));
    const lines = (await readAll(resultKey)).map((line) => JSON.stringify(line));
    await vault.send(
      new PutObjectCommand({
        Bucket: vaultBucket,
        Key: resultKey,
        Body: [lines[0], '{not json', ...lines.slice(2)].join('\n'),
      }),
    );

    // Act
    const resumed = await resumedRun(bucket, [interrupted]);

    // Assert: batch 1 resumed; batch 2 (from the damage on) copied again; the backup is whole.
    expect(resumed.problems).toHaveLength(1);
    expect(resumed.problems[0]).toContain(interrupted);
    expect(resumed.problems[0]).toContain('copied again');
    expect(resumed.plan).toMatchObject({ resumedFrom: interrupted, resumedObjects: 3, toCopyObjects: 7 });
    expect(resumed.summary).toMatchObject({ objects: 10, copiedObjects: 7, carriedObjects: 3 });
    await verifyBucketManifest({ vault, vaultBucket, manifestKey: resumed.summary.manifestKey, deep: true });
  });
});

describe('finalizeBucketManifest', () => {
  it('fails naming the batch that has no result', async () => {
    // Arrange
    const bucket = await createSourceBucket([
      { key: 'a', body: Buffer.from('a') },
      { key: 'b', body: Buffer.from('b') },
    ]);
    const backupId = newBackupId();
    await planAndCopySome(bucket, backupId, 1, [1]);

    // Act
    const error = await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket }).catch(
      (e: unknown) => e,
    );

    // Assert
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(batchKeyOf(backupId, bucket, 2));
  });
});

describe('finalizeBucketManifest rotating sample', () => {
  it("HEADs only the carried objects in the run's slot, and fails naming one whose version is gone", async () => {
    // Arrange: a first backup of six objects, then the vault version of one of them deleted.
    const keys = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(`body ${key}`) })));
    const first = await backUp(bucket, newBackupId());
    const entries = await readManifest(first.summary.manifestKey);
    const lost = entries.find((e) => e.key === 's3') as ManifestEntry;
    await vault.send(
      new DeleteObjectCommand({
        Bucket: vaultBucket,
        Key: minioObjectKey(bucket, 's3'),
        VersionId: lost.versionId,
      }),
    );
    const divisor = 4;
    const lostSlot = [0, 1, 2, 3].find((slot) => isInSample(lost, { divisor, slot })) as number;
    const otherSlot = (lostSlot + 1) % divisor;
    const inOther = entries.filter((e) => isInSample(e, { divisor, slot: otherSlot })).length;
    const finalizeNext = async (slot: number) => {
      const backupId = newBackupId();
      await planBucketBackup({
        source,
        vault,
        sourceBucket: bucket,
        vaultBucket,
        backupId,
        previousManifestKey: first.summary.manifestKey,
      });
      return finalizeBucketManifest({ vault, vaultBucket, backupId, bucket, sample: { divisor, slot } });
    };

    // Act: a run whose slot misses the lost object, and one whose slot holds it.
    const missed = await finalizeNext(otherSlot);
    const error = await finalizeNext(lostSlot).catch((e: unknown) => e);

    // Assert
    expect(missed.carriedObjects).toBe(6);
    expect(missed.sampledObjects).toBe(inOther);
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(
      `(key "s3") version ${lost.versionId} is missing from the vault`,
    );
    expect((error as Error).message).toMatch(/run a full backup/);
  });
});

describe('verifyBucketManifest', () => {
  let bucket: string;
  let manifestKey: string;
  let manifest: ManifestEntry[];

  beforeAll(async () => {
    bucket = await createSourceBucket([
      { key: 'keep', body: Buffer.from('keep me') },
      { key: 'lost', body: Buffer.from('lose me') },
      { key: 'overwritten', body: Buffer.from('original') },
    ]);
    const { summary } = await backUp(bucket, newBackupId());
    manifestKey = summary.manifestKey;
    manifest = await readManifest(manifestKey);
  });

  it('keeps passing when a vault object is overwritten, because the manifest pins the version', async () => {
    await vault.send(
      new PutObjectCommand({
        Bucket: vaultBucket,
        Key: minioObjectKey(bucket, 'overwritten'),
        Body: 'tampered',
      }),
    );
    const result = await verifyBucketManifest({ vault, vaultBucket, manifestKey, deep: true });
    expect(result.objects).toBe(3);
  });

  it('fails naming the key when the referenced vault version is deleted', async () => {
    // Arrange
    const lost = manifest.find((e) => e.key === 'lost');
    await vault.send(
      new DeleteObjectCommand({
        Bucket: vaultBucket,
        Key: minioObjectKey(bucket, 'lost'),
        VersionId: lost?.versionId,
      }),
    );

    // Act
    const error = await verifyBucketManifest({ vault, vaultBucket, manifestKey, deep: false }).catch(
      (e: unknown) => e,
    );

    // Assert
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(
      `${minioObjectKey(bucket, 'lost')} (key "lost") version ${lost?.versionId} is missing`,
    );
    expect((error as Error).message).toMatch(/1 of 3 objects failed/);
  });

  it('fails deep verification naming the key when a version does not hash to the recorded SHA-256', async () => {
    // Arrange: a manifest whose record for "keep" disagrees with the bytes of its version.
    const tamperedKey = bucketManifestKey(newBackupId(), bucket);
    const tampered = manifest
      .filter((e) => e.key !== 'lost')
      .map((e) => (e.key === 'keep' ? { ...e, sha256: sha256(Buffer.from('something else')) } : e));
    await writeJsonLines(vault, vaultBucket, tamperedKey, tampered, { gzip: true });

    // Act
    const shallow = await verifyBucketManifest({ vault, vaultBucket, manifestKey: tamperedKey, deep: false });
    const error = await verifyBucketManifest({
      vault,
      vaultBucket,
      manifestKey: tamperedKey,
      deep: true,
    }).catch((e: unknown) => e);

    // Assert
    expect(shallow.objects).toBe(2);
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toMatch(
      /minio\/_keys\/.* \(key "keep"\) version .* has SHA-256 [0-9a-f]{64}, the manifest says/,
    );
  });
});

describe('planning a bucket in parts (Plan MinIO per key range)', () => {
  const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  /**
   * One backup as the state machine runs it with parts: Prepare's items, each part planned (and its
   * batches copied) separately, then one Finalize that records a boundary every `planPartObjects` keys.
   * `copyParts` names the parts whose batches are copied (default all; an interrupted run copies fewer
   * and is not finalized).
   */
  async function backUpInParts(
    bucket: string,
    options: {
      readonly previousManifestKey?: string;
      readonly resumeCandidates?: readonly string[];
      readonly copyParts?: readonly number[];
      readonly finalize?: boolean;
    } = {},
  ) {
    const backupId = newBackupId();
    const previous = options.previousManifestKey ? { [bucket]: options.previousManifestKey } : {};
    const items = await planPartItems(vault, vaultBucket, [bucket], previous);
    const plans: BucketBackupPlan[] = [];
    for (const item of items) {
      const part = await plannedPartOf(vault, vaultBucket, {
        ...item,
        ...(options.previousManifestKey ? { previousManifestKey: options.previousManifestKey } : {}),
      });
      const plan = await planBucketBackup({
        source,
        vault,
        sourceBucket: bucket,
        vaultBucket,
        backupId,
        batchMaxObjects: 2,
        part,
        ...(options.previousManifestKey ? { previousManifestKey: options.previousManifestKey } : {}),
        ...(options.resumeCandidates ? { resumeCandidates: options.resumeCandidates } : {}),
      });
      plans.push(plan);
      if (options.copyParts && !options.copyParts.includes(item.part)) continue;
      for (let n = 1; n <= plan.batches; n++) {
        await copyBatch({
          source,
          vault,
          sourceBucket: bucket,
          vaultBucket,
          batchKey: batchKeyOf(backupId, bucket, n, part),
        });
      }
    }
    const summary =
      options.finalize === false
        ? undefined
        : await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket, planPartObjects: 6 });
    return { backupId, items, plans, summary };
  }
  const listedKeys = async (bucket: string): Promise<string[]> => {
    const page = await source.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((o) => o.Key ?? '');
  };

  it('splits the next plan at every 6th key, each part plans its range, and the manifest is whole', async () => {
    // Arrange: a first backup (no previous manifest: one part) of 20 objects; then a change in every
    // range: a key before the first, one rewritten, one deleted and one added in the middle, one after the last.
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(`${key} v1`) })));
    const first = await backUpInParts(bucket);
    const firstManifest = first.summary?.manifestKey as string;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await putSource(bucket, { key: 'a00', body: Buffer.from('new, before every boundary') });
    await putSource(bucket, { key: 'k07', body: Buffer.from('k07 v2') });
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k13' }));
    await putSource(bucket, { key: 'k11a', body: Buffer.from('new, on a boundary') });
    await putSource(bucket, { key: 'z99', body: Buffer.from('new, after every boundary') });

    // Act
    const second = await backUpInParts(bucket, { previousManifestKey: firstManifest });

    // Assert: four parts, split after k05, k11 and k17 (the boundary key belongs to the part it ends).
    expect(first.items).toEqual([{ bucket, part: 1, parts: 1 }]);
    expect(second.items.map((i) => `${i.part}/${i.parts}`)).toEqual(['1/4', '2/4', '3/4', '4/4']);
    const counts = second.plans.map((p) => [p.toCopyObjects, p.carriedObjects, p.deletedObjects]);
    expect(counts).toEqual([
      [1, 6, 0], // a00 new; k00..k05 carried
      [1, 5, 0], // k07 changed; k06, k08..k11 carried
      [1, 5, 1], // k11a new; k12, k14..k17 carried; k13 deleted
      [1, 2, 0], // z99 new; k18, k19 carried
    ]);
    // The same as one invocation planning the whole bucket against the same manifest.
    const whole = await planBucketBackup({
      source,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      backupId: newBackupId(),
      previousManifestKey: firstManifest,
    });
    expect(whole).toMatchObject({ toCopyObjects: 4, carriedObjects: 18, deletedObjects: 1 });
    const manifest = await readManifest(second.summary?.manifestKey as string);
    expect(manifest.map((e) => e.key)).toEqual(await listedKeys(bucket));
    expect(second.summary).toMatchObject({ objects: 22, copiedObjects: 4, carriedObjects: 18 });
    // Carried entries keep the first backup's vault versions (nothing copied twice).
    const before = new Map((await readManifest(firstManifest)).map((e) => [e.key, e.versionId]));
    for (const entry of manifest.filter((e) => !['a00', 'k07', 'k11a', 'z99'].includes(e.key)))
      expect(entry.versionId, entry.key).toBe(before.get(entry.key));
    await verifyBucketManifest({
      vault,
      vaultBucket,
      manifestKey: second.summary?.manifestKey as string,
      deep: true,
    });
  });

  it('refuses to plan a part when the parts file no longer splits the bucket as Prepare counted', async () => {
    // Arrange: a backup whose parts file says 4 parts.
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(key) })));
    const first = await backUpInParts(bucket);
    const previousManifestKey = first.summary?.manifestKey as string;

    // Act: a part Prepare would not have counted.
    const error = await plannedPartOf(vault, vaultBucket, {
      bucket,
      part: 2,
      parts: 3,
      previousManifestKey,
    }).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toMatch(
      new RegExp(`bucket ${bucket}, part 2 of 3: the parts file .* now has 4 parts — .*run the backup again`),
    );
  });

  it('plans a bucket whole, and says why, when its parts file is damaged or describes another manifest', async () => {
    // Arrange: a backup's parts file replaced by one out of key order, then by one naming another manifest.
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(key) })));
    const first = await backUpInParts(bucket);
    const manifestKey = first.summary?.manifestKey as string;
    const partsKey = planPartsKey(first.backupId, bucket);
    const good = { bucket, manifestKey, everyObjects: 6, objects: 20, boundaries: ['k05', 'k11', 'k17'] };
    const put = (body: unknown) =>
      vault.send(new PutObjectCommand({ Bucket: vaultBucket, Key: partsKey, Body: JSON.stringify(body) }));
    const itemsNow = async () => {
      const problems: string[] = [];
      const items = await planPartItems(vault, vaultBucket, [bucket], { [bucket]: manifestKey }, (m) =>
        problems.push(m),
      );
      return { parts: items.map((i) => i.parts), problems };
    };

    // Act and assert: as written, four parts; damaged or foreign, one part and a message naming the file.
    expect(await itemsNow()).toEqual({ parts: [4, 4, 4, 4], problems: [] });
    await put({ ...good, boundaries: ['k11', 'k05'] });
    const unordered = await itemsNow();
    expect(unordered.parts).toEqual([1]);
    expect(unordered.problems[0]).toMatch(new RegExp(`bucket ${bucket} is planned whole: .*${partsKey}`));
    await put({ ...good, manifestKey: bucketManifestKey('another-backup', bucket) });
    const foreign = await itemsNow();
    expect(foreign.parts).toEqual([1]);
    expect(foreign.problems[0]).toContain(
      `describes ${bucketManifestKey('another-backup', bucket)}, not ${manifestKey}`,
    );
  });

  it('resumes an interrupted run that was planned in parts, part by part', async () => {
    // Arrange: a first backup; then a full copy's worth of change (every object rewritten) whose run
    // is interrupted after copying only part 2's batches.
    const bucket = await createSourceBucket(keys.map((key) => ({ key, body: Buffer.from(`${key} v1`) })));
    const first = await backUpInParts(bucket);
    const previousManifestKey = first.summary?.manifestKey as string;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (const key of keys) await putSource(bucket, { key, body: Buffer.from(`${key} v2`) });
    const interrupted = await backUpInParts(bucket, { previousManifestKey, copyParts: [2], finalize: false });

    // Act
    const resumed = await backUpInParts(bucket, {
      previousManifestKey,
      resumeCandidates: [interrupted.backupId],
    });

    // Assert: part 2's six objects (k06..k11) are carried from the interrupted run, the rest copied.
    expect(resumed.plans.map((p) => [p.resumedObjects, p.toCopyObjects])).toEqual([
      [0, 6],
      [6, 0],
      [0, 6],
      [0, 2],
    ]);
    expect(resumed.summary).toMatchObject({
      objects: 20,
      copiedObjects: 14,
      carriedObjects: 6,
      resumed: { from: interrupted.backupId, objects: 6 },
    });
    for (const key of ['k06', 'k11'])
      expect(await vaultVersionCount(minioObjectKey(bucket, key)), key).toBe(2);
    await verifyBucketManifest({
      vault,
      vaultBucket,
      manifestKey: resumed.summary?.manifestKey as string,
      deep: true,
    });
  });
});
