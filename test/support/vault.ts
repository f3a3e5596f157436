import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { backupIdOfPrefix, vaultPrefixes } from '../../functions/core/vault-layout.js';
import { deleteBucketAndObjects } from '../../local/drill.js';
import { createSourceS3Client } from '../../local/seed/connections.js';
import type { StackInfo } from '../../local/stack-info.js';

/** Backup ids that have a prefix in the vault (complete or not). */
export async function listBackupIds(s3: S3Client, bucket: string): Promise<string[]> {
  const out = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: vaultPrefixes.backups, Delimiter: '/' }),
  );
  return (out.CommonPrefixes ?? []).map((p) => backupIdOfPrefix(p.Prefix ?? '') ?? '').sort();
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

/** Counts object versions (uploads) under a prefix: what the vault really received. */
export async function countVersions(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let count = 0;
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
    count += page.Versions?.length ?? 0;
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return count;
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
