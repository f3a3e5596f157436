import { TransientStorageError, WireBackupError } from './errors.js';

/**
 * Classification of S3 errors (AWS SDK v3 service errors and Node network errors), shared by the
 * MinIO, manifest and archive modules: what is "not found", what is worth retrying.
 */

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly Code?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const notFoundNames = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion', 'NoSuchBucket']);

const transientNames = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalError',
  'ServiceUnavailable',
  'XMinioServerNotInitialized',
  'XMinioReadQuorum',
  'XMinioWriteQuorum',
  'AbortError',
]);

const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

function shape(error: unknown): SdkErrorShape {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
}

/** HTTP status of an SDK error, if it came from a response. */
export function httpStatusOf(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

/** True for "no such key / version / bucket" answers (including a HEAD's bodiless 404). */
export function isNotFoundError(error: unknown): boolean {
  const { name, Code } = shape(error);
  return (
    (name !== undefined && notFoundNames.has(name)) ||
    (Code !== undefined && notFoundNames.has(Code)) ||
    httpStatusOf(error) === 404
  );
}

/** True when the same request may well succeed if retried: throttling, 5xx, timeouts, broken connections. */
export function isTransientError(error: unknown): boolean {
  if (error instanceof TransientStorageError) return true;
  if (error instanceof WireBackupError) return false;
  const { name, code, $retryable } = shape(error);
  const status = httpStatusOf(error);
  if ($retryable) return true;
  if (name !== undefined && transientNames.has(name)) return true;
  if (code !== undefined && transientCodes.has(code)) return true;
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  // A socket error surfaces without an HTTP status and often only in the message.
  const message = error instanceof Error ? error.message : '';
  return /socket hang up|ECONNRESET|ETIMEDOUT|ECONNREFUSED|premature close|aborted/i.test(message);
}

/**
 * Maps an error from an S3 call to what the state machine acts on: transient failures become
 * {@link TransientStorageError} (retried) with `what` in the message; anything else is returned as is.
 */
export function toStorageError(error: unknown, what: string): unknown {
  if (error instanceof WireBackupError) return error;
  if (isTransientError(error)) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new TransientStorageError(
      `${what} failed transiently (${detail}) — retried by the state machine`,
      {
        cause: error,
      },
    );
  }
  return error;
}

/**
 * The endpoint a client talks to, for error messages (`http://host:port`), or a generic phrase when
 * it uses the SDK's default (AWS) endpoint.
 */
export async function describeEndpoint(client: { readonly config: object }): Promise<string> {
  try {
    const provider = (client.config as { endpoint?: () => Promise<unknown> }).endpoint;
    const endpoint = (await provider?.()) as
      | { protocol?: string; hostname?: string; port?: number; path?: string }
      | { url?: URL }
      | undefined;
    if (endpoint && 'url' in endpoint && endpoint.url) return endpoint.url.origin;
    if (endpoint && 'hostname' in endpoint && endpoint.hostname) {
      const port = endpoint.port ? `:${endpoint.port}` : '';
      return `${endpoint.protocol ?? 'https:'}//${endpoint.hostname}${port}`;
    }
  } catch {
    // Fall through: the message is still useful without the endpoint.
  }
  return 'the default AWS endpoint';
}
