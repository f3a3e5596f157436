import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { writeJsonLines } from './manifest-io.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import { contentHeadersOf, transferSettingsOf, uploadOf } from './object-transfer.js';
import { manifestEntries, type RestoreSourceAccess } from './restore-minio-plan.js';
import { ExampleList, joinManifestWithTarget, listTargetObjects } from './restore-minio-verify.js';
import { s3Url } from './vault-io.js';
import { restoreRemovedKeyOf, restoreSetAsideKeyOf } from './vault-layout.js';

/**
 * Objects in a restore's target bucket that the backup does not hold ("extra objects"). After a
 * restore of backup N the bucket must hold exactly N's objects, so extras are found before the copy
 * and either reported by name (`extraObjects: "report"`, the default) or removed
 * (`extraObjects: "delete"`), each kept recoverable first: on a target bucket with versioning enabled
 * the delete only adds a delete marker (the version id that was current is recorded); on any other
 * bucket the object (bytes, content headers, metadata, tags) is copied aside into the vault, under
 * `restores/<restoreId>/minio/<bucket>/removed/`, before it is deleted. What was removed, and where each
 * one can be recovered from, is listed in `restores/<restoreId>/minio/<bucket>/removed.jsonl`.
 * Memory: the manifest and the target listing stream; the removed list holds the extras.
 */

/** What to do with target objects the backup does not hold. */
export const extraObjectsModes = ['report', 'delete'] as const;
/** What to do with target objects the backup does not hold. */
export type ExtraObjectsMode = (typeof extraObjectsModes)[number];

/** One object removed from a target bucket, and where it can be recovered from. */
export const removedObjectSchema = z.object({
  key: z.string(),
  size: z.number(),
  /** `target-version`: a noncurrent version in the target bucket; `vault`: a copy set aside in the vault. */
  recoverFrom: z.enum(['target-version', 'vault']),
  /** The version id it has in the target (recoverFrom `target-version`). */
  targetVersionId: z.string().optional(),
  /** The vault key and version of the copy set aside (recoverFrom `vault`). */
  vaultKey: z.string().optional(),
  vaultVersionId: z.string().optional(),
});
/** One object removed from a target bucket. */
export type RemovedObject = z.infer<typeof removedObjectSchema>;

/** Input of {@link handleExtraObjects}. */
export interface HandleExtraObjectsInput {
  readonly vault: S3Client;
  readonly vaultBucket: string;
  readonly manifestKey: string;
  /** Where the manifest is read (the archive on a restore from there). @default - the vault */
  readonly source?: RestoreSourceAccess;
  /** The bucket the manifest describes (names the restore's working folder). */
  readonly sourceBucket: string;
  readonly target: S3Client;
  readonly targetBucket: string;
  readonly restoreId: string;
  readonly mode: ExtraObjectsMode;
  /** Find and report only; remove nothing, write nothing. */
  readonly dryRun: boolean;
}

/** What {@link handleExtraObjects} found and did. Lists hold the first 20; counts cover all. */
export interface ExtraObjectsOutcome {
  readonly targetBucket: string;
  /** Target keys the backup does not hold, found before the copy. */
  readonly extra: { readonly count: number; readonly keys: string[] };
  /** Of those, removed (mode `delete`, not a dry run), and the list of where each can be recovered. */
  readonly removed: { readonly count: number; readonly keys: string[]; readonly listKey?: string };
}

async function isVersioned(target: S3Client, bucket: string): Promise<boolean> {
  try {
    const versioning = await target.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return versioning.Status === 'Enabled';
  } catch (error) {
    throw toStorageError(error, `GetBucketVersioning ${bucket}`);
  }
}

/** Copies a target object into the vault (bytes, headers, metadata, tags); its vault version id. */
async function setAside(
  input: HandleExtraObjectsInput,
  key: string,
): Promise<{ vaultKey: string; versionId: string }> {
  const vaultKey = restoreSetAsideKeyOf(input.restoreId, input.sourceBucket, key);
  const where = s3Url(input.targetBucket, key);
  let response: GetObjectCommandOutput;
  try {
    response = await input.target.send(new GetObjectCommand({ Bucket: input.targetBucket, Key: key }));
  } catch (error) {
    throw toStorageError(error, `reading ${where} to set it aside before removing it`);
  }
  const body = response.Body as Readable;
  try {
    const tags = response.TagCount
      ? Object.fromEntries(
          (
            (await input.target.send(new GetObjectTaggingCommand({ Bucket: input.targetBucket, Key: key })))
              .TagSet ?? []
          ).map((t) => [t.Key ?? '', t.Value ?? '']),
        )
      : undefined;
    const written = await uploadOf(
      {
        client: input.vault,
        bucket: input.vaultBucket,
        key: vaultKey,
        body,
        size: response.ContentLength ?? 0,
        contentType: response.ContentType,
        // The source key is kept with the copy, so the set-aside object says what it was.
        metadata: { ...(response.Metadata ?? {}), 'wire-backup-source-key': encodeURIComponent(key) },
        headers: contentHeadersOf(response),
        tags,
      },
      transferSettingsOf({}),
    ).done();
    if (!written.VersionId) throw new Error(`the vault returned no version id for ${vaultKey}`);
    return { vaultKey, versionId: written.VersionId };
  } catch (error) {
    throw toStorageError(error, `setting ${where} aside into ${s3Url(input.vaultBucket, vaultKey)}`);
  } finally {
    body.destroy();
  }
}

/** Removes one extra object, recoverably; undefined when it was already gone. */
async function removeExtra(
  input: HandleExtraObjectsInput,
  versioned: boolean,
  key: string,
  size: number,
): Promise<RemovedObject | undefined> {
  const where = s3Url(input.targetBucket, key);
  let removed: RemovedObject;
  if (versioned) {
    let versionId: string | undefined;
    try {
      versionId = (await input.target.send(new HeadObjectCommand({ Bucket: input.targetBucket, Key: key })))
        .VersionId;
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      throw toStorageError(error, `HeadObject ${where}`);
    }
    removed = {
      key,
      size,
      recoverFrom: 'target-version',
      ...(versionId ? { targetVersionId: versionId } : {}),
    };
  } else {
    const copy = await setAside(input, key);
    removed = { key, size, recoverFrom: 'vault', vaultKey: copy.vaultKey, vaultVersionId: copy.versionId };
  }
  try {
    await input.target.send(new DeleteObjectCommand({ Bucket: input.targetBucket, Key: key }));
  } catch (error) {
    throw toStorageError(error, `DeleteObject ${where}`);
  }
  return removed;
}

/**
 * Finds the target bucket's objects that the manifest does not list, and reports or removes them (see
 * the module comment). Throws `TransientStorageError` on transient failures (the step is retried; a
 * retry finds only what is still there).
 */
export async function handleExtraObjects(input: HandleExtraObjectsInput): Promise<ExtraObjectsOutcome> {
  const extra = new ExampleList<string>();
  const removedKeys = new ExampleList<string>();
  const removed: RemovedObject[] = [];
  const remove = input.mode === 'delete' && !input.dryRun;
  const versioned = remove ? await isVersioned(input.target, input.targetBucket) : false;
  const joined = joinManifestWithTarget(
    manifestEntries(
      input.source?.client ?? input.vault,
      input.source?.bucket ?? input.vaultBucket,
      input.manifestKey,
    ),
    listTargetObjects(input.target, input.targetBucket),
  );
  for await (const item of joined) {
    if (item.kind !== 'extra') continue;
    extra.add(item.object.key);
    if (!remove) continue;
    const done = await removeExtra(input, versioned, item.object.key, item.object.size);
    if (done) {
      removed.push(done);
      removedKeys.add(done.key);
    }
  }
  let listKey: string | undefined;
  if (removed.length > 0) {
    listKey = restoreRemovedKeyOf(input.restoreId, input.sourceBucket);
    await writeJsonLines(input.vault, input.vaultBucket, listKey, removed);
  }
  return {
    targetBucket: input.targetBucket,
    extra: { count: extra.count, keys: extra.examples },
    removed: { count: removedKeys.count, keys: removedKeys.examples, ...(listKey ? { listKey } : {}) },
  };
}
