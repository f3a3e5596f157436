import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** Digests of a byte stream, computed in one pass. */
export interface StreamDigest {
  /** Bytes that passed through. */
  readonly bytes: number;
  /** SHA-256, lowercase hex. */
  readonly sha256: string;
  /** MD5, lowercase hex (compared with plain S3 ETags). */
  readonly md5: string;
}

/**
 * A pass-through stream that counts bytes and hashes them (SHA-256 and MD5) as they flow, so a body is
 * read exactly once and never held whole. `check` runs when the input ends, before the last byte is
 * handed on: an error it returns fails the stream, so a consumer such as lib-storage's `Upload` never
 * sends its final part (or single PUT) and nothing unverified is committed.
 */
export class DigestStream extends Transform {
  private readonly sha256 = createHash('sha256');
  private readonly md5: Hash | undefined;
  private bytes = 0;
  private result: StreamDigest | undefined;
  private pending: Buffer | undefined;

  constructor(
    private readonly options: {
      /** Also compute MD5 (costs about as much as SHA-256 again). @default true */
      readonly md5?: boolean;
      /** Called once at the end; return an error to fail the stream. */
      readonly check?: (digest: StreamDigest) => Error | undefined;
    } = {},
  ) {
    super();
    this.md5 = options.md5 === false ? undefined : createHash('md5');
  }

  /** The digests; throws if the stream has not ended yet. */
  digest(): StreamDigest {
    if (!this.result) throw new Error('DigestStream.digest() called before the stream ended');
    return this.result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sha256.update(chunk);
    this.md5?.update(chunk);
    this.bytes += chunk.length;
    // Hold back the latest chunk so the check in _flush can still fail the stream before the consumer
    // has seen every byte (a consumer that sees the end of data commits what it has).
    const previous = this.pending;
    this.pending = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    this.result = {
      bytes: this.bytes,
      sha256: this.sha256.digest('hex'),
      md5: this.md5 ? this.md5.digest('hex') : '',
    };
    const failure = this.options.check?.(this.result);
    if (failure) {
      callback(failure);
      return;
    }
    callback(null, this.pending);
  }
}

/**
 * Splits a byte stream into UTF-8 text lines (without the line break; `\r\n` tolerated). Multi-byte
 * characters split across chunks are decoded correctly. A last line without a trailing newline is
 * yielded; empty lines are skipped.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of chunks) {
    const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk)));
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) {
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed !== '') yield trimmed;
    }
  }
  const rest = (carry + decoder.end()).replace(/\r$/, '');
  if (rest !== '') yield rest;
}

/**
 * Runs `work` over `items` with at most `concurrency` calls in flight, pulling items lazily (an async
 * source is never read more than `concurrency` items ahead, and nothing is collected). On the first
 * failure no new work starts; calls in flight are awaited, then the first error is thrown. Returns the
 * number of items processed.
 */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<number> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let next = 0;
  let processed = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed) {
      // Take the index before awaiting: iterators answer next() calls in call order.
      const index = next++;
      let step: IteratorResult<T>;
      try {
        step = await iterator.next();
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
        return;
      }
      if (step.done) return;
      try {
        await work(step.value, index);
        processed += 1;
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed) {
    try {
      await iterator.return?.();
    } catch {
      // The first error is the one worth reporting.
    }
    throw firstError;
  }
  return processed;
}

/**
 * Like {@link forEachConcurrent}, collecting the results in input order (for lists that fit in memory,
 * such as one batch).
 */
export async function mapConcurrent<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  await forEachConcurrent(items, concurrency, async (item, index) => {
    results[index] = await work(item, index);
  });
  return results;
}
