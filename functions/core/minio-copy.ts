import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { VerificationFailedError } from './errors.js';
import { httpStatusOf, isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import {
  type BatchEntry,
  type BatchResultLine,
  batchEntrySchema,
  batchResultLineSchema,
  isCopied,
  isFailed,
  isPlainMd5Etag,
  isVanished,
  type ManifestEntry,
  normalizeEtag,
} from './minio-layout.js';
import {
  bufferBytesOf,
  contentHeadersOf,
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
 * its last request, so a bad copy never becomes a vault version. Each written version is then verified
 * here, fanned out (`verifyWrittenVersion`: the vault's checksum echo, its MD5 ETag, or one HEAD).
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
  /** Attempts at reading one object from the source before it is recorded as failed. @default 3 */
  readonly sourceAttempts?: number;
  /** Wait before an object's second attempt (doubled after each). @default 500 ms */
  readonly retryDelayMs?: number;
}

/** Outcome of {@link copyBatch}. */
export interface CopyBatchResult {
  readonly batchKey: string;
  readonly copiedObjects: number;
  readonly copiedBytes: number;
  /** Planned objects deleted from the source before the batch ran (not failures; named by Finalize MinIO). */
  readonly vanished: number;
  /** Planned objects that could not be copied (named in the result file; Finalize MinIO fails on them). */
  readonly failed: number;
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
  /** Attempts at reading one object from the source before it is recorded as failed. @default 3 */
  readonly sourceAttempts?: number;
  /** Wait before the second attempt (doubled after each). @default 500 ms */
  readonly retryDelayMs?: number;
}

/** Why one attempt at an object did not produce a copy, when the source is to blame. */
interface SourceProblem {
  readonly kind: 'source-problem';
  readonly error: string;
  readonly cause: string;
  /** Worth another attempt (a transient error, or bytes that changed while read). */
  readonly retry: boolean;
}

function errorName(error: unknown): string {
  const { name, Code } = (error ?? {}) as { name?: string; Code?: string };
  return Code ?? name ?? 'Error';
}

function sourceProblem(error: unknown, what: string): SourceProblem {
  // The SDK appends hints on further lines ("Deserialization error: …"); the first line is the answer.
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim();
  const status = httpStatusOf(error);
  return {
    kind: 'source-problem',
    error: errorName(error),
    cause: `${what} failed: ${errorName(error)}${status ? ` (HTTP ${status})` : ''}: ${message}`,
    retry: isTransientError(error),
  };
}

/** Reads the tags of the version a GET returned (`TagCount` > 0 only: one request per tagged object). */
async function sourceTags(
  source: SourceReader,
  bucket: string,
  key: string,
  response: GetObjectCommandOutput,
): Promise<Record<string, string> | undefined> {
  if (!response.TagCount) return undefined;
  const tagging = await source.send(
    new GetObjectTaggingCommand({
      Bucket: bucket,
      Key: key,
      ...(response.VersionId ? { VersionId: response.VersionId } : {}),
    }),
  );
  return Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

/** One attempt at copying an object: its result line, or what the source did wrong. */
async function copyOnce(
  options: CopyObjectOptions,
  entry: BatchEntry,
): Promise<BatchResultLine | SourceProblem> {
  const { source, vault, sourceBucket, vaultBucket } = options;
  const where = `s3://${sourceBucket}/${entry.key}`;
  const vaultKey = minioObjectKey(sourceBucket, entry.key);
  let response: GetObjectCommandOutput;
  try {
    response = await source.send(new GetObjectCommand({ Bucket: sourceBucket, Key: entry.key }));
  } catch (error) {
    if (isNoSuchKey(error)) return { key: entry.key, vanished: true };
    return sourceProblem(error, `GetObject ${where}`);
  }
  const body = response.Body as Readable;
  let tags: Record<string, string> | undefined;
  try {
    tags = await sourceTags(source, sourceBucket, entry.key, response);
  } catch (error) {
    body.destroy();
    if (isNoSuchKey(error)) return { key: entry.key, vanished: true };
    return sourceProblem(error, `GetObjectTagging ${where}`);
  }
  const size = response.ContentLength ?? entry.size;
  const etag = normalizeEtag(response.ETag);
  const checkMd5 = etagIsMd5(response);
  // Which side broke the transfer decides what happens: the source's fault is this object's (named,
  // retried here, then recorded as failed); the vault's fails the batch (retried by the state machine).
  let sourceFault: unknown;
  body.once('error', (error) => {
    sourceFault ??= error;
  });
  const digest = new DigestStream({
    // Always: the MD5 also checks a single PUT's vault ETag (verifyWrittenVersion).
    md5: true,
    check: (result) => {
      const problem = checkCopiedBytes(where, { size, etag, etagIsMd5: checkMd5 }, result);
      sourceFault ??= problem;
      return problem;
    },
  });
  // pipeline() tears both streams down on error either side; the outcome is read from the upload.
  pipeline(body, digest, () => {});
  const headers = contentHeadersOf(response);
  const upload = uploadOf(
    {
      client: vault,
      bucket: vaultBucket,
      key: vaultKey,
      body: digest,
      size,
      contentType: response.ContentType,
      metadata: response.Metadata ?? {},
      headers,
    },
    options,
  );
  let versionId: string | undefined;
  let written: WriteReceipt = {};
  try {
    written = await upload.done();
    versionId = written.VersionId;
  } catch (error) {
    if (sourceFault !== undefined) {
      if (sourceFault instanceof VerificationFailedError) {
        return {
          kind: 'source-problem',
          error: 'ObjectChangedError',
          cause: `${sourceFault.message.replace(/; the batch is retried$/, '')} (read again, same result: the object is being rewritten, or the source serves inconsistent bytes)`,
          retry: true,
        };
      }
      return sourceProblem(sourceFault, `reading ${where}`);
    }
    throw toStorageError(error, `copying ${where} to s3://${vaultBucket}/${vaultKey}`);
  } finally {
    body.destroy();
    digest.destroy();
  }
  if (!versionId) {
    throw new VerificationFailedError(
      `vault bucket ${vaultBucket} returned no version id for ${vaultKey} (${where}) — enable versioning on the vault bucket`,
    );
  }
  await verifyWrittenVersion(vault, vaultBucket, vaultKey, versionId, digest.digest(), written, where);
  const copied: ManifestEntry = {
    key: entry.key,
    vaultKey,
    size: digest.digest().bytes,
    sha256: digest.digest().sha256,
    etag,
    versionId,
    ...(response.VersionId && response.VersionId !== 'null' ? { sourceVersionId: response.VersionId } : {}),
    ...(response.ContentType ? { contentType: response.ContentType } : {}),
    headers,
    metadata: response.Metadata ?? {},
    ...(tags && Object.keys(tags).length > 0 ? { tags } : {}),
    lastModified: (response.LastModified ?? new Date(entry.lastModified)).toISOString(),
  };
  return copied;
}

/** What the vault answered to an upload (PutObject or CompleteMultipartUpload). */
interface WriteReceipt {
  readonly VersionId?: string | undefined;
  readonly ETag?: string | undefined;
  readonly ChecksumCRC32?: string | undefined;
  readonly ChecksumCRC32C?: string | undefined;
  readonly ChecksumCRC64NVME?: string | undefined;
  readonly ChecksumSHA1?: string | undefined;
  readonly ChecksumSHA256?: string | undefined;
}

/**
 * Verifies what this run wrote, where it was written (the copy batch, fanned out, not Finalize MinIO),
 * preferably from the upload's own answer, so a small object costs no extra request:
 * - the vault echoes the checksum the SDK sent with the bytes (CRC32 by default): the vault validated
 *   the stored bytes against it before answering, or the upload would have failed;
 * - else a plain MD5 ETag (single PUT, no SSE-KMS) must equal the MD5 of the bytes sent;
 * - else one HEAD of the returned version: it exists with the bytes the copy counted.
 * Carried objects are re-checked by Finalize MinIO's rotating sample (`verify-sample.ts`).
 */
async function verifyWrittenVersion(
  vault: Pick<S3Client, 'send'>,
  vaultBucket: string,
  vaultKey: string,
  versionId: string,
  sent: StreamDigest,
  receipt: WriteReceipt,
  where: string,
): Promise<void> {
  if (
    receipt.ChecksumCRC32 ||
    receipt.ChecksumCRC32C ||
    receipt.ChecksumCRC64NVME ||
    receipt.ChecksumSHA1 ||
    receipt.ChecksumSHA256
  ) {
    return;
  }
  if (receipt.ETag && isPlainMd5Etag(receipt.ETag)) {
    if (normalizeEtag(receipt.ETag).toLowerCase() === sent.md5) return;
    throw new VerificationFailedError(
      `${where}: the vault stored version ${versionId} of ${vaultKey} with ETag ${normalizeEtag(receipt.ETag)}, but the bytes sent have MD5 ${sent.md5} — the batch is retried`,
    );
  }
  let length: number | undefined;
  try {
    length = (
      await vault.send(new HeadObjectCommand({ Bucket: vaultBucket, Key: vaultKey, VersionId: versionId }))
    ).ContentLength;
  } catch (error) {
    if (isNotFoundError(error) || httpStatusOf(error) === 400 || httpStatusOf(error) === 405) {
      throw new VerificationFailedError(
        `${where}: the vault answered the upload of ${vaultKey} with version ${versionId}, which it does not hold — check the vault bucket's versioning and lifecycle rules; the batch is retried`,
        { cause: error },
      );
    }
    throw toStorageError(error, `verifying s3://${vaultBucket}/${vaultKey} version ${versionId}`);
  }
  if (length !== sent.bytes) {
    throw new VerificationFailedError(
      `${where}: vault version ${versionId} of ${vaultKey} has ${length} bytes, ${sent.bytes} were copied — the batch is retried`,
    );
  }
}

/**
 * Copies one object (the current version, when the source bucket is versioned) with its content
 * headers, user metadata and tags; returns its manifest entry, a vanished line when it no longer
 * exists, or a failed line naming the cause when the source cannot give it (access denied, bytes that
 * change while read, errors that persist over `sourceAttempts` attempts). Vault failures throw.
 */
export async function copyObject(options: CopyObjectOptions, entry: BatchEntry): Promise<BatchResultLine> {
  const attempts = options.sourceAttempts ?? 3;
  let delay = options.retryDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    const outcome = await copyOnce(options, entry);
    if (!('kind' in outcome)) return outcome;
    if (!outcome.retry || attempt >= attempts) {
      return {
        key: entry.key,
        failed: true,
        error: outcome.error,
        cause: `${outcome.cause}${attempt > 1 ? ` (${attempt} attempts)` : ''}`,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay *= 2;
  }
}

/** The counts of a batch from its result lines. */
export function summarizeResults(batchKey: string, lines: readonly BatchResultLine[]): CopyBatchResult {
  let copiedObjects = 0;
  let copiedBytes = 0;
  let vanished = 0;
  let failed = 0;
  for (const line of lines) {
    if (isVanished(line)) vanished += 1;
    else if (isFailed(line)) failed += 1;
    else {
      copiedObjects += 1;
      copiedBytes += line.size;
    }
  }
  return { batchKey, copiedObjects, copiedBytes, vanished, failed };
}

/**
 * Copies every object of a batch file into the vault (`minioObjectKey`: layout 2) and writes
 * `…/batches/<n>.result.jsonl` (one line per planned object, in batch order: its manifest entry,
 * `{ key, vanished: true }`, or `{ key, failed: true, error, cause }` when the source cannot give it,
 * bytes that disagree with the source ETag or length included, after retries). Failures writing the
 * vault throw (`TransientStorageError` is retried by the state machine).
 * Idempotent: a batch whose complete result file exists is not copied again; a retried partial batch
 * copies its objects again (new vault versions; the result references the last ones).
 */
export async function copyBatch(input: CopyBatchInput): Promise<CopyBatchResult> {
  const options: CopyObjectOptions = {
    source: input.source,
    vault: input.vault,
    sourceBucket: input.sourceBucket,
    vaultBucket: input.vaultBucket,
    ...(input.sourceAttempts === undefined ? {} : { sourceAttempts: input.sourceAttempts }),
    ...(input.retryDelayMs === undefined ? {} : { retryDelayMs: input.retryDelayMs }),
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
    bytesOf: (line) => (isCopied(line) ? line.size : undefined),
    summarize: summarizeResults,
    concurrency: options.concurrency,
    bufferBytesOf: (entry) => bufferBytesOf(entry.size, options),
    memoryBudgetBytes: options.memoryBudgetBytes,
    multipartThresholdBytes: options.multipartThresholdBytes,
    verb: 'copied',
    bucket: input.sourceBucket,
    logger: input.logger,
  });
}
