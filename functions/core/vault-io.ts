import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  type S3Client,
} from '@aws-sdk/client-s3';
import { VerificationFailedError } from './errors.js';
import { type LineParser, readJsonLines, type S3Reader } from './manifest-io.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import { backupIdOfPrefix, backupIdPattern, manifestKey, vaultPrefixes } from './vault-layout.js';

/**
 * Small reads and clean-ups of vault objects that backup and restore share: a JSON document that may
 * not exist, a text object, an object's SHA-256, the list of complete backups, a whole (small) JSON Lines file, a working folder to
 * empty. Keys come from `vault-layout.ts`; streams of millions of lines are `manifest-io.ts`.
 */

/** How messages name an object: `s3://<bucket>/<key>`. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Reads a JSON object, or undefined when it does not exist. */
export async function readJsonOrUndefined<T = unknown>(
  s3: S3Reader,
  bucket: string,
  key: string,
): Promise<T | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await (out.Body as { transformToString(): Promise<string> }).transformToString()) as T;
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** The text of a vault object; unreadable → {@link VerificationFailedError} naming the key. */
export async function readVaultText(s3: S3Reader, bucket: string, key: string): Promise<string> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await (out.Body as { transformToString(): Promise<string> }).transformToString();
  } catch (error) {
    throw new VerificationFailedError(`vault object ${key} is unreadable: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Streams a vault object version and returns its SHA-256. */
export async function hashVaultObject(
  s3: S3Reader,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  const hash = createHash('sha256');
  for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The ids of the folders below `prefix` (`backups/<id>/`, `purges/<id>/`, …), reading every page of a
 * delimited listing, newest first (ids sort by time). `idOf` turns a folder prefix into its id, or
 * undefined for a folder that is not one.
 */
export async function listFolderIds(
  s3: S3Client,
  bucket: string,
  prefix: string,
  idOf: (folder: string) => string | undefined,
  options: { readonly pageSize?: number } = {},
): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        Delimiter: '/',
        ContinuationToken: token,
        ...(options.pageSize ? { MaxKeys: options.pageSize } : {}),
      }),
    );
    for (const p of page.CommonPrefixes ?? []) {
      const id = idOf(p.Prefix ?? '');
      if (id) ids.push(id);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return ids.sort().reverse();
}

/** Every backup id with a folder in the vault, newest first. */
export function listBackupIds(
  s3: S3Client,
  bucket: string,
  options: { readonly pageSize?: number } = {},
): Promise<string[]> {
  return listFolderIds(
    s3,
    bucket,
    vaultPrefixes.backups,
    (folder) => {
      const id = backupIdOfPrefix(folder);
      return id && backupIdPattern.test(id) ? id : undefined;
    },
    options,
  );
}

/** Lists complete backups (those with a manifest), newest first. */
export async function listCompleteBackups(s3: S3Client, bucket: string): Promise<string[]> {
  const complete: string[] = [];
  for (const id of await listBackupIds(s3, bucket)) {
    if (await readJsonOrUndefined(s3, bucket, manifestKey(id))) complete.push(id);
  }
  return complete;
}

/**
 * Every line of a JSON Lines object that fits in memory (one batch, one batch's result), validated by
 * `parse`; undefined when the object does not exist.
 */
export async function readJsonLinesOrUndefined<T>(
  s3: S3Reader,
  bucket: string,
  key: string,
  parse: LineParser<T>,
): Promise<T[] | undefined> {
  const lines: T[] = [];
  try {
    for await (const line of readJsonLines(s3, bucket, key, { parse })) lines.push(line);
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
  return lines;
}

/**
 * Deletes every current object under `prefix`: what an earlier attempt of a plan left (a retry must
 * not leave stale batch files). Transient failures throw `TransientStorageError`.
 */
export async function clearVaultFolder(vault: S3Client, vaultBucket: string, prefix: string): Promise<void> {
  let continuationToken: string | undefined;
  try {
    do {
      const page = await vault.send(
        new ListObjectsV2Command({
          Bucket: vaultBucket,
          Prefix: prefix,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) await vault.send(new DeleteObjectCommand({ Bucket: vaultBucket, Key: object.Key }));
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  } catch (error) {
    throw toStorageError(error, `clearing ${s3Url(vaultBucket, prefix)}`);
  }
}
