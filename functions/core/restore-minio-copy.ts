import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { InvalidInputError, VerificationFailedError } from './errors.js';
import { httpStatusOf, isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import { type ManifestEntry, manifestEntrySchema, normalizeEtag } from './minio-layout.js';
import {
  bufferBytesOf,
  contentHeadersOf,
  runBatch,
  type TransferOptions,
  type TransferSettings,
  transferSettingsOf,
  uploadOf,
} from './object-transfer.js';
import type { RestoreSourceAccess, TargetClient } from './restore-minio-plan.js';
import { DigestStream, type StreamDigest } from './streams.js';
import { s3Url } from './vault-io.js';
import { backupReadLocation, minioEntryVaultKey } from './vault-layout.js';

/**
 * Restores one batch file of a MinIO restore (see `restore-minio-plan.ts`): every manifest entry's
 * exact vault version is streamed back to the target bucket, checked on the way. Memory: one batch's
 * entries plus the objects in flight (each ≤ max(threshold, (queueSize + 1) × part size), as in
 * `minio-copy.ts`).
 */

/** One line of a restore batch result file: an object written to the target. */
export const restoredObjectSchema = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  /** Vault version id the bytes came from. */
  versionId: z.string().min(1),
  /** ETag the target returned (no quotes). */
  targetEtag: z.string(),
  /** Version id in the target, when the target bucket is versioned. */
  targetVersionId: z.string().optional(),
});
/** One line of a restore batch result file. */
export type RestoredObject = z.infer<typeof restoredObjectSchema>;

/** Input of {@link restoreBatch}. */
export interface RestoreBatchInput extends TransferOptions {
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly vaultBucket: string;
  /** Client of the target MinIO. */
  readonly target: TargetClient;
  /** The bucket the manifest describes (objects are read from `minio/<sourceBucket>/<key>`). */
  readonly sourceBucket: string;
  readonly targetBucket: string;
  /** Vault key of the batch file (`restores/<restoreId>/minio/<bucket>/batches/<n>.jsonl`). */
  readonly batchKey: string;
  /** Where the objects are read (the archive on a restore from there). @default - the vault */
  readonly source?: RestoreSourceAccess;
}

/** Outcome of {@link restoreBatch}. */
export interface RestoreBatchResult {
  readonly batchKey: string;
  readonly restoredObjects: number;
  readonly restoredBytes: number;
}

/**
 * The end-of-stream check of a restored object: the bytes read from the vault version must have the
 * size and SHA-256 the manifest recorded. A mismatch means the vault copy is corrupt.
 */
export function checkRestoredBytes(
  where: string,
  entry: Pick<ManifestEntry, 'key' | 'size' | 'sha256' | 'versionId'>,
  digest: StreamDigest,
): VerificationFailedError | undefined {
  if (digest.bytes !== entry.size) {
    return new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}"): read ${digest.bytes} bytes, the manifest says ${entry.size} — the vault copy is corrupt or the connection was cut; retry, else restore this object from another backup`,
    );
  }
  if (digest.sha256 !== entry.sha256) {
    return new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}"): SHA-256 ${digest.sha256} differs from the manifest's ${entry.sha256} — the vault copy is corrupt; restore this object from another backup`,
    );
  }
  return undefined;
}

interface RestoreObjectOptions extends TransferSettings {
  /** Where the objects are read: the vault, or the archive. */
  readonly source: RestoreSourceAccess;
  readonly target: TargetClient;
  readonly sourceBucket: string;
  readonly targetBucket: string;
}

/** True for answers meaning "this version is not in the vault" (gone, a delete marker, or not an id). */
function isMissingVersion(error: unknown): boolean {
  if (isTransientError(error)) return false;
  const status = httpStatusOf(error);
  return isNotFoundError(error) || status === 400 || status === 405;
}

/** Restores one manifest entry: the vault version's bytes and headers, PUT under the original key. */
async function restoreObject(options: RestoreObjectOptions, entry: ManifestEntry): Promise<RestoredObject> {
  const { source, target, targetBucket } = options;
  const at = backupReadLocation(source.source, {
    kind: 'data',
    vaultKey: minioEntryVaultKey(options.sourceBucket, entry),
    versionId: entry.versionId,
    sha256: entry.sha256,
  });
  const where = s3Url(source.bucket, at.key);
  let response: GetObjectCommandOutput;
  try {
    response = await source.client.send(
      new GetObjectCommand({
        Bucket: source.bucket,
        Key: at.key,
        ...(at.versionId === undefined ? {} : { VersionId: at.versionId }),
      }),
    );
  } catch (error) {
    if (isMissingVersion(error)) {
      throw new VerificationFailedError(
        `${where} version ${entry.versionId} (key "${entry.key}") is missing from the ${source.source} — this backup cannot restore it; restore this object from another backup`,
        { cause: error },
      );
    }
    throw toStorageError(error, `GetObject ${where} version ${entry.versionId}`);
  }
  const body = response.Body as Readable;
  if (response.ContentLength !== undefined && response.ContentLength !== entry.size) {
    body.destroy();
    throw new VerificationFailedError(
      `${where} version ${entry.versionId} (key "${entry.key}") has ${response.ContentLength} bytes, the manifest says ${entry.size} — the vault copy is corrupt; restore this object from another backup`,
    );
  }
  const digest = new DigestStream({
    md5: false,
    check: (result) => checkRestoredBytes(where, entry, result),
  });
  // Errors either side tear both streams down; the outcome is read from the upload.
  pipeline(body, digest).catch(() => {});
  const contentType = entry.contentType ?? response.ContentType;
  const upload = uploadOf(
    {
      client: target,
      bucket: targetBucket,
      key: entry.key,
      body: digest,
      size: entry.size,
      contentType,
      metadata: entry.metadata,
      // Layout-1 manifests did not record the other headers; their vault versions carry them.
      headers: entry.headers ?? contentHeadersOf(response),
      tags: entry.tags,
    },
    options,
  );
  let written: { ETag?: string; VersionId?: string };
  try {
    written = await upload.done();
  } catch (error) {
    throw toStorageError(
      error,
      `restoring ${where} version ${entry.versionId} to ${s3Url(targetBucket, entry.key)}`,
    );
  } finally {
    body.destroy();
    digest.destroy();
  }
  return {
    key: entry.key,
    size: digest.digest().bytes,
    sha256: digest.digest().sha256,
    versionId: entry.versionId,
    targetEtag: normalizeEtag(written.ETag),
    ...(written.VersionId ? { targetVersionId: written.VersionId } : {}),
  };
}

/** The counts of a restored batch from its result lines. */
export function summarizeRestored(batchKey: string, lines: readonly RestoredObject[]): RestoreBatchResult {
  return {
    batchKey,
    restoredObjects: lines.length,
    restoredBytes: lines.reduce((sum, line) => sum + line.size, 0),
  };
}

/** True when a result file's lines cover exactly the batch's entries, in order. */
export function isCompleteResult(
  entries: readonly ManifestEntry[],
  lines: readonly RestoredObject[],
): boolean {
  return (
    lines.length === entries.length &&
    lines.every((line, i) => line.key === entries[i]?.key && line.versionId === entries[i]?.versionId)
  );
}

/**
 * Restores every object of a batch file: GET the exact vault version (the entry's vault key, of either
 * layout, + its version id) → PUT to `targetBucket` under the original key, with the manifest's content
 * type, content headers (encoding, disposition, language, cache control, expiry), user metadata and
 * tags (a layout-1 entry: the headers its vault version kept); streamed (multipart above the threshold), SHA-256 computed on the way. A version that is
 * missing or whose size or SHA-256 differs from the manifest fails with `VerificationFailedError`
 * naming key and version, before its upload completes (nothing unverified is committed). Transient
 * failures throw `TransientStorageError`. Writes `…/batches/<n>.result.jsonl` last. Idempotent: a
 * batch whose complete result exists is not restored again; a retried partial batch writes its objects
 * again (same bytes and headers).
 */
export async function restoreBatch(input: RestoreBatchInput): Promise<RestoreBatchResult> {
  const { vault, vaultBucket, batchKey } = input;
  const options: RestoreObjectOptions = {
    source: input.source ?? { source: 'vault', client: vault, bucket: vaultBucket },
    target: input.target,
    sourceBucket: input.sourceBucket,
    targetBucket: input.targetBucket,
    ...transferSettingsOf(input),
  };
  return runBatch({
    vault,
    vaultBucket,
    batchKey,
    parseEntry: (value) => manifestEntrySchema.parse(value),
    parseLine: (value) => restoredObjectSchema.parse(value),
    missingBatch: (error) =>
      new InvalidInputError(
        `restore batch ${s3Url(vaultBucket, batchKey)} does not exist — run planBucketRestore for this restore first`,
        { cause: error },
      ),
    isComplete: isCompleteResult,
    transfer: (entry) => restoreObject(options, entry),
    bytesOf: (line) => line.size,
    summarize: summarizeRestored,
    concurrency: options.concurrency,
    bufferBytesOf: (entry) => bufferBytesOf(entry.size, options),
    memoryBudgetBytes: options.memoryBudgetBytes,
    multipartThresholdBytes: options.multipartThresholdBytes,
    verb: 'restored',
    bucket: input.targetBucket,
    logger: input.logger,
  });
}
