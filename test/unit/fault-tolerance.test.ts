import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupIdTime } from '../../functions/core/abandoned-runs.js';
import { createVaultS3Client } from '../../functions/core/clients.js';
import { describeBackupCause, TransientStorageError } from '../../functions/core/errors.js';
import {
  defaultSdkRetryPolicy,
  describeStorageFailure,
  sdkRetryDelayMs,
  sdkRetryStrategy,
  sdkRetryWindowMs,
} from '../../functions/core/storage-retry.js';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';
import { S3FaultInjector } from '../../local/faults/s3-fault-injector.js';
import { toxiproxyPorts } from '../../local/faults/toxiproxy.js';
import { outageRetry } from '../../statemachines/steps.js';

describe('outageRetry', () => {
  it('retries long enough that pauses plus failing attempts cover the budget, pauses capped at 30 s', () => {
    for (const budget of [10, 20, 300, 3600]) {
      const retry = outageRetry(budget, 7.5);
      let covered = 7.5;
      for (let i = 1; i <= retry.maxAttempts; i++) covered += Math.min(30, 2 * 2 ** (i - 1)) + 7.5;
      expect(covered).toBeGreaterThanOrEqual(budget);
      // One retry fewer would not cover it.
      expect(covered - Math.min(30, 2 * 2 ** (retry.maxAttempts - 1)) - 7.5).toBeLessThan(budget);
      expect(retry.maxDelay.toSeconds()).toBe(30);
    }
    expect(outageRetry(300, 7.5).maxAttempts).toBe(11);
  });
});

describe('backup state machine retries', () => {
  it('retries each Lambda step for the outage budget and lets Mark Failed wait for the vault', () => {
    const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
    const config = loadConfigFile(join(projectRoot, 'config', 'example.json'));
    const stack = new WireBackupStack(app, 'WireBackup', { config });
    const [backup] = Object.values(
      Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine', {
        Properties: { StateMachineName: 'wire-backup' },
      }),
    );
    const definition = JSON.stringify(backup?.Properties.DefinitionString);
    const budget = outageRetry(config.retry.outageBudgetSeconds, 7.5).maxAttempts;
    const patience = outageRetry(12 * 3600 - 1800, 7.5).maxAttempts;
    const retriers = [...definition.matchAll(/TransientStorageError[^\]]*\][^}]*?MaxAttempts\\":(\d+)/g)].map(
      (m) => Number(m[1]),
    );
    // Prepare, Check MinIO, Evaluate Preflight, Verify Archive, Finalize Node, Plan MinIO, Index MinIO
    // Batches, Copy Batch, Finalize MinIO, Check MinIO Copies, Commit, and every host command task (its
    // send records the task token in the vault before SendCommand): the budget; Mark Failed: nearly the
    // execution's timeout.
    const hostCommandTasks = [...definition.matchAll(/lambda:invoke\.waitForTaskToken/g)].length;
    expect(hostCommandTasks).toBeGreaterThan(0);
    expect(retriers.filter((n) => n === budget)).toHaveLength(11 + hostCommandTasks);
    expect(retriers.filter((n) => n === patience)).toHaveLength(1);
    expect(definition).toContain('Backup Failed (Not Marked)');
  });
});

describe('SDK retry policy', () => {
  it('pauses 0.5 s doubling to at most 4 s, with ±20 % jitter, 7.5 s in all', () => {
    expect([1, 2, 3, 4, 5].map((r) => sdkRetryDelayMs(defaultSdkRetryPolicy, r, () => 0.5))).toEqual([
      500, 1000, 2000, 4000, 4000,
    ]);
    expect(sdkRetryDelayMs(defaultSdkRetryPolicy, 1, () => 0)).toBe(400);
    expect(sdkRetryDelayMs(defaultSdkRetryPolicy, 1, () => 1)).toBe(600);
    expect(sdkRetryWindowMs(defaultSdkRetryPolicy)).toBe(7500);
  });

  it('refuses to retry a client error or past the last attempt', async () => {
    const strategy = sdkRetryStrategy({ maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10 });
    const first = await strategy.acquireInitialRetryToken('s3');
    const second = await strategy.refreshRetryTokenForRetry(first, { errorType: 'TRANSIENT' });
    expect(second.getRetryCount()).toBe(1);
    const third = await strategy.refreshRetryTokenForRetry(second, { errorType: 'THROTTLING' });
    await expect(strategy.refreshRetryTokenForRetry(third, { errorType: 'TRANSIENT' })).rejects.toThrow();
    await expect(strategy.refreshRetryTokenForRetry(first, { errorType: 'CLIENT_ERROR' })).rejects.toThrow();
  });

  it('words a transient failure for a person: service, endpoint, request, attempts, what to check', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
      $metadata: { attempts: 5, totalRetryDelay: 7400 },
    });
    const error = describeStorageFailure(
      'the vault',
      'http://127.0.0.1:9',
      'PutObjectCommand',
      { Bucket: 'v', Key: 'backups/x/manifest.json' },
      cause,
    );
    expect(error).toBeInstanceOf(TransientStorageError);
    expect(error.message).toBe(
      'the vault at http://127.0.0.1:9 did not answer PutObjectCommand v/backups/x/manifest.json: ECONNREFUSED: Error: connect ECONNREFUSED 127.0.0.1:9 (5 attempts over 7 s) — check that http://127.0.0.1:9 is up and reachable from here (network, VPN, firewall, DNS)',
    );
  });
});

describe('vault client against an unreachable or failing endpoint', () => {
  let server: Server;
  let port = 0;
  let requests = 0;
  let answer503 = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests += 1;
      req.resume();
      req.on('end', () => {
        if (answer503 > 0) {
          answer503 -= 1;
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end('<Error><Code>SlowDown</Code><Message>slow down</Message></Error>');
          return;
        }
        res.writeHead(200, { etag: '"x"' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (endpoint: string) =>
    createVaultS3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });

  it('retries 503 SlowDown in the SDK and succeeds', async () => {
    requests = 0;
    answer503 = 2;
    await client(`http://127.0.0.1:${port}`).send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
    expect(requests).toBe(3);
  });

  it('gives up on a refused endpoint after its attempts with a TransientStorageError naming it', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await client(`http://127.0.0.1:${deadPort}`)
      .send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientStorageError);
    expect((error as Error).name).toBe('TransientStorageError');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the vault at http://127\\.0\\.0\\.1:${deadPort} did not answer GetObjectCommand b/k: .*ECONNREFUSED.*\\(5 attempts over \\d+ s\\)`,
      ),
    );
  }, 30_000);
});

describe('S3FaultInjector', () => {
  let upstream: Server;
  let injector: S3FaultInjector;
  let s3: S3Client;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-length': '1000', etag: '"e"' });
        res.end(Buffer.alloc(1000, 7));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    injector = await S3FaultInjector.start(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    s3 = new S3Client({
      endpoint: injector.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    s3.destroy();
    await injector.stop();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it('answers 503 SlowDown and 500 InternalError as S3 does, then passes requests through', async () => {
    injector.arm({ kind: 'slowDown', count: 1 });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).rejects.toMatchObject({
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    injector.arm({ kind: 'internalError', count: 1 });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
    const ok = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }));
    expect((await ok.Body?.transformToByteArray())?.length).toBe(1000);
    expect(injector.injected).toMatchObject({ slowDown: 1, internalError: 1 });
  });

  it('cuts a response body halfway (the reader sees a short read)', async () => {
    injector.arm({ kind: 'truncate', count: 1, match: (method) => method === 'GET' });
    const response = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }));
    await expect(response.Body?.transformToByteArray()).rejects.toThrow();
    expect(injector.injected.truncate).toBe(1);
  });
});

describe('fault harness settings', () => {
  it('reads the toxiproxy ports from the environment, defaulting to 8474 and 20000', () => {
    expect(toxiproxyPorts({})).toEqual({ api: 8474, proxyBase: 20000 });
    expect(
      toxiproxyPorts({ WIRE_FAULTS_TOXIPROXY_PORT: '9474', WIRE_FAULTS_PROXY_PORT_BASE: '21000' }),
    ).toEqual({
      api: 9474,
      proxyBase: 21000,
    });
    expect(() => toxiproxyPorts({ WIRE_FAULTS_TOXIPROXY_PORT: 'x' })).toThrow(/WIRE_FAULTS_TOXIPROXY_PORT/);
  });

  it('reads the start time of a backup id', () => {
    expect(backupIdTime('20261126T061500Z')?.toISOString()).toBe('2026-11-26T06:15:00.000Z');
    expect(backupIdTime('not-an-id')).toBeUndefined();
  });
});

describe('describeBackupCause', () => {
  it("words the copy map's own errors for a person, keeping the raw cause and naming the vault", () => {
    const raw = 'Copy Objects: writing s3://vault-b/map-runs/abc/manifest.json failed: connect ECONNREFUSED';
    const writer = describeBackupCause({ Error: 'States.ResultWriterFailed', Cause: raw }, 'vault-b');
    expect(writer.error).toBe('States.ResultWriterFailed');
    expect(writer.cause).toContain(
      'the MinIO copy (Copy Objects, a Distributed Map) could not write its run report',
    );
    expect(writer.cause).toContain(raw);
    expect(writer.cause).toContain('aws s3api head-bucket --bucket vault-b');

    const tolerated = describeBackupCause(
      {
        Error: 'States.ExceedToleratedFailureThreshold',
        Cause: 'The specified tolerated failure threshold was exceeded',
      },
      'vault-b',
    );
    expect(tolerated.cause).toContain('s3://vault-b/map-runs/<map run id>/FAILED_0.json');

    // Any other error keeps its own cause.
    const lambda = {
      Error: 'HostCommandError',
      Cause: JSON.stringify({ errorType: 'HostCommandError', errorMessage: 'node1: x' }),
    };
    expect(describeBackupCause(lambda, 'vault-b')).toEqual({ error: 'HostCommandError', cause: 'node1: x' });
  });
});
