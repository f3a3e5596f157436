import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceS3Client, createVaultS3Client } from '../../functions/core/clients.js';
import {
  RestoreRefusedError,
  RestoreVerificationError,
  VerificationFailedError,
} from '../../functions/core/errors.js';
import { readJsonLines, writeJsonLines } from '../../functions/core/manifest-io.js';
import { copyBatch } from '../../functions/core/minio-copy.js';
import { type ManifestEntry, manifestEntrySchema } from '../../functions/core/minio-layout.js';
import { finalizeBucketManifest } from '../../functions/core/minio-manifest.js';
import { planBucketBackup } from '../../functions/core/minio-plan.js';
import { defaultPartSizeBytes } from '../../functions/core/object-transfer.js';
import { type RestoreBatchResult, restoreBatch } from '../../functions/core/restore-minio-copy.js';
import {
  type BucketRestorePlan,
  planBucketRestore,
  restoreBatchItemsOf,
  writeRestoreBatchIndex,
} from '../../functions/core/restore-minio-plan.js';
import { verifyBucketRestore } from '../../functions/core/restore-minio-verify.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  bucketManifestKey,
  minioObjectKey,
  restoreBatchIndexKey,
  restoreBucketPrefix,
} from '../../functions/core/vault-layout.js';
import { readStackInfo } from '../../local/stack-info.js';

const MiB = 1024 * 1024;
const stack = readStackInfo();
/** The on-prem MinIO: source of the backup and target of the restore. */
const minio = createSourceS3Client({
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
const runId = randomUUID().slice(0, 8);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** One source object the tests put. */
interface SourceObject {
  readonly key: string;
  readonly body: Buffer;
  readonly headers?: Omit<PutObjectCommandInput, 'Bucket' | 'Key' | 'Body'>;
}

/** What a restored object must carry: the bytes and headers of the source object at backup time. */
interface Original {
  readonly body: Buffer;
  readonly head: HeadObjectCommandOutput;
}

const createdBuckets: string[] = [];
const backupIds: string[] = [];
const restoreIds: string[] = [];
const newBackupId = (): string => {
  const id = `it-mr-${runId}-b${backupIds.length + 1}`;
  backupIds.push(id);
  return id;
};
const newRestoreId = (): string => {
  const id = `it-mr-${runId}-r${restoreIds.length + 1}`;
  restoreIds.push(id);
  return id;
};
/** A bucket name for this run; registered for clean-up whether or not a test creates it. */
const bucketName = (suffix: string): string => {
  const name = `it-mr-${runId}-${suffix}`;
  createdBuckets.push(name);
  return name;
};

async function createBucket(bucket: string, objects: readonly SourceObject[]): Promise<void> {
  await minio.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const object of objects) {
    await minio.send(
      new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: object.body, ...object.headers }),
    );
  }
}

async function readBody(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const chunks: Buffer[] = [];
  for await (const chunk of response.Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listKeys(client: S3Client, bucket: string): Promise<{ key: string; etag: string }[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => ({ key: o.Key ?? '', etag: o.ETag ?? '' }));
}

async function bucketExists(bucket: string): Promise<boolean> {
  try {
    await minio.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch {
    return false;
  }
}

/** Every version and delete marker under `prefix` in the vault. */
async function vaultVersionsUnder(prefix: string): Promise<{ key: string; versionId: string }[]> {
  const found: { key: string; versionId: string }[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await vault.send(
      new ListObjectVersionsCommand({
        Bucket: vaultBucket,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const version of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      found.push({ key: version.Key ?? '', versionId: version.VersionId ?? '' });
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return found;
}

async function deleteVaultPrefix(prefix: string): Promise<void> {
  for (const { key, versionId } of await vaultVersionsUnder(prefix)) {
    await vault.send(new DeleteObjectCommand({ Bucket: vaultBucket, Key: key, VersionId: versionId }));
  }
}

async function deleteMinioBucket(bucket: string): Promise<void> {
  if (!(await bucketExists(bucket))) return;
  const uploads = await minio.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await minio.send(
      new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
    );
  }
  for (;;) {
    const page = await minio.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (!page.Contents?.length) break;
    for (const object of page.Contents)
      await minio.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
  }
  await minio.send(new DeleteBucketCommand({ Bucket: bucket }));
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

/** Backs a bucket up as the backup state machine does: plan → copy every batch → finalize. */
async function backUp(bucket: string): Promise<string> {
  const backupId = newBackupId();
  const plan = await planBucketBackup({
    source: minio,
    vault,
    sourceBucket: bucket,
    vaultBucket,
    backupId,
    batchMaxObjects: 4,
  });
  for (let n = 1; n <= plan.batches; n++) {
    await copyBatch({
      source: minio,
      vault,
      sourceBucket: bucket,
      vaultBucket,
      batchKey: batchKeyOf(backupId, bucket, n),
    });
  }
  return (await finalizeBucketManifest({ vault, vaultBucket, backupId, bucket })).manifestKey;
}

/** Restores as the restore state machine does: plan → restore every batch. */
async function restore(
  manifestKey: string,
  targetBucket: string,
  options: { overwrite?: boolean; restoreId?: string } = {},
): Promise<{ plan: BucketRestorePlan; results: RestoreBatchResult[] }> {
  const plan = await planBucketRestore({
    vault,
    vaultBucket,
    manifestKey,
    target: minio,
    targetBucket,
    restoreId: options.restoreId ?? newRestoreId(),
    overwrite: options.overwrite ?? false,
    batchMaxObjects: 4,
  });
  const results: RestoreBatchResult[] = [];
  for (const batchKey of plan.batchKeys) {
    results.push(
      await restoreBatch({
        vault,
        vaultBucket,
        target: minio,
        sourceBucket: plan.sourceBucket,
        targetBucket,
        batchKey,
      }),
    );
  }
  return { plan, results };
}

/** Asserts the target object has the original's bytes and every header the backup keeps. */
async function expectRestored(targetBucket: string, key: string, original: Original): Promise<void> {
  const head = await minio.send(new HeadObjectCommand({ Bucket: targetBucket, Key: key }));
  const body = await readBody(minio, targetBucket, key);
  expect(sha256(body), key).toBe(sha256(original.body));
  expect(
    {
      ContentType: head.ContentType,
      ContentEncoding: head.ContentEncoding,
      CacheControl: head.CacheControl,
      ContentDisposition: head.ContentDisposition,
      ContentLanguage: head.ContentLanguage,
      Metadata: head.Metadata,
    },
    key,
  ).toEqual({
    ContentType: original.head.ContentType,
    ContentEncoding: original.head.ContentEncoding,
    CacheControl: original.head.CacheControl,
    ContentDisposition: original.head.ContentDisposition,
    ContentLanguage: original.head.ContentLanguage,
    Metadata: original.head.Metadata,
  });
}

afterAll(async () => {
  for (const bucket of createdBuckets) {
    await deleteMinioBucket(bucket);
    await deleteVaultPrefix(`minio/${bucket}/`);
  }
  for (const backupId of backupIds) await deleteVaultPrefix(`backups/${backupId}/`);
  for (const restoreId of restoreIds) await deleteVaultPrefix(`restores/${restoreId}/`);
});

describe('MinIO bucket restore: plan, restore batches, verify', () => {
  const objects: SourceObject[] = [
    { key: 'empty', body: Buffer.alloc(0) },
    {
      key: 'small.txt',
      body: Buffer.from('hello wire\n'),
      headers: {
        ContentType: 'text/plain; charset=utf-8',
        CacheControl: 'max-age=3600',
        ContentDisposition: 'attachment; filename="small.txt"',
        ContentLanguage: 'de',
        Metadata: { owner: 'alice', 'asset-token': 'tok-123' },
      },
    },
    {
      key: 'v3/compressed.json',
      body: gzipSync(Buffer.from('{"hello":"world"}'.repeat(100))),
      headers: { ContentType: 'application/json', ContentEncoding: 'gzip' },
    },
    {
      key: 'big.bin',
      body: randomBytes(17 * MiB + 5),
      headers: { ContentType: 'application/octet-stream', Metadata: { kind: 'large' } },
    },
    { key: 'dir with space/a b.txt', body: Buffer.from('spaces'), headers: { ContentType: 'text/plain' } },
    { key: 'ünïcödé/ファイル.txt', body: Buffer.from('unicode'), headers: { Metadata: { note: 'x' } } },
    { key: 'plus+sign', body: Buffer.from('plus'), headers: { ContentType: 'image/png' } },
    { key: 'percent%20literal', body: Buffer.from('percent') },
    { key: 'emoji 😀 and ～', body: Buffer.from('emoji') },
  ];
  const originals = new Map<string, Original>();
  let bucket: string;
  let restored: string;
  let manifestKey: string;
  let first: { plan: BucketRestorePlan; results: RestoreBatchResult[] };

  beforeAll(async () => {
    bucket = bucketName('src');
    restored = bucketName('restored');
    await createBucket(bucket, objects);
    for (const object of objects) {
      const head = await minio.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }));
      originals.set(object.key, { body: object.body, head });
    }
    manifestKey = await backUp(bucket);
    // The source moves on after the backup: a restore must bring back the old versions.
    await minio.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'small.txt',
        Body: 'changed after the backup',
        ContentType: 'text/html',
        Metadata: { owner: 'mallory' },
      }),
    );
    await minio.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'plus+sign' }));
    await minio.send(new PutObjectCommand({ Bucket: bucket, Key: 'added-later', Body: 'new' }));
    first = await restore(manifestKey, restored);
  });

  it('plans every manifest object in batches and creates the missing target bucket', () => {
    const bytes = objects.reduce((sum, o) => sum + o.body.length, 0);
    expect(first.plan).toMatchObject({
      sourceBucket: bucket,
      targetBucket: restored,
      manifestKey,
      objects: objects.length,
      bytes,
      batches: Math.ceil(objects.length / 4),
      dryRun: false,
      targetState: 'missing',
    });
    expect(first.plan.batchKeys[0]).toMatch(
      new RegExp(`^${restoreBucketPrefix('.*', bucket)}batches/00001\\.jsonl$`),
    );
    expect(first.results.reduce((sum, r) => sum + r.restoredObjects, 0)).toBe(objects.length);
    expect(first.results.reduce((sum, r) => sum + r.restoredBytes, 0)).toBe(bytes);
  });

  it('restores the bytes, content type, headers and metadata every object had at backup time', async () => {
    for (const object of objects)
      await expectRestored(restored, object.key, originals.get(object.key) as Original);
    expect((await listKeys(minio, restored)).map((o) => o.key)).not.toContain('added-later');
  });

  it('writes an object above the threshold with a multipart upload', async () => {
    const head = await minio.send(new HeadObjectCommand({ Bucket: restored, Key: 'big.bin' }));
    // 17 MiB + 5 bytes in parts of the default part size (8 MiB: 3 parts)
    expect(head.ETag).toMatch(new RegExp(`-${Math.ceil((17 * 1024 * 1024 + 5) / defaultPartSizeBytes)}"$`));
  });

  it('verifies the restored bucket against the manifest, shallow and deep', async () => {
    for (const deep of [false, true]) {
      const result = await verifyBucketRestore({
        vault,
        vaultBucket,
        manifestKey,
        target: minio,
        targetBucket: restored,
        deep,
      });
      expect(result).toEqual({
        sourceBucket: bucket,
        targetBucket: restored,
        manifestKey,
        objects: objects.length,
        bytes: objects.reduce((sum, o) => sum + o.body.length, 0),
        deep,
        missing: [],
        missingCount: 0,
        mismatched: [],
        mismatchedCount: 0,
        extra: [],
        extraCount: 0,
      });
    }
  });

  it('does not restore a batch again once its result is complete', async () => {
    // Arrange
    const batchKey = first.plan.batchKeys[0] as string;
    const before = await minio.send(new HeadObjectCommand({ Bucket: restored, Key: 'big.bin' }));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // LastModified has one-second resolution

    // Act
    const retry = await restoreBatch({
      vault,
      vaultBucket,
      target: minio,
      sourceBucket: bucket,
      targetBucket: restored,
      batchKey,
    });

    // Assert
    expect(retry).toEqual(first.results[0]);
    const after = await minio.send(new HeadObjectCommand({ Bucket: restored, Key: 'big.bin' }));
    expect(after.LastModified).toEqual(before.LastModified);
  });

  it('writes the batch index the Distributed Map reads', async () => {
    // Arrange
    const restoreId = newRestoreId();
    const items = restoreBatchItemsOf(first.plan);

    // Act
    const written = await writeRestoreBatchIndex(vault, vaultBucket, restoreId, items);

    // Assert
    expect(written).toMatchObject({ key: restoreBatchIndexKey(restoreId), lines: first.plan.batches });
    const lines: unknown[] = [];
    for await (const line of readJsonLines(vault, vaultBucket, restoreBatchIndexKey(restoreId)))
      lines.push(line);
    expect(lines).toEqual(
      first.plan.batchKeys.map((batchKey) => ({ bucket, targetBucket: restored, batchKey })),
    );
  });

  it('refuses to restore into a non-empty bucket without overwrite, and writes nothing', async () => {
    // Arrange
    const restoreId = newRestoreId();
    const before = await listKeys(minio, bucket);

    // Act
    const error = await planBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: bucket,
      restoreId,
      overwrite: false,
    }).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect((error as Error).message).toBe(
      `target bucket ${bucket} holds ${before.length} objects, not only this backup's ("added-later" is not, or differs in size): pass overwrite, or choose an empty bucket`,
    );
    expect(await vaultVersionsUnder(`restores/${restoreId}/`)).toEqual([]);
    expect(await listKeys(minio, bucket)).toEqual(before);
  });

  it('goes on without overwrite into a bucket that holds only this backup’s objects (an interrupted restore of it)', async () => {
    // Arrange: a restore that stopped after writing some objects (the rest of the bucket is gone).
    const target = bucketName('resumed');
    await restore(manifestKey, target);
    const written = await listKeys(minio, target);
    const lost = written.slice(0, Math.ceil(written.length / 2));
    for (const o of lost) await minio.send(new DeleteObjectCommand({ Bucket: target, Key: o.key }));

    // Act: the same restore again, without overwrite.
    const { plan } = await restore(manifestKey, target);
    const result = await verifyBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: target,
      deep: true,
      strict: true,
    });

    // Assert
    expect(plan.targetState).toBe('non-empty');
    expect(result).toMatchObject({ missingCount: 0, mismatchedCount: 0, extraCount: 0 });

    // …and one object of someone else's makes it refuse again, naming that object.
    await minio.send(new PutObjectCommand({ Bucket: target, Key: 'zz-not-from-the-backup', Body: 'x' }));
    const refused = await restore(manifestKey, target).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RestoreRefusedError);
    expect((refused as Error).message).toContain('("zz-not-from-the-backup" is not, or differs in size)');
  });

  it('writes nothing in a dry run: no target bucket, no batch files', async () => {
    // Arrange
    const restoreId = newRestoreId();
    const target = bucketName('dry');

    // Act
    const plan = await planBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: target,
      restoreId,
      overwrite: false,
      dryRun: true,
      batchMaxObjects: 4,
    });

    // Assert
    expect(plan).toMatchObject({
      objects: objects.length,
      batches: first.plan.batches,
      dryRun: true,
      targetState: 'missing',
    });
    expect(await bucketExists(target)).toBe(false);
    expect(await vaultVersionsUnder(`restores/${restoreId}/`)).toEqual([]);
  });

  it('overwrites a non-empty bucket when asked, and reports objects the backup did not have as extra', async () => {
    // Act: restore the backup over the source, which changed since.
    const { plan } = await restore(manifestKey, bucket, { overwrite: true });
    const result = await verifyBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: bucket,
      deep: true,
    });
    const strict = await verifyBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: bucket,
      deep: false,
      strict: true,
    }).catch((e: unknown) => e);

    // Assert
    expect(plan.targetState).toBe('non-empty');
    await expectRestored(bucket, 'small.txt', originals.get('small.txt') as Original);
    await expectRestored(bucket, 'plus+sign', originals.get('plus+sign') as Original);
    expect(result).toMatchObject({
      missingCount: 0,
      mismatchedCount: 0,
      extra: ['added-later'],
      extraCount: 1,
    });
    expect(strict).toBeInstanceOf(RestoreVerificationError);
    expect((strict as Error).message).toContain('1 not in the backup ("added-later")');
  });

  it('fails verification naming missing and different objects; only a deep check sees changed bytes', async () => {
    // Arrange: damage the restored bucket three ways.
    await minio.send(new DeleteObjectCommand({ Bucket: restored, Key: 'empty' }));
    await minio.send(
      new CopyObjectCommand({
        Bucket: restored,
        Key: 'ünïcödé/ファイル.txt',
        CopySource: `${restored}/${encodeURIComponent('ünïcödé/ファイル.txt')}`,
        MetadataDirective: 'REPLACE',
        Metadata: { note: 'y' },
        ContentType: originals.get('ünïcödé/ファイル.txt')?.head.ContentType,
      }),
    );
    await minio.send(
      new PutObjectCommand({
        Bucket: restored,
        Key: 'dir with space/a b.txt',
        Body: 'spacez', // same size, same headers, other bytes
        ContentType: 'text/plain',
      }),
    );
    const input = { vault, vaultBucket, manifestKey, target: minio, targetBucket: restored };

    // Act
    const shallow = await verifyBucketRestore({ ...input, deep: false }).catch((e: unknown) => e);
    const deep = await verifyBucketRestore({ ...input, deep: true }).catch((e: unknown) => e);

    // Assert
    expect(shallow).toBeInstanceOf(RestoreVerificationError);
    expect((shallow as Error).message).toMatch(
      /1 missing \("empty"\); 1 different \("ünïcödé\/ファイル.txt": metadata/,
    );
    expect((shallow as Error).message).not.toContain('dir with space');
    expect(deep).toBeInstanceOf(RestoreVerificationError);
    expect((deep as Error).message).toContain('2 different');
    expect((deep as Error).message).toMatch(
      /"dir with space\/a b.txt": SHA-256 [0-9a-f]{64}, the manifest says/,
    );
  });
});

describe('planBucketRestore of an empty bucket', () => {
  it('creates the empty target bucket with no batches, and an empty index', async () => {
    // Arrange
    const bucket = bucketName('empty');
    await createBucket(bucket, []);
    const manifestKey = await backUp(bucket);
    const target = bucketName('empty-restored');
    const restoreId = newRestoreId();

    // Act
    const plan = await planBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: target,
      restoreId,
      overwrite: false,
    });
    const index = await writeRestoreBatchIndex(vault, vaultBucket, restoreId, restoreBatchItemsOf(plan));
    const verified = await verifyBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: target,
      deep: true,
    });

    // Assert
    expect(plan).toMatchObject({ objects: 0, bytes: 0, batches: 0, batchKeys: [], targetState: 'missing' });
    expect(await bucketExists(target)).toBe(true);
    expect(index.lines).toBe(0);
    expect(verified).toMatchObject({ objects: 0, missingCount: 0, mismatchedCount: 0, extraCount: 0 });
  });
});

describe('restoreBatch from a damaged vault', () => {
  const big = randomBytes(17 * MiB);
  let bucket: string;
  let manifestKey: string;
  let manifest: ManifestEntry[];

  beforeAll(async () => {
    bucket = bucketName('damaged');
    await createBucket(bucket, [
      { key: 'keep', body: Buffer.from('keep me') },
      { key: 'big.bin', body: big },
      { key: 'lost', body: Buffer.from('lose me') },
    ]);
    manifestKey = await backUp(bucket);
    manifest = await readManifest(manifestKey);
  });

  it('fails naming key and version when the vault bytes do not hash to the manifest SHA-256, committing nothing', async () => {
    // Arrange: a hand-edited copy of the manifest whose records for "keep" and "big.bin" disagree with
    // the bytes of their versions (one single PUT, one multipart upload).
    const tamperedKey = bucketManifestKey(newBackupId(), bucket);
    const wrong = sha256(Buffer.from('something else'));
    const tampered = manifest.map((e) =>
      e.key === 'keep' || e.key === 'big.bin' ? { ...e, sha256: wrong } : e,
    );
    await writeJsonLines(vault, vaultBucket, tamperedKey, tampered, { gzip: true });
    const target = bucketName('damaged-a');
    const plan = await planBucketRestore({
      vault,
      vaultBucket,
      manifestKey: tamperedKey,
      target: minio,
      targetBucket: target,
      restoreId: newRestoreId(),
      overwrite: false,
      batchMaxObjects: 1,
    });

    for (const key of ['keep', 'big.bin']) {
      const entry = manifest.find((e) => e.key === key) as ManifestEntry;
      const batchKey = plan.batchKeys[manifest.indexOf(entry)] as string;

      // Act
      const error = await restoreBatch({
        vault,
        vaultBucket,
        target: minio,
        sourceBucket: bucket,
        targetBucket: target,
        batchKey,
      }).catch((e: unknown) => e);

      // Assert
      expect(error, key).toBeInstanceOf(VerificationFailedError);
      expect((error as Error).message).toContain(
        `${minioObjectKey(bucket, key)} version ${entry.versionId} (key "${key}")`,
      );
      expect((error as Error).message).toMatch(
        /SHA-256 [0-9a-f]{64} differs from the manifest's .* the vault copy is corrupt/,
      );
      expect(
        (await listKeys(minio, target)).map((o) => o.key),
        key,
      ).not.toContain(key);
      const uploads = await minio.send(new ListMultipartUploadsCommand({ Bucket: target, Prefix: key }));
      expect(uploads.Uploads ?? [], key).toEqual([]);
    }
  });

  it('fails naming key and version when the referenced vault version was deleted', async () => {
    // Arrange
    const lost = manifest.find((e) => e.key === 'lost') as ManifestEntry;
    await vault.send(
      new DeleteObjectCommand({
        Bucket: vaultBucket,
        Key: minioObjectKey(bucket, 'lost'),
        VersionId: lost.versionId,
      }),
    );
    const target = bucketName('damaged-b');
    const plan = await planBucketRestore({
      vault,
      vaultBucket,
      manifestKey,
      target: minio,
      targetBucket: target,
      restoreId: newRestoreId(),
      overwrite: false,
    });

    // Act
    const error = await restoreBatch({
      vault,
      vaultBucket,
      target: minio,
      sourceBucket: bucket,
      targetBucket: target,
      batchKey: plan.batchKeys[0] as string,
    }).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(
      `${minioObjectKey(bucket, 'lost')} version ${lost.versionId} (key "lost") is missing from the vault`,
    );
    expect(await vaultVersionsUnder(batchResultKeyOf(plan.batchKeys[0] as string))).toEqual([]);
  });
});
