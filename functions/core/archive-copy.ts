import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { referencedObjects } from './backup-objects.js';
import {
  type ArchiveItem,
  type ArchiveManifest,
  type ArchivePlan,
  type ArchiveProgress,
  archiveItemSchema,
  archiveManifestSchema,
} from './contract/archive.js';
import { backupManifestSchema } from './contract/backup.js';
import { ArchiveCopyError, BackupNotFoundError, WireBackupError } from './errors.js';
import { readJsonLines, writeJsonLines } from './manifest-io.js';
import { isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import { partSizeFor } from './object-transfer.js';
import { DigestStream, forEachConcurrent } from './streams.js';
import { hashVaultObject, readJsonOrUndefined, s3Url } from './vault-io.js';
import {
  archiveIndexKey,
  archiveManifestKey,
  archiveObjectKey,
  archiveObjectsKey,
  backupPrefix,
  manifestKey,
} from './vault-layout.js';

/**
 * Cross-region archive copies (README, "Archive"): exactly the objects one complete backup references
 * — its SSTables (each node's `files.tsv`), its MinIO object versions (bucket manifests), its
 * wire-server archive — are copied content-addressed (`objects/sha256/…`), so an object an earlier
 * archived backup already holds is referenced, not copied again; its own small files (manifest, file
 * lists, bucket manifests) are copied below its archive folder. Each copy is hashed in flight and
 * refused before it is committed when the SHA-256 differs from what the backup recorded; the archive
 * manifest is written last, so no manifest, no archive. The primary vault is only read.
 */

/** Where the archive is. */
export interface ArchiveTarget {
  /** S3 client for the archive's region. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly region: string;
  readonly storageClass: string;
}

/** Collaborators of the archive steps. */
export interface ArchiveDeps {
  readonly vault: S3Client;
  readonly vaultBucket: string;
  readonly archive: ArchiveTarget;
  readonly now: () => Date;
  readonly log?: (line: string) => void;
}

const archived = (target: ArchiveTarget, key: string) => s3Url(target.bucket, key);

/** Whether the backup's archive manifest exists. */
async function isArchived(target: ArchiveTarget, backupId: string): Promise<boolean> {
  try {
    await target.client.send(
      new HeadObjectCommand({ Bucket: target.bucket, Key: archiveManifestKey(backupId) }),
    );
    return true;
  } catch (error) {
    if (isNotFoundError(error)) return false;
    throw unreachable(target, error, `HeadObject ${archived(target, archiveManifestKey(backupId))}`);
  }
}

function unreachable(target: ArchiveTarget, error: unknown, what: string): Error {
  if (error instanceof WireBackupError) return error;
  if (isTransientError(error)) return toStorageError(error, `${what} (archive ${target.region})`) as Error;
  return new ArchiveCopyError(
    `archive bucket ${target.bucket} in ${target.region}: ${what} failed (${(error as Error).message}) — check that the archive stack is deployed in ${target.region} and the archive Lambdas may write to it; the primary vault was not touched`,
    { cause: error },
  );
}

/**
 * Lists every object the backup references, hashes its own small files, writes the list to the
 * archive (`archive-objects.jsonl.gz`). A backup without a manifest is refused.
 */
export async function planArchive(backupId: string, deps: ArchiveDeps): Promise<ArchivePlan> {
  const { vault, vaultBucket, archive } = deps;
  const base = {
    backupId,
    vaultBucket,
    archiveBucket: archive.bucket,
    archiveRegion: archive.region,
    storageClass: archive.storageClass,
    itemsKey: archiveObjectsKey(backupId),
  };
  if (await isArchived(archive, backupId)) return { ...base, items: 0, bytes: 0, alreadyArchived: true };
  const raw = await readJsonOrUndefined(vault, vaultBucket, manifestKey(backupId));
  if (raw === undefined)
    throw new BackupNotFoundError(
      `backup ${backupId} has no manifest in ${vaultBucket}: only complete backups are archived`,
    );
  const manifest = backupManifestSchema.parse(raw);
  const items: ArchiveItem[] = [];
  const object = (vaultKey: string, versionId: string, sha256: string, size: number) =>
    items.push({ kind: 'object', vaultKey, versionId, sha256, size, archiveKey: archiveObjectKey(sha256) });

  // PostgreSQL (base backup and the WAL it replays) is not archived yet: see README, "Archive".
  for await (const o of referencedObjects(vault, vaultBucket, manifest))
    if (o.component !== 'postgresql') object(o.vaultKey, o.versionId ?? 'null', o.sha256, o.size);
  // The backup's own files (manifest, file lists, bucket manifests, schema, …), hashed now.
  const own = new Set(items.map((i) => i.vaultKey));
  let token: string | undefined;
  do {
    const page = await vault.send(
      new ListObjectsV2Command({
        Bucket: vaultBucket,
        Prefix: backupPrefix(backupId),
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) {
      if (!o.Key || own.has(o.Key)) continue;
      const head = await vault.send(new HeadObjectCommand({ Bucket: vaultBucket, Key: o.Key }));
      const versionId = head.VersionId ?? 'null';
      const sha256 = await hashVaultObject(vault, vaultBucket, o.Key, versionId);
      items.push({
        kind: 'index',
        vaultKey: o.Key,
        versionId,
        sha256,
        size: head.ContentLength ?? 0,
        archiveKey: archiveIndexKey(o.Key),
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);

  try {
    await writeJsonLines(archive.client, archive.bucket, archiveObjectsKey(backupId), items, { gzip: true });
  } catch (error) {
    throw unreachable(archive, error, `writing ${archived(archive, archiveObjectsKey(backupId))}`);
  }
  deps.log?.(
    `archive ${backupId}: ${items.length} object(s) to archive in ${archive.bucket} (${archive.region})`,
  );
  return {
    ...base,
    items: items.length,
    bytes: items.reduce((n, i) => n + i.size, 0),
    alreadyArchived: false,
  };
}

/** The archive copy of an item is there with the right size and SHA-256 (its metadata, checked at copy). */
async function archivedCopyMatches(archive: ArchiveTarget, item: ArchiveItem): Promise<boolean> {
  try {
    const head = await archive.client.send(
      new HeadObjectCommand({ Bucket: archive.bucket, Key: item.archiveKey }),
    );
    return head.ContentLength === item.size && head.Metadata?.sha256 === item.sha256;
  } catch (error) {
    if (isNotFoundError(error)) return false;
    throw unreachable(archive, error, `HeadObject ${archived(archive, item.archiveKey)}`);
  }
}

/** Copies one item, hashing it in flight; a mismatch fails before the archive commits anything. */
async function copyItem(deps: ArchiveDeps, item: ArchiveItem): Promise<void> {
  const { vault, vaultBucket, archive } = deps;
  const from = await vault.send(
    new GetObjectCommand({ Bucket: vaultBucket, Key: item.vaultKey, VersionId: item.versionId }),
  );
  const digest = new DigestStream({
    md5: false,
    check: (d) =>
      d.sha256 === item.sha256 && d.bytes === item.size
        ? undefined
        : new ArchiveCopyError(
            `vault object ${s3Url(vaultBucket, item.vaultKey)} version ${item.versionId} has ${d.bytes} bytes with SHA-256 ${d.sha256}, the backup recorded ${item.size} bytes with ${item.sha256}: not archived — run 'wire-backup verify' on the backup`,
          ),
  });
  (from.Body as Readable).pipe(digest);
  (from.Body as Readable).on('error', (e) => digest.destroy(e));
  const params = {
    Bucket: archive.bucket,
    Key: item.archiveKey,
    Body: digest,
    ContentLength: item.size,
    StorageClass: archive.storageClass as StorageClass,
    Metadata: { sha256: item.sha256 },
  };
  try {
    if (item.size === 0) {
      digest.resume();
      await new Promise((resolve, reject) => digest.on('end', resolve).on('error', reject));
      await archive.client.send(new PutObjectCommand({ ...params, Body: '' }));
    } else {
      await new Upload({
        client: archive.client,
        params,
        partSize: partSizeFor(item.size, 16 * 1024 * 1024, 16 * 1024 * 1024),
      }).done();
    }
  } catch (error) {
    if (error instanceof ArchiveCopyError) throw error;
    if (digest.errored instanceof ArchiveCopyError) throw digest.errored;
    throw unreachable(archive, error, `PutObject ${archived(archive, item.archiveKey)}`);
  }
  if (!(await archivedCopyMatches(archive, item)))
    throw new ArchiveCopyError(
      `${archived(archive, item.archiveKey)} does not have the size and SHA-256 just written (${item.size} bytes, ${item.sha256}): the archive store changed it — retry the archive`,
    );
}

/**
 * Works through the archive list from `progress.cursor`, at most `maxItems` items per call (the state
 * machine loops until `done`). An item whose archive copy already matches is referenced, not copied,
 * so an interrupted copy resumes without copying twice.
 */
export async function copyToArchive(
  plan: ArchivePlan,
  progress: ArchiveProgress | undefined,
  deps: ArchiveDeps,
  options: { readonly maxItems?: number; readonly concurrency?: number } = {},
): Promise<ArchiveProgress> {
  const maxItems = options.maxItems ?? 5000;
  const start = progress?.cursor ?? 0;
  let { copiedObjects = 0, copiedBytes = 0, referencedObjects = 0 } = progress ?? {};
  const slice: ArchiveItem[] = [];
  let index = 0;
  let more = false;
  for await (const item of readJsonLines(deps.archive.client, deps.archive.bucket, plan.itemsKey, {
    parse: (v) => archiveItemSchema.parse(v),
  })) {
    if (index >= start + maxItems) {
      more = true;
      break;
    }
    if (index >= start) slice.push(item);
    index += 1;
  }
  // Items with the same content share one archive key (two identical SSTables, two MinIO objects with
  // the same bytes): the first one copies, the others wait for it and reference its copy, so that no
  // archive key is written twice by concurrent copies (one version per object in a versioned archive).
  const firstCopy = new Map<string, Promise<boolean>>();
  await forEachConcurrent(slice, options.concurrency ?? 8, async (item) => {
    const earlier = firstCopy.get(item.archiveKey);
    if (earlier) {
      await earlier;
      referencedObjects += 1;
      return;
    }
    const copy = (async () => {
      if (await archivedCopyMatches(deps.archive, item)) return false;
      await copyItem(deps, item);
      return true;
    })();
    firstCopy.set(item.archiveKey, copy);
    if (await copy) {
      copiedObjects += 1;
      copiedBytes += item.size;
    } else referencedObjects += 1;
  });
  const cursor = start + slice.length;
  deps.log?.(
    `archive ${plan.backupId}: ${cursor}/${plan.items} (${copiedObjects} copied, ${referencedObjects} already archived)`,
  );
  return { cursor, done: !more, copiedObjects, copiedBytes, referencedObjects };
}

/**
 * Checks that every item was handled and writes the archive manifest, last. Returns it.
 */
export async function commitArchive(
  plan: ArchivePlan,
  progress: ArchiveProgress,
  clusterName: string,
  deps: ArchiveDeps,
): Promise<ArchiveManifest> {
  if (
    !progress.done ||
    progress.cursor !== plan.items ||
    progress.copiedObjects + progress.referencedObjects !== plan.items
  )
    throw new ArchiveCopyError(
      `archive of ${plan.backupId} is incomplete (${progress.cursor} of ${plan.items} items handled, ${progress.copiedObjects} copied, ${progress.referencedObjects} referenced): no archive manifest written — run the archive again`,
    );
  const manifest = archiveManifestSchema.parse({
    formatVersion: 1,
    backupId: plan.backupId,
    clusterName,
    archivedAt: deps.now().toISOString(),
    sourceVaultBucket: plan.vaultBucket,
    archiveBucket: plan.archiveBucket,
    region: plan.archiveRegion,
    storageClass: plan.storageClass,
    objectsKey: plan.itemsKey,
    objects: plan.items,
    bytes: plan.bytes,
    copiedObjects: progress.copiedObjects,
    copiedBytes: progress.copiedBytes,
    referencedObjects: progress.referencedObjects,
    verified: true,
  });
  try {
    await deps.archive.client.send(
      new PutObjectCommand({
        Bucket: deps.archive.bucket,
        Key: archiveManifestKey(plan.backupId),
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  } catch (error) {
    throw unreachable(
      deps.archive,
      error,
      `writing ${archived(deps.archive, archiveManifestKey(plan.backupId))}`,
    );
  }
  return manifest;
}
