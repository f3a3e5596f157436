import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { VerificationFailedError } from './errors.js';
import { isNotFoundError, toStorageError } from './minio-errors.js';
import {
  type BatchEntry,
  type BatchResultLine,
  batchEntrySchema,
  batchResultLineSchema,
  isPlainMd5Etag,
  isVanished,
  type ManifestEntry,
  normalizeEtag,
} from './minio-layout.js';
import {
  runBatch,
  type TransferOptions,
  type TransferSettings,
  transferSettingsOf,
  uploadOf,
} from './object-transfer.js';
import { DigestStream, type StreamDigest } from './streams.js';
import { minioObjectKey } from './vault-layout.js';

/**
 * Copies the objects of one batch file from the source MinIO into the vault: one streamed GET → PUT
 * (or multipart upload) per object, hashed on the way (SHA-256 recorded, MD5 checked against a plain
 * source ETag, byte count checked against Content-Length). A check that fails stops the upload before
 * its last request, so a bad copy never becomes a vault version.
 *
 * Memory is bounded whatever the object sizes: an object at or below the multipart threshold is
 * buffered once for its single PUT (≤ threshold); a larger one holds at most `queueSize` parts in flight
 * plus the one being filled. Peak ≈ concurrency × max(threshold, (queueSize + 1) × partSize) plus
 * stream buffers; with the defaults 4 × 5 × 16 MiB = 320 MiB if four large objects coincide (size the
 * Lambda for it or lower `concurrency` / `queueSize`).
 */

/** What copying needs from the source client. */
export type SourceReader = Pick<S3Client, 'send'>;

/** Input of {@link copyBatch}. */
export interface CopyBatchInput extends TransferOptions {
  /** Client of the source MinIO. */
  readonly source: SourceReader;
  /** Client of the vault. */
  readonly vault: S3Client;
  readonly sourceBucket: string;
  readonly vaultBucket: string;
  /** Vault key of the batch file (`backups/<id>/minio/<bucket>/batches/<n>.jsonl`). */
  readonly batchKey: string;
}

/** Outcome of {@link copyBatch}. */
export interface CopyBatchResult {
  readonly batchKey: string;
  readonly copiedObjects: number;
  readonly copiedBytes: number;
  /** Planned objects deleted from the source before the batch ran (not failures). */
  readonly vanished: number;
}

/**
 * The end-of-stream check of a copied object: bytes read must equal Content-Length, and a plain MD5
 * ETag (no `-`, object not SSE-C/KMS encrypted) must equal the MD5 of the bytes read.
 */
export function checkCopiedBytes(
  where: string,
  expected: { readonly size: number; readonly etag: string; readonly etagIsMd5: boolean },
  digest: StreamDigest,
): VerificationFailedError | undefined {
  if (digest.bytes !== expected.size) {
    return new VerificationFailedError(
      `${where}: read ${digest.bytes} bytes but the source announced ${expected.size} — the object changed or the connection was cut; the batch is retried`,
    );
  }
  if (expected.etagIsMd5 && digest.md5 !== normalizeEtag(expected.etag).toLowerCase()) {
    return new VerificationFailedError(
      `${where}: MD5 of the bytes read (${digest.md5}) differs from the source ETag ${normalizeEtag(expected.etag)} — data was corrupted in transit or on the source; check the MinIO server's health`,
    );
  }
  return undefined;
}

/** True when the source ETag can be compared with an MD5 of the body. */
function etagIsMd5(response: GetObjectCommandOutput): boolean {
  return (
    isPlainMd5Etag(response.ETag ?? '') &&
    !response.SSECustomerAlgorithm &&
    response.ServerSideEncryption !== 'aws:kms' &&
    response.ServerSideEncryption !== 'aws:kms:dsse'
  );
}

function isNoSuchKey(error: unknown): boolean {
  const { name, Code } = (error ?? {}) as { name?: string; Code?: string };
  return name === 'NoSuchKey' || Code === 'NoSuchKey' || (isNotFoundError(error) && name !== 'NoSuchBucket');
}

interface CopyObjectOptions extends TransferSettings {
  readonly source: SourceReader;
  readonly vault: S3Client;
  readonly sourceBucket: string;
  readonly vaultBucket: string;
}

/** Copies one object; returns its manifest entry, or a vanished line when it no longer exists. */
export async function copyObject(options: CopyObjectOptions, entry: BatchEntry): Promise<BatchResultLine> {
  const { source, vault, sourceBucket, vaultBucket } = options;
  const where = `s3://${sourceBucket}/${entry.key}`;
  let response: GetObjectCommandOutput;
  try {
    response = await source.send(new GetObjectCommand({ Bucket: sourceBucket, Key: entry.key }));
  } catch (error) {
    if (isNoSuchKey(error)) return { key: entry.key, vanished: true };
    throw toStorageError(error, `GetObject ${where}`);
  }
  const body = response.Body as Readable;
  const size = response.ContentLength ?? entry.size;
  const etag = normalizeEtag(response.ETag);
  const checkMd5 = etagIsMd5(response);
  const digest = new DigestStream({
    md5: checkMd5,
    check: (result) => checkCopiedBytes(where, { size, etag, etagIsMd5: checkMd5 }, result),
  });
  // pipeline() tears both streams down on error either side; the outcome is read from the upload.
  pipeline(body, digest, () => {});
  const upload = uploadOf(
    {
      client: vault,
      bucket: vaultBucket,
      key: minioObjectKey(sourceBucket, entry.key),
      body: digest,
      size,
      contentType: response.ContentType,
      metadata: response.Metadata ?? {},
      from: response,
    },
    options,
  );
  let versionId: string | undefined;
  try {
    versionId = (await upload.done()).VersionId;
  } catch (error) {
    throw toStorageError(
      error,
      `copying ${where} to s3://${vaultBucket}/${minioObjectKey(sourceBucket, entry.key)}`,
    );
  } finally {
    body.destroy();
    digest.destroy();
  }
  if (!versionId) {
    throw new VerificationFailedError(
      `vault bucket ${vaultBucket} returned no version id for ${minioObjectKey(sourceBucket, entry.key)} — enable versioning on the vault bucket`,
    );
  }
  const copied: ManifestEntry = {
    key: entry.key,
    size: digest.digest().bytes,
    sha256: digest.digest().sha256,
    etag,
    versionId,
    ...(response.ContentType ? { contentType: response.ContentType } : {}),
    metadata: response.Metadata ?? {},
    lastModified: (response.LastModified ?? new Date(entry.lastModified)).toISOString(),
  };
  return copied;
}

/** The counts of a batch from its result lines. */
export function summarizeResults(batchKey: string, lines: readonly BatchResultLine[]): CopyBatchResult {
  let copiedObjects = 0;
  let copiedBytes = 0;
  let vanished = 0;
  for (const line of lines) {
    if (isVanished(line)) {
      vanished += 1;
    } else {
      copiedObjects += 1;
      copiedBytes += line.size;
    }
  }
  return { batchKey, copiedObjects, copiedBytes, vanished };
}

/**
 * Copies every object of a batch file into the vault (`minio/<bucket>/<key>`) and writes
 * `…/batches/<n>.result.jsonl` (one line per planned object, in batch order: its manifest entry, or
 * `{ key, vanished: true }`). Transient failures throw `TransientStorageError` (the state machine retries
 * the batch); a byte-count or MD5 mismatch throws {@link VerificationFailedError} naming bucket and key.
 * Idempotent: a batch whose complete result file exists is not copied again; a retried partial batch
 * copies its objects again (new vault versions; the result references the last ones).
 */
export async function copyBatch(input: CopyBatchInput): Promise<CopyBatchResult> {
  const options: CopyObjectOptions = {
    source: input.source,
    vault: input.vault,
    sourceBucket: input.sourceBucket,
    vaultBucket: input.vaultBucket,
    ...transferSettingsOf(input),
  };
  return runBatch({
    vault: input.vault,
    vaultBucket: input.vaultBucket,
    batchKey: input.batchKey,
    parseEntry: (value) => batchEntrySchema.parse(value),
    parseLine: (value) => batchResultLineSchema.parse(value),
    isComplete: (entries, lines) =>
      lines.length === entries.length && lines.every((line, i) => line.key === entries[i]?.key),
    transfer: (entry) => copyObject(options, entry),
    bytesOf: (line) => (isVanished(line) ? undefined : line.size),
    summarize: summarizeResults,
    concurrency: options.concurrency,
    multipartThresholdBytes: options.multipartThresholdBytes,
    verb: 'copied',
    bucket: input.sourceBucket,
    logger: input.logger,
  });
}
