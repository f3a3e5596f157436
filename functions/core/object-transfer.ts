import type { Readable } from 'node:stream';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type LineParser, readJsonLines, writeJsonLines } from './manifest-io.js';
import { isNotFoundError } from './minio-errors.js';
import type { ContentHeaders } from './minio-layout.js';
import { mapConcurrent } from './streams.js';
import { readJsonLinesOrUndefined } from './vault-io.js';
import { batchResultKeyOf } from './vault-layout.js';

/**
 * What copying objects in batches needs on both sides: a MinIO backup batch (source → vault,
 * `minio-copy.ts`) and a MinIO restore batch (vault → target, `restore-minio-copy.ts`) are cut by the
 * same {@link Batcher}, stream each object with the same part sizes and headers, and run the same batch
 * loop: read the batch file, skip
 * it when its complete result exists, transfer its objects many at a time within a memory budget
 * ({@link ByteBudget}), write the result file.
 */

/** Minimum S3 part size (the last part may be smaller). */
const minPartSize = 5 * 1024 * 1024;
/** S3's part-count limit. */
const maxParts = 10_000;

/** A sink for progress lines (Powertools' Logger fits). */
export interface ProgressLogger {
  info(message: string, details?: Record<string, unknown>): void;
}

/** How a batch streams its objects, on either side. */
export interface TransferOptions {
  /** Objects larger than this are written with a multipart upload. @default 16 MiB */
  readonly multipartThresholdBytes?: number;
  /** Part size of multipart uploads (raised if an object would need more than 10,000 parts). @default 16 MiB */
  readonly partSizeBytes?: number;
  /**
   * Most objects transferred at the same time. Small objects are latency-bound (two requests each), so
   * many run at once over the clients' keep-alive connections; {@link memoryBudgetBytes} keeps large
   * ones from coinciding. @default 32
   */
  readonly concurrency?: number;
  /** Parts of one multipart upload in flight at the same time. @default 4 */
  readonly queueSize?: number;
  /**
   * Bytes the objects in flight may buffer together: a single-PUT object reserves its size, a multipart
   * one `(queueSize + 1) × partSize`; an object waits until its reservation fits (one larger than the
   * whole budget runs alone). @default 48 MiB
   */
  readonly memoryBudgetBytes?: number;
  /** Progress of large objects and the batch summary. */
  readonly logger?: ProgressLogger;
}

/** {@link TransferOptions} with their defaults applied. */
export interface TransferSettings {
  readonly multipartThresholdBytes: number;
  readonly partSizeBytes: number;
  readonly concurrency: number;
  readonly queueSize: number;
  readonly memoryBudgetBytes: number;
}

/** Applies the defaults of {@link TransferOptions}. */
export function transferSettingsOf(options: TransferOptions): TransferSettings {
  return {
    multipartThresholdBytes: options.multipartThresholdBytes ?? 16 * 1024 * 1024,
    partSizeBytes: options.partSizeBytes ?? defaultPartSizeBytes,
    concurrency: options.concurrency ?? 32,
    queueSize: options.queueSize ?? 4,
    memoryBudgetBytes: options.memoryBudgetBytes ?? 48 * 1024 * 1024,
  };
}

/**
 * Default part size of multipart uploads: 8 MiB × (4 in flight + 1 filling) = 40 MiB of part buffers per
 * large object. Measured with `npm run bench -- copy` (2026-12-03): a 1 GiB copy peaks at 208 MiB RSS, of
 * which 89 MiB is the process before the copy (Node 22 with the S3 client loaded: 77 MiB), at 0.78× the
 * speed of `mc cp` on that machine.
 */
export const defaultPartSizeBytes = 8 * 1024 * 1024;

/** Bytes one object's transfer buffers: its size for a single PUT, `(queueSize + 1) × partSize` for multipart. */
export function bufferBytesOf(size: number, settings: TransferSettings): number {
  if (size <= settings.multipartThresholdBytes) return Math.max(size, 1);
  return (
    (settings.queueSize + 1) * partSizeFor(size, settings.multipartThresholdBytes, settings.partSizeBytes)
  );
}

/**
 * A counting semaphore over bytes: `acquire(n)` waits until `n` more bytes fit the budget (a request
 * larger than the budget waits until nothing else is held, then runs alone). Waiters are served in
 * order, so a large object is not starved by a stream of small ones.
 */
export class ByteBudget {
  private held = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(private readonly budget: number) {
    if (!(budget > 0)) throw new RangeError(`memoryBudgetBytes must be positive, got ${budget}`);
  }

  /** Waits for `bytes` (capped at the budget); returns the release function. */
  async acquire(bytes: number): Promise<() => void> {
    const wanted = Math.min(bytes, this.budget);
    if (this.waiting.length === 0 && this.held + wanted <= this.budget) this.held += wanted;
    else await new Promise<void>((resolve) => this.waiting.push({ bytes: wanted, resolve }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= wanted;
      this.wake();
    };
  }

  private wake(): void {
    for (let next = this.waiting[0]; next && this.held + next.bytes <= this.budget; next = this.waiting[0]) {
      this.waiting.shift();
      this.held += next.bytes;
      next.resolve();
    }
  }
}

/** Part size for an object: one PUT up to the threshold, else `partSize` (grown to fit 10,000 parts). */
export function partSizeFor(size: number, multipartThresholdBytes: number, partSizeBytes: number): number {
  if (size <= multipartThresholdBytes) return Math.max(minPartSize, size);
  return Math.max(minPartSize, partSizeBytes, Math.ceil(size / maxParts));
}

/** What {@link uploadOf} writes. */
export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The bytes, streamed (e.g. through a `DigestStream` that checks them). */
  readonly body: Readable;
  readonly size: number;
  readonly contentType: string | undefined;
  readonly metadata: Record<string, string>;
  /** Content encoding, disposition, language, cache control and expiry to set. */
  readonly headers: ContentHeaders;
  /** Object tags to set with the object (none when absent or empty). */
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/**
 * A streamed upload (one PUT up to the multipart threshold, else parts of {@link partSizeFor}) that
 * sets the object's content headers, user metadata and tags with the object itself (`x-amz-tagging`
 * on the PUT or on CreateMultipartUpload), so no version ever exists without them. Call `done()`.
 */
export function uploadOf(target: UploadTarget, settings: TransferSettings): Upload {
  const tagging = target.tags ? taggingOf(target.tags) : '';
  return new Upload({
    client: target.client,
    partSize: partSizeFor(target.size, settings.multipartThresholdBytes, settings.partSizeBytes),
    queueSize: settings.queueSize,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: target.body,
      ContentLength: target.size,
      ...(target.contentType ? { ContentType: target.contentType } : {}),
      ...putHeadersOf(target.headers),
      Metadata: target.metadata,
      ...(tagging ? { Tagging: tagging } : {}),
    },
  });
}

/** Tags as the `x-amz-tagging` header wants them (URL query form). */
export function taggingOf(tags: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}

/** The content headers (other than type) a GET or HEAD returned, as a manifest records them. */
export function contentHeadersOf(
  response: Pick<
    GetObjectCommandOutput,
    | 'ContentEncoding'
    | 'CacheControl'
    | 'ContentDisposition'
    | 'ContentLanguage'
    | 'Expires'
    | 'ExpiresString'
  >,
): ContentHeaders {
  const expires = response.ExpiresString ?? response.Expires?.toUTCString();
  return {
    ...(response.ContentEncoding ? { contentEncoding: response.ContentEncoding } : {}),
    ...(response.ContentDisposition ? { contentDisposition: response.ContentDisposition } : {}),
    ...(response.ContentLanguage ? { contentLanguage: response.ContentLanguage } : {}),
    ...(response.CacheControl ? { cacheControl: response.CacheControl } : {}),
    ...(expires ? { expires } : {}),
  };
}

/** PUT parameters of recorded content headers (an expiry that is no date is sent as the epoch, as S3 reads it). */
function putHeadersOf(headers: ContentHeaders): {
  ContentEncoding?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentLanguage?: string;
  Expires?: Date;
} {
  const expires = headers.expires === undefined ? undefined : new Date(headers.expires);
  return {
    ...(headers.contentEncoding ? { ContentEncoding: headers.contentEncoding } : {}),
    ...(headers.cacheControl ? { CacheControl: headers.cacheControl } : {}),
    ...(headers.contentDisposition ? { ContentDisposition: headers.contentDisposition } : {}),
    ...(headers.contentLanguage ? { ContentLanguage: headers.contentLanguage } : {}),
    ...(expires ? { Expires: Number.isNaN(expires.getTime()) ? new Date(0) : expires } : {}),
  };
}

/**
 * Cuts a stream of objects into batches of at most `maxObjects` objects and `maxBytes` bytes (an
 * object larger than `maxBytes` forms a batch alone). Order is kept.
 */
export class Batcher<T extends { readonly size: number }> {
  private current: T[] = [];
  private currentBytes = 0;

  constructor(
    private readonly maxObjects: number,
    private readonly maxBytes: number,
  ) {
    if (!Number.isInteger(maxObjects) || maxObjects < 1) {
      throw new RangeError(`batchMaxObjects must be a positive integer, got ${maxObjects}`);
    }
    if (!(maxBytes > 0)) throw new RangeError(`batchMaxBytes must be positive, got ${maxBytes}`);
  }

  /** Adds an item; returns the batch it closed, if adding it closed one. */
  add(item: T): T[] | undefined {
    let closed: T[] | undefined;
    if (
      this.current.length > 0 &&
      (this.current.length >= this.maxObjects || this.currentBytes + item.size > this.maxBytes)
    ) {
      closed = this.flush();
    }
    this.current.push(item);
    this.currentBytes += item.size;
    return closed;
  }

  /** Closes and returns the open batch (undefined when empty). */
  flush(): T[] | undefined {
    if (this.current.length === 0) return undefined;
    const closed = this.current;
    this.current = [];
    this.currentBytes = 0;
    return closed;
  }
}

/** One batch to run with {@link runBatch}: its files, how to move one entry, how to report. */
export interface BatchRun<Entry, Line extends { readonly key: string }, Result> {
  /** Client of the vault, which holds the batch file and its result. */
  readonly vault: S3Client;
  readonly vaultBucket: string;
  /** Vault key of the batch file; the result goes next to it (`batchResultKeyOf`). */
  readonly batchKey: string;
  /** Validates a line of the batch file. */
  readonly parseEntry: LineParser<Entry>;
  /** Validates a line of the result file. */
  readonly parseLine: LineParser<Line>;
  /** The error to throw when the batch file does not exist. @default the storage error as is */
  readonly missingBatch?: (error: unknown) => Error;
  /** True when an existing result covers exactly the batch (then nothing is transferred again). */
  readonly isComplete: (entries: readonly Entry[], lines: readonly Line[]) => boolean;
  /** Moves one entry; its result line. */
  readonly transfer: (entry: Entry) => Promise<Line>;
  /** Bytes a result line moved, or undefined when it moved none (for progress of large objects). */
  readonly bytesOf: (line: Line) => number | undefined;
  /** The counts of a batch from its result lines. */
  readonly summarize: (batchKey: string, lines: readonly Line[]) => Result;
  /** Most entries moved at the same time. */
  readonly concurrency: number;
  /** Bytes an entry's transfer buffers (see {@link bufferBytesOf}); with `memoryBudgetBytes`, bounds memory. */
  readonly bufferBytesOf: (entry: Entry) => number;
  /** Bytes all entries in flight may buffer together. */
  readonly memoryBudgetBytes: number;
  /** Objects above this size get a progress line of their own. */
  readonly multipartThresholdBytes: number;
  /** What the batch does, in the past tense, for progress lines (`copied`, `restored`). */
  readonly verb: string;
  /** The bucket a large object's progress line names. */
  readonly bucket: string;
  readonly logger?: ProgressLogger;
}

/**
 * Runs one batch file: reads its entries, returns the summary of an existing complete result without
 * moving anything (idempotent on retry), else transfers every entry (`concurrency` at a time, results
 * in batch order) and writes the result file last.
 */
export async function runBatch<Entry, Line extends { readonly key: string }, Result>(
  run: BatchRun<Entry, Line, Result>,
): Promise<Result> {
  const { vault, vaultBucket, batchKey, logger } = run;
  const entries: Entry[] = [];
  try {
    for await (const entry of readJsonLines(vault, vaultBucket, batchKey, { parse: run.parseEntry })) {
      entries.push(entry);
    }
  } catch (error) {
    if (run.missingBatch && isNotFoundError(error)) throw run.missingBatch(error);
    throw error;
  }

  const resultKey = batchResultKeyOf(batchKey);
  const done = await readJsonLinesOrUndefined(vault, vaultBucket, resultKey, run.parseLine);
  if (done && run.isComplete(entries, done)) {
    logger?.info(`batch already ${run.verb}`, { batchKey });
    return run.summarize(batchKey, done);
  }

  const started = Date.now();
  const budget = new ByteBudget(run.memoryBudgetBytes);
  const lines = await mapConcurrent(entries, run.concurrency, async (entry) => {
    const release = await budget.acquire(run.bufferBytesOf(entry));
    let line: Line;
    try {
      line = await run.transfer(entry);
    } finally {
      release();
    }
    const bytes = run.bytesOf(line);
    if (bytes !== undefined && bytes > run.multipartThresholdBytes) {
      logger?.info(`${run.verb} large object`, { bucket: run.bucket, key: line.key, bytes });
    }
    return line;
  });
  await writeJsonLines(vault, vaultBucket, resultKey, lines);
  const result = run.summarize(batchKey, lines);
  logger?.info(`batch ${run.verb}`, { ...result, seconds: (Date.now() - started) / 1000 });
  return result;
}
