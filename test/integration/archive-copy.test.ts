import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { copyToArchive } from '../../functions/core/archive-copy.js';
import type { ArchiveItem, ArchivePlan } from '../../functions/core/contract/archive.js';
import { writeJsonLines } from '../../functions/core/manifest-io.js';
import { archiveObjectKey, archiveObjectsKey } from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';

/**
 * Copy To Archive against the real vault server (its first bucket as the vault, its second as the
 * archive): objects with the same bytes share one content-addressed archive key, and concurrent copies
 * within one call must write that key once (CI once found two versions of a shared key after the
 * first archive, the one race `archive.test.ts` can only see by chance).
 */
const stack = readStackInfo();
const s3 = createStackS3Client(stack.vault);
const vaultBucket = stack.vault.bucket;
const archiveBucket = stack.vault.archiveBucket;
const run = `it-archive-copy-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
const written: { bucket: string; key: string }[] = [];
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function versionsOf(bucket: string, key: string): Promise<number> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return (page.Versions ?? []).filter((v) => v.Key === key).length;
}

afterAll(async () => {
  for (const { bucket, key } of written) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])])
      if (v.Key === key)
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: v.VersionId }));
  }
  s3.destroy();
});

describe('copyToArchive', () => {
  it('copies bytes shared by several vault objects once, and references them for the others', async () => {
    // Twelve vault objects with the same bytes (more than the copy's concurrency) and one other.
    const shared = randomBytes(64 * 1024);
    const other = randomBytes(1024);
    const items: ArchiveItem[] = [];
    const put = async (name: string, body: Buffer) => {
      const key = `backups/${run}/${name}`;
      const out = await s3.send(new PutObjectCommand({ Bucket: vaultBucket, Key: key, Body: body }));
      written.push({ bucket: vaultBucket, key });
      const hash = sha256(body);
      items.push({
        kind: 'object',
        vaultKey: key,
        versionId: out.VersionId ?? 'null',
        sha256: hash,
        size: body.length,
        archiveKey: archiveObjectKey(hash),
      });
    };
    for (let i = 0; i < 12; i += 1) await put(`same-${i}.db`, shared);
    await put('other.db', other);
    const itemsKey = archiveObjectsKey(run);
    await writeJsonLines(s3, archiveBucket, itemsKey, items, { gzip: true });
    written.push(
      { bucket: archiveBucket, key: itemsKey },
      { bucket: archiveBucket, key: archiveObjectKey(sha256(shared)) },
      { bucket: archiveBucket, key: archiveObjectKey(sha256(other)) },
    );
    const plan: ArchivePlan = {
      backupId: run,
      vaultBucket,
      archiveBucket,
      archiveRegion: stack.vault.region,
      storageClass: 'STANDARD',
      itemsKey,
      items: items.length,
      bytes: items.reduce((n, i) => n + i.size, 0),
      alreadyArchived: false,
    };
    const deps = {
      vault: s3,
      vaultBucket,
      archive: { client: s3, bucket: archiveBucket, region: stack.vault.region, storageClass: 'STANDARD' },
      now: () => new Date(),
    };

    const progress = await copyToArchive(plan, undefined, deps, { concurrency: 8 });
    expect(progress).toEqual({
      cursor: 13,
      done: true,
      copiedObjects: 2,
      copiedBytes: shared.length + other.length,
      referencedObjects: 11,
    });
    expect(await versionsOf(archiveBucket, archiveObjectKey(sha256(shared)))).toBe(1);
    expect(await versionsOf(archiveBucket, archiveObjectKey(sha256(other)))).toBe(1);

    // A second call over the same list references everything and writes nothing.
    const again = await copyToArchive(plan, undefined, deps, { concurrency: 8 });
    expect(again).toMatchObject({ copiedObjects: 0, referencedObjects: 13 });
    expect(await versionsOf(archiveBucket, archiveObjectKey(sha256(shared)))).toBe(1);
  }, 120_000);
});
