import { describe, expect, it } from 'vitest';
import { TransientStorageError, VerificationFailedError } from '../../functions/core/errors.js';
import { isNotFoundError, isTransientError, toStorageError } from '../../functions/core/minio-errors.js';

function sdkError(name: string, status?: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

describe('minio-errors', () => {
  it('recognises missing keys, versions and HEAD 404s as not found', () => {
    expect(isNotFoundError(sdkError('NoSuchKey', 404))).toBe(true);
    expect(isNotFoundError(sdkError('NoSuchVersion', 404))).toBe(true);
    expect(isNotFoundError(sdkError('UnknownError', 404))).toBe(true);
    expect(isNotFoundError(sdkError('AccessDenied', 403))).toBe(false);
  });

  it('treats throttling, 5xx and broken connections as transient, client errors not', () => {
    expect(isTransientError(sdkError('SlowDown', 503))).toBe(true);
    expect(isTransientError(sdkError('InternalError', 500))).toBe(true);
    expect(isTransientError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientError(new Error('socket hang up'))).toBe(true);
    expect(isTransientError(sdkError('AccessDenied', 403))).toBe(false);
    expect(isTransientError(new VerificationFailedError('bad copy'))).toBe(false);
  });

  it('wraps transient errors in TransientStorageError naming the operation and keeps others', () => {
    const transient = toStorageError(sdkError('ServiceUnavailable', 503), 'GetObject s3://assets/k');
    expect(transient).toBeInstanceOf(TransientStorageError);
    expect((transient as Error).message).toMatch(/GetObject s3:\/\/assets\/k failed transiently/);
    expect((transient as Error).cause).toBeInstanceOf(Error);
    const denied = sdkError('AccessDenied', 403);
    expect(toStorageError(denied, 'x')).toBe(denied);
  });
});
