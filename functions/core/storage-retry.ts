import type { S3Client } from '@aws-sdk/client-s3';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { TransientStorageError, WireBackupError } from './errors.js';
import { isTransientError } from './minio-errors.js';

/**
 * Retries of S3 and MinIO requests, the first of three levels that ride out a transient fault (README,
 * "Faults and retries"): the SDK retries one request (this module), a copy batch retries one object
 * (`minio-copy.ts`), the state machine retries a step for the outage budget (`statemachines/steps.ts`).
 */

/** The SDK level: attempts per request and the pause before each retry. */
export interface SdkRetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Pause before the first retry; doubles with each retry. */
  readonly baseDelayMs: number;
  /** Longest pause between two attempts. */
  readonly maxDelayMs: number;
}

/**
 * 5 attempts, 0.5 s doubling to at most 4 s (7.5 s of pauses): enough for a reset or a throttled burst;
 * longer outages are the state machine's to wait out (its retries span the outage budget).
 */
export const defaultSdkRetryPolicy: SdkRetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 4000 };

/** The pause before retry `retry` (1 = the first retry) with ±20 % jitter from `random`. */
export function sdkRetryDelayMs(
  policy: SdkRetryPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(nominal * (0.8 + 0.4 * random()));
}

/** The most the SDK waits in all before giving up on a request (without jitter), in milliseconds. */
export function sdkRetryWindowMs(policy: SdkRetryPolicy): number {
  let total = 0;
  for (let retry = 1; retry < policy.maxAttempts; retry++) {
    total += Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  }
  return total;
}

class Token implements RetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
}

/**
 * A retry strategy for the AWS SDK v3 with {@link SdkRetryPolicy}'s backoff. It retries every error but a
 * client error (4xx other than throttling): throttling (503 SlowDown), server errors (500), timeouts and
 * broken connections. Unlike the SDK's standard mode it keeps no retry quota across requests: during an
 * outage every request keeps its full number of attempts.
 */
export function sdkRetryStrategy(policy: SdkRetryPolicy = defaultSdkRetryPolicy): RetryStrategyV2 {
  return {
    acquireInitialRetryToken: async () => new Token(0, 0),
    refreshRetryTokenForRetry: async (token: RetryToken, info: RetryErrorInfo) => {
      const retry = token.getRetryCount() + 1;
      if (retry >= policy.maxAttempts || info.errorType === 'CLIENT_ERROR') {
        throw new Error('no retry left');
      }
      return new Token(retry, sdkRetryDelayMs(policy, retry));
    },
    recordSuccess: () => undefined,
  };
}

interface SdkFailure {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly attempts?: number; readonly totalRetryDelay?: number };
}

/** `(bucket/key)` of a command's input, for messages. */
function target(input: unknown): string {
  const { Bucket, Key, Prefix } = (typeof input === 'object' && input !== null ? input : {}) as {
    Bucket?: string;
    Key?: string;
    Prefix?: string;
  };
  if (!Bucket) return '';
  if (Key !== undefined) return ` ${Bucket}/${Key}`;
  if (Prefix !== undefined) return ` ${Bucket}/${Prefix}*`;
  return ` ${Bucket}`;
}

/**
 * The error a person reads when the SDK gave up on a request because of a transient fault: which
 * service and endpoint, which request, what happened, how many attempts over how long, what to check.
 * A {@link TransientStorageError}, so the state machine retries the step.
 */
export function describeStorageFailure(
  service: string,
  endpoint: string,
  command: string,
  input: unknown,
  error: unknown,
): TransientStorageError {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SdkFailure;
  const detail = [failure.code, failure.name, failure.message]
    .filter((s, i, all): s is string => !!s && all.indexOf(s) === i)
    .join(': ');
  const attempts = failure.$metadata?.attempts;
  const waited = failure.$metadata?.totalRetryDelay;
  const tries =
    attempts !== undefined
      ? ` (${attempts} attempt${attempts === 1 ? '' : 's'}${waited ? ` over ${Math.round(waited / 1000)} s` : ''})`
      : '';
  const status = (failure as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const answered = status !== undefined || /checksum mismatch/i.test(failure.message ?? '');
  return new TransientStorageError(
    answered
      ? `${service} at ${endpoint} failed ${command}${target(input)}: ${detail || String(error)}${status ? ` (HTTP ${status})` : ''}${tries} — check ${endpoint}'s health and its logs for this object`
      : `${service} at ${endpoint} did not answer ${command}${target(input)}: ${detail || String(error)}${tries} — check that ${endpoint} is up and reachable from here (network, VPN, firewall, DNS)`,
    { cause: error },
  );
}

/**
 * Turns an error the SDK gave up on after its retries into {@link describeStorageFailure}'s error when
 * it is transient; anything else (not found, access denied, a named wire-backup error) passes as is.
 */
export function addStorageErrorMiddleware(client: S3Client, service: string, endpoint: () => string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof WireBackupError || !isTransientError(error)) throw error;
        throw describeStorageFailure(
          service,
          endpoint(),
          context.commandName ?? 'a request',
          args.input,
          error,
        );
      }
    },
    { step: 'initialize', name: 'wireBackupStorageErrors', override: true },
  );
}
