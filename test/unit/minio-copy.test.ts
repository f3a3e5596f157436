import { describe, expect, it } from 'vitest';
import { VerificationFailedError } from '../../functions/core/errors.js';
import { checkCopiedBytes, summarizeResults } from '../../functions/core/minio-copy.js';
import { partSizeFor } from '../../functions/core/object-transfer.js';

const MiB = 1024 * 1024;

describe('partSizeFor', () => {
  it('sends objects up to the threshold as one part (at least the 5 MiB S3 minimum)', () => {
    expect(partSizeFor(0, 16 * MiB, 16 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(10 * MiB, 16 * MiB, 16 * MiB)).toBe(10 * MiB);
    expect(partSizeFor(16 * MiB, 16 * MiB, 8 * MiB)).toBe(16 * MiB);
  });

  it('uses the configured part size above the threshold', () => {
    expect(partSizeFor(16 * MiB + 1, 16 * MiB, 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(100 * MiB, 16 * MiB, 8 * MiB)).toBe(8 * MiB);
  });

  it('grows the part size so an object never needs more than 10,000 parts', () => {
    const size = 5 * 1024 * 1024 * MiB; // 5 TiB
    const part = partSizeFor(size, 16 * MiB, 16 * MiB);
    expect(Math.ceil(size / part)).toBeLessThanOrEqual(10_000);
  });
});

describe('checkCopiedBytes', () => {
  const digest = { bytes: 3, sha256: 'x', md5: '900150983cd24fb0d6963f7d28e17f72' }; // MD5 of "abc"

  it('accepts a matching byte count and plain MD5 ETag', () => {
    const result = checkCopiedBytes(
      's3://b/k',
      { size: 3, etag: '"900150983cd24fb0d6963f7d28e17f72"', etagIsMd5: true },
      digest,
    );
    expect(result).toBeUndefined();
  });

  it('names bucket and key when the byte count differs', () => {
    const result = checkCopiedBytes('s3://assets/a b', { size: 4, etag: '', etagIsMd5: false }, digest);
    expect(result).toBeInstanceOf(VerificationFailedError);
    expect(result?.message).toMatch(/s3:\/\/assets\/a b: read 3 bytes but the source announced 4/);
  });

  it('names bucket and key when the MD5 differs from a plain ETag', () => {
    const result = checkCopiedBytes(
      's3://assets/k',
      { size: 3, etag: 'ffffffffffffffffffffffffffffffff', etagIsMd5: true },
      digest,
    );
    expect(result).toBeInstanceOf(VerificationFailedError);
    expect(result?.message).toMatch(/s3:\/\/assets\/k: MD5 .* differs from the source ETag/);
  });

  it('does not compare a multipart ETag', () => {
    const result = checkCopiedBytes('s3://b/k', { size: 3, etag: 'abc-2', etagIsMd5: false }, digest);
    expect(result).toBeUndefined();
  });
});

describe('summarizeResults', () => {
  it('counts copied objects, their bytes, vanished and failed objects', () => {
    const entry = (key: string, size: number) => ({
      key,
      size,
      sha256: 'a'.repeat(64),
      etag: 'e',
      versionId: 'v',
      metadata: {},
      lastModified: '2026-11-26T00:00:00.000Z',
    });
    const summary = summarizeResults('batch', [
      entry('a', 5),
      { key: 'b', vanished: true },
      entry('c', 7),
      { key: 'd', failed: true, error: 'AccessDenied', cause: 'GetObject s3://x/d failed' },
    ]);
    expect(summary).toEqual({ batchKey: 'batch', copiedObjects: 2, copiedBytes: 12, vanished: 1, failed: 1 });
  });
});
