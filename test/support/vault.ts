import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  backupIdOfPrefix,
  backupIdPattern,
  startedKey,
  vaultPrefixes,
} from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createSourceS3Client } from '../../local/seed/connections.js';
import type { StackInfo } from '../../local/stack-info.js';

/** Backup ids that have a prefix in the vault (complete or not). */
export async function listBackupIds(s3: S3Client, bucket: string): Promise<string[]> {
  const out = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: vaultPrefixes.backups, Delimiter: '/' }),
  );
  // Only backup-shaped ids: other tests' probe folders (backups/iam-test-…/) would sort after them all.
  return (out.CommonPrefixes ?? [])
    .map((p) => backupIdOfPrefix(p.Prefix ?? '') ?? '')
    .filter((id) => backupIdPattern.test(id))
    .sort();
}

/** Whether a key exists (current version). */
export async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-0' }));
    return true;
  } catch {
    return false;
  }
}

/** Reads a JSON object of the vault. */
export async function readVaultJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await (out.Body as { transformToString(): Promise<string> }).transformToString()) as T;
}

/** The backup id and start of the run `executionArn`, from the `started.json` that records it. */
export async function startedRunOf(
  s3: S3Client,
  bucket: string,
  executionArn: string,
): Promise<{ backupId: string; startedAt: string }> {
  for (const backupId of await listBackupIds(s3, bucket)) {
    const started = await readVaultJson<{ executionId?: string; startedAt: string }>(
      s3,
      bucket,
      startedKey(backupId),
    ).catch(() => undefined);
    if (started?.executionId === executionArn) return { backupId, startedAt: started.startedAt };
  }
  throw new Error(`no started.json records ${executionArn}`);
}

/** Reads a text object of the vault. */
export async function readVaultText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (out.Body as { transformToString(): Promise<string> }).transformToString();
}

/** Every current key under a prefix. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Every object version (and delete marker) under a prefix, oldest page first. */
export async function listVersions(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ versions: ObjectVersion[]; deleteMarkers: ObjectVersion[] }> {
  const versions: ObjectVersion[] = [];
  const deleteMarkers: ObjectVersion[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    for (const v of page.Versions ?? []) versions.push({ key: v.Key ?? '', versionId: v.VersionId ?? '' });
    for (const m of page.DeleteMarkers ?? [])
      deleteMarkers.push({ key: m.Key ?? '', versionId: m.VersionId ?? '' });
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return { versions, deleteMarkers };
}

/** One version of a key. */
export interface ObjectVersion {
  readonly key: string;
  readonly versionId: string;
}

/** Counts object versions (uploads) under a prefix: what the vault really received. */
export async function countVersions(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  return (await listVersions(s3, bucket, prefix)).versions.length;
}

/**
 * Deletes every version and delete marker under each prefix whose key `matches`
 * (test clean-up: a test's probe objects must not look like backups to the tests after it).
 */
export async function deleteVersions(
  s3: S3Client,
  bucket: string,
  prefixes: readonly string[],
  matches: (key: string) => boolean,
): Promise<number> {
  let deleted = 0;
  for (const prefix of prefixes) {
    const { versions, deleteMarkers } = await listVersions(s3, bucket, prefix);
    const doomed = [...versions, ...deleteMarkers].filter((v) => matches(v.key));
    for (let i = 0; i < doomed.length; i += 1000) {
      await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: {
            Objects: doomed.slice(i, i + 1000).map((v) => ({ Key: v.key, VersionId: v.versionId })),
            Quiet: true,
          },
          BypassGovernanceRetention: true,
        }),
      );
    }
    deleted += doomed.length;
  }
  return deleted;
}

/** Deletes a bucket of the source MinIO with everything in it (test clean-up). */
export async function emptyAndDeleteBucket(stack: StackInfo, bucket: string): Promise<void> {
  const s3 = createSourceS3Client(stack);
  try {
    await deleteBucketAndObjects(s3, bucket);
  } finally {
    s3.destroy();
  }
}
