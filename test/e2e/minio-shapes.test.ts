import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreSummary } from '../../cli/summary.js';
import type { BackupManifest, BackupSummary } from '../../functions/core/contract/backup.js';
import type { RestoreReport } from '../../functions/core/contract/restore.js';
import { readJsonLines, writeJsonLines } from '../../functions/core/manifest-io.js';
import { manifestEntrySchema } from '../../functions/core/minio-layout.js';
import {
  bucketManifestKey,
  failedKey,
  failedObjectsKeyOf,
  legacyMinioObjectKey,
  manifestKey,
  minioObjectKey,
  restoreRemovedKeyOf,
} from '../../functions/core/vault-layout.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { diffSnapshots, snapshotWire } from '../../local/seed/index.js';
import { emptyBucket, longestKey, type ObjectSpec, putObject } from '../../local/seed/minio-objects.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { emptyAndDeleteBucket } from '../support/vault.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** The shapes of issue 8, each an ObjectSpec the seeder writes (bytes derive from the labels). */
const shapes: ObjectSpec[] = [
  {
    key: longestKey('v3/long-key/'),
    size: 9 * 1024,
    contentType: 'application/octet-stream',
    metadata: { uploader: 'u-1', retention: 'persistent' },
    labels: ['shapes', 'longest'],
  },
  {
    key: 'v3/folder/',
    size: 0,
    contentType: 'application/x-directory',
    metadata: { note: 'folder marker' },
    labels: ['shapes', 'folder'],
  },
  {
    key: 'v3/empty-with-metadata',
    size: 0,
    contentType: 'application/octet-stream',
    metadata: { uploader: 'u-2', retention: 'eternal', note: 'zero bytes' },
    labels: ['shapes', 'empty'],
  },
  {
    key: 'v3/tagged',
    size: 2 * 1024,
    contentType: 'application/octet-stream',
    metadata: { uploader: 'u-3' },
    labels: ['shapes', 'tagged'],
    tags: { retention: 'eternal', project: 'wire backup', 'legal-hold': 'true' },
  },
  {
    key: 'public/report.txt',
    size: 3 * 1024 + 5,
    contentType: 'text/plain; charset=utf-8',
    metadata: { uploader: 'u-4' },
    labels: ['shapes', 'headers'],
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

/**
 * MinIO objects of every shape a long-lived installation holds (issue 8), through the real state
 * machines: backed up, the bucket destroyed, restored and compared byte for byte, header for header.
 */
describe('MinIO object shapes, end to end', () => {
  let stack: StackInfo;
  let source: S3Client;
  let vault: S3Client;
  const bucket = `shapes-${runId}`;
  const brokenBucket = `shapes-broken-${runId}`;
  const config = () => localConfig(stack, { buckets: [bucket] });
  const backup = async () => {
    const result = await runLocal({
      stateMachine: 'wire-backup',
      input: { components: ['minio'] },
      stack,
      config: config(),
    });
    if (result.status !== 'SUCCEEDED') throw new Error(`backup failed: ${result.error} ${result.cause}`);
    return (result.output as unknown as BackupSummary & { manifest: BackupManifest }).manifest;
  };
  const restore = (input: Record<string, unknown>) =>
    runLocal({ stateMachine: 'wire-restore', input: input as never, stack, config: config() });
  const snapshot = () => snapshotWire({ stack, buckets: [bucket], components: { minio: true } });
  /** Deletes a bucket with every version (the bucket may be versioned). */
  const destroyBucket = async (name: string) => {
    await emptyBucket(source, name);
    await source.send(new DeleteBucketCommand({ Bucket: name }));
  };
  const keysOf = async () => ((await snapshot()).minio?.buckets[0]?.objects ?? []).map((o) => o.key);

  let backupId: string;
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    stack = readStackInfo();
    source = createStackS3Client(stack.minio);
    vault = createStackS3Client(stack.vault);
    await source.send(new CreateBucketCommand({ Bucket: bucket }));
    // A versioned source: the backup takes the current version of each object.
    await source.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await source.send(new PutObjectCommand({ Bucket: bucket, Key: 'v3/tagged', Body: 'an older version' }));
    for (const spec of shapes) await putObject(source, bucket, spec);
  });
  afterAll(async () => {
    for (const b of [bucket, brokenBucket]) await destroyBucket(b).catch(() => {});
    source?.destroy();
    vault?.destroy();
  });

  it('backs up, destroys and restores a 1,024-byte key, a folder marker, a zero-byte object with metadata, a tagged object and every content header exactly', async () => {
    // Arrange
    before = await snapshot();
    const manifest = await backup();
    backupId = manifest.backupId;
    expect(manifest.formatVersion).toBe(2);
    const entries = [];
    for await (const entry of readJsonLines(vault, stack.vault.bucket, bucketManifestKey(backupId, bucket), {
      parse: (v) => manifestEntrySchema.parse(v),
    }))
      entries.push(entry);
    expect(entries.map((e) => e.key).sort()).toEqual(shapes.map((s) => s.key).sort());
    for (const e of entries) expect(e.vaultKey).toBe(minioObjectKey(bucket, e.key));
    expect(entries.find((e) => e.key === 'v3/tagged')?.sourceVersionId).toBeTruthy();

    // Act: destroy (a fresh Cassandra, the bucket deleted), then restore.
    execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), ['up', '--reset'], { stdio: 'ignore' });
    await destroyBucket(bucket);
    const result = await restore({ backupId, confirm: backupId, components: ['minio'] });

    // Assert
    expect(result.status, `${result.error} ${result.cause}`).toBe('SUCCEEDED');
    const after = await snapshot();
    expect(diffSnapshots(before, after)).toEqual([]);
    const objects = after.minio?.buckets[0]?.objects ?? [];
    const byKey = new Map(objects.map((o) => [o.key, o]));
    expect(Buffer.byteLength(shapes[0]?.key ?? '')).toBe(1024);
    expect(byKey.get(shapes[0]?.key ?? '')?.size).toBe(9 * 1024);
    expect(byKey.get('v3/folder/')).toMatchObject({ size: 0, metadata: { note: 'folder marker' } });
    expect(byKey.get('v3/empty-with-metadata')).toMatchObject({
      size: 0,
      sha256: sha256(''),
      metadata: { uploader: 'u-2', retention: 'eternal', note: 'zero bytes' },
    });
    expect(byKey.get('v3/tagged')?.tags).toEqual({
      retention: 'eternal',
      project: 'wire backup',
      'legal-hold': 'true',
    });
    expect(byKey.get('public/report.txt')).toMatchObject({
      contentEncoding: 'identity',
      contentDisposition: 'attachment; filename="report.txt"',
      contentLanguage: 'de-DE',
      cacheControl: 'public, max-age=31536000, immutable',
      expires: '2031-01-01T00:00:00.000Z',
    });
  });

  it('restores backup N into a bucket holding an extra object: names it by default, removes it recoverably when asked', async () => {
    // Arrange: the bucket as the restore left it, with versioning on, plus one object N does not hold.
    await source.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const extraKey = 'v3/not-in-the-backup';
    await source.send(new PutObjectCommand({ Bucket: bucket, Key: extraKey, Body: 'extra bytes' }));

    // Act 1: the default reports it by name and leaves it.
    const reported = await restore({ backupId, confirm: backupId, components: ['minio'], overwrite: true });

    // Assert 1
    expect(reported.status, `${reported.error} ${reported.cause}`).toBe('SUCCEEDED');
    const report = reported.output as unknown as RestoreReport;
    expect(report.verified?.minio[0]).toMatchObject({ extra: 1, extraKeys: [extraKey] });
    expect(restoreSummary(report, stack.vault.bucket)).toMatch(
      new RegExp(`WARNING .*${bucket} holds 1 object\\(s\\) that the backup does not hold: "${extraKey}"`),
    );
    expect(await keysOf()).toContain(extraKey);

    // Act 2: delete (the bucket is versioned: the removed object stays a noncurrent version).
    const deleted = await restore({
      backupId,
      confirm: backupId,
      components: ['minio'],
      overwrite: true,
      minio: { extraObjects: 'delete' },
    });

    // Assert 2: exactly the backup's objects, and the removed one recoverable.
    expect(deleted.status, `${deleted.error} ${deleted.cause}`).toBe('SUCCEEDED');
    const deletedReport = deleted.output as unknown as RestoreReport;
    expect(deletedReport.verified?.minio[0]).toMatchObject({ extra: 0 });
    expect(diffSnapshots(before, await snapshot())).toEqual([]);
    const removed = [];
    for await (const line of readJsonLines(
      vault,
      stack.vault.bucket,
      restoreRemovedKeyOf(deletedReport.restoreId, bucket),
      { parse: (v) => v as { key: string; recoverFrom: string; targetVersionId?: string } },
    ))
      removed.push(line);
    expect(removed).toEqual([expect.objectContaining({ key: extraKey, recoverFrom: 'target-version' })]);
    const old = await source.send(
      new GetObjectCommand({ Bucket: bucket, Key: extraKey, VersionId: removed[0]?.targetVersionId }),
    );
    expect(await old.Body?.transformToString()).toBe('extra bytes');

    // Act 3: an unversioned bucket: the removed object is set aside in the vault first.
    await source.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }),
    );
    await source.send(
      new PutObjectCommand({ Bucket: bucket, Key: extraKey, Body: 'extra again', Metadata: { who: 'ops' } }),
    );
    const setAside = await restore({
      backupId,
      confirm: backupId,
      components: ['minio'],
      overwrite: true,
      minio: { extraObjects: 'delete' },
    });

    // Assert 3
    expect(setAside.status, `${setAside.error} ${setAside.cause}`).toBe('SUCCEEDED');
    expect(await keysOf()).not.toContain(extraKey);
    const restoreId = (setAside.output as unknown as RestoreReport).restoreId;
    const aside = [];
    for await (const line of readJsonLines(
      vault,
      stack.vault.bucket,
      restoreRemovedKeyOf(restoreId, bucket),
      {
        parse: (v) => v as { key: string; recoverFrom: string; vaultKey: string; vaultVersionId: string },
      },
    ))
      aside.push(line);
    expect(aside).toEqual([expect.objectContaining({ key: extraKey, recoverFrom: 'vault' })]);
    const copy = await vault.send(
      new GetObjectCommand({
        Bucket: stack.vault.bucket,
        Key: aside[0]?.vaultKey,
        VersionId: aside[0]?.vaultVersionId,
      }),
    );
    expect(copy.Metadata).toMatchObject({ who: 'ops' });
    expect(await copy.Body?.transformToString()).toBe('extra again');
  });

  it('names the bucket, key and cause of an object that cannot be read, and writes no backup', async () => {
    // Arrange: a real fault: the object's data is gone from the MinIO drive (its metadata is intact, so
    // it is listed; every GET fails: a 503, or a body that does not match its checksum).
    await source.send(new CreateBucketCommand({ Bucket: brokenBucket }));
    await source.send(new PutObjectCommand({ Bucket: brokenBucket, Key: 'v3/fine', Body: 'fine' }));
    await source.send(
      new PutObjectCommand({
        Bucket: brokenBucket,
        Key: 'v3/broken asset',
        Body: Buffer.alloc(300 * 1024, 7),
      }),
    );
    const objectDir = join(stack.stackDir, 'minio-source', 'data', brokenBucket, 'v3', 'broken asset');
    const dataDirs = readdirSync(objectDir).filter((d) => statSync(join(objectDir, d)).isDirectory());
    expect(dataDirs).toHaveLength(1);
    rmSync(join(objectDir, dataDirs[0] ?? '', 'part.1'));

    // Act
    const result = await runLocal({
      stateMachine: 'wire-backup',
      input: { components: ['minio'] },
      stack,
      config: localConfig(stack, { buckets: [brokenBucket] }),
    });

    // Assert
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ObjectsNotCopiedError');
    expect(result.cause).toMatch(
      new RegExp(
        `1 object could not be copied.*${brokenBucket}/"v3/broken asset": GetObject s3://${brokenBucket}/v3/broken asset failed: .*(\\(HTTP 5\\d\\d\\)|Checksum mismatch).*\\(3 attempts\\)`,
      ),
    );
    const id = /backups\/([0-9TZ]+)\/minio/.exec(result.cause ?? '')?.[1] ?? '';
    expect(result.cause).toContain(`s3://${stack.vault.bucket}/${failedObjectsKeyOf(id, brokenBucket)}`);
    const failed = JSON.parse(
      (await (
        await vault.send(new GetObjectCommand({ Bucket: stack.vault.bucket, Key: failedKey(id) }))
      ).Body?.transformToString()) ?? '{}',
    ) as { error: string; cause: string };
    expect(failed.error).toBe('ObjectsNotCopiedError');
    expect(failed.cause).toContain('"v3/broken asset"');
    await expect(
      vault.send(new GetObjectCommand({ Bucket: stack.vault.bucket, Key: manifestKey(id) })),
    ).rejects.toThrow();
  });

  it('restores a backup written by the previous layout (objects at minio/<bucket>/<key>, manifest format 1)', async () => {
    // Arrange: a backup as the layout-1 code wrote it: each object's bytes and headers on a vault
    // version of minio/<bucket>/<key>, entries without vaultKey, headers or tags, manifest format 1.
    const oldId = '20200101T000000Z';
    const oldBucket = `shapes-old-${runId}`;
    const objects: { key: string; body: string; contentType: string; metadata: Record<string, string> }[] = [
      { key: 'v3/old/a', body: 'layout one', contentType: 'text/plain', metadata: { uploader: 'u-9' } },
      { key: 'v3/old/b b+c', body: '', contentType: 'application/octet-stream', metadata: {} },
    ];
    const entries = [];
    for (const o of objects) {
      const put = await vault.send(
        new PutObjectCommand({
          Bucket: stack.vault.bucket,
          Key: legacyMinioObjectKey(oldBucket, o.key),
          Body: o.body,
          ContentType: o.contentType,
          CacheControl: 'no-cache',
          Metadata: o.metadata,
        }),
      );
      entries.push({
        key: o.key,
        size: Buffer.byteLength(o.body),
        sha256: sha256(o.body),
        etag: 'e',
        versionId: put.VersionId ?? '',
        contentType: o.contentType,
        metadata: o.metadata,
        lastModified: '2020-01-01T00:00:00.000Z',
      });
    }
    const oldManifestKey = bucketManifestKey(oldId, oldBucket);
    await writeJsonLines(vault, stack.vault.bucket, oldManifestKey, entries, { gzip: true });
    const bucketResult = {
      bucket: oldBucket,
      manifestKey: oldManifestKey,
      objects: 2,
      bytes: 10,
      copiedObjects: 2,
      copiedBytes: 10,
      carriedObjects: 0,
    };
    const manifest = {
      formatVersion: 1,
      backupId: oldId,
      clusterName: config().clusterName,
      startedAt: '2020-01-01T00:00:00.000Z',
      completedAt: '2020-01-01T00:01:00.000Z',
      durationSeconds: 60,
      executionId: 'layout-1',
      previousBackupId: null,
      components: { wireServer: false, cassandra: false, minio: true },
      wireServer: null,
      cassandra: null,
      minio: { buckets: [bucketResult] },
      totals: { bytes: 10, newBytes: 10, reusedBytes: 0, files: 0, objects: 2 },
    };
    await vault.send(
      new PutObjectCommand({
        Bucket: stack.vault.bucket,
        Key: manifestKey(oldId),
        Body: JSON.stringify(manifest),
      }),
    );

    // Act
    const result = await runLocal({
      stateMachine: 'wire-restore',
      input: { backupId: oldId, confirm: oldId, components: ['minio'] } as never,
      stack,
      config: localConfig(stack, { buckets: [oldBucket] }),
    });

    // Assert
    try {
      expect(result.status, `${result.error} ${result.cause}`).toBe('SUCCEEDED');
      const restored = await snapshotWire({ stack, buckets: [oldBucket], components: { minio: true } });
      expect(
        restored.minio?.buckets[0]?.objects.map((o) => ({
          key: o.key,
          sha256: o.sha256,
          contentType: o.contentType,
          cacheControl: o.cacheControl,
          metadata: o.metadata,
        })),
      ).toEqual(
        objects.map((o) => ({
          key: o.key,
          sha256: sha256(o.body),
          contentType: o.contentType,
          cacheControl: 'no-cache',
          metadata: o.metadata,
        })),
      );
    } finally {
      await emptyAndDeleteBucket(stack, oldBucket).catch(() => {});
    }
  });
});
