import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import {
  DefinitionBody,
  DistributedMap,
  ItemBatcher,
  JsonPath,
  ResultWriterV2,
  S3JsonLItemReader,
  StateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireFunction } from '../../lib/constructs/wire-function.js';
import { projectRoot } from '../../lib/paths.js';
import type { AslDefinition, JsonValue } from '../../local/runner/asl.js';
import { readAssetDirectories } from '../../local/runner/cloud-assembly.js';
import { type CfnTemplate, type ExtractedFunction, extractTemplate } from '../../local/runner/extract.js';
import { createVaultS3Client } from '../../local/runner/local-bindings.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { readStackInfo, type StackInfo, stackDir } from '../../local/stack-info.js';
import { fixtureBundle } from '../support/fixture-functions.js';

const batchFunction: ExtractedFunction = {
  logicalId: 'Batch',
  name: 'Batch',
  arn: 'arn:aws:lambda:us-east-1:000000000000:function:Batch',
  handler: 'test/fixtures/runner/batch.handler',
  code: fixtureBundle('batch'),
  environment: {},
  timeoutSeconds: 30,
  memorySize: 128,
};

/** Waits for `wire-stack up` (run by another engineer) to write stack.json and for the vault to answer. */
async function waitForStack(): Promise<StackInfo> {
  const deadline = Date.now() + 280_000;
  for (;;) {
    if (existsSync(join(stackDir(), 'stack.json'))) {
      const stack = readStackInfo();
      const s3 = createVaultS3Client(stack);
      try {
        await s3.send(new HeadBucketCommand({ Bucket: stack.vault.bucket }));
        return stack;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      } finally {
        s3.destroy();
      }
    }
    if (Date.now() > deadline)
      throw new Error(`local stack not up: ${join(stackDir(), 'stack.json')} missing`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function readJson(s3: S3Client, bucket: string, key: string): Promise<JsonValue> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString('utf8')) ?? 'null') as JsonValue;
}

describe('Distributed Map in the local runner', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let bucket: string;
  const prefix = `runner-test/${randomUUID()}/`;

  beforeAll(async () => {
    stack = await waitForStack();
    s3 = createVaultS3Client(stack);
    bucket = stack.vault.bucket;
  });

  afterAll(async () => {
    if (!s3) return;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key as string }));
    if (keys.length > 0)
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    s3.destroy();
  });

  it('reads items with listObjectsV2 and selects them with $$.Map.Item.Value and Index', async () => {
    // Arrange
    for (const name of ['a.txt', 'b.txt', 'c.txt']) {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${prefix}objects/${name}`, Body: `content of ${name}` }),
      );
    }
    const definition: AslDefinition = {
      StartAt: 'List Objects',
      States: {
        'List Objects': {
          Type: 'Map',
          ItemReader: {
            Resource: 'arn:aws:states:::s3:listObjectsV2',
            Parameters: { Bucket: bucket, 'Prefix.$': '$.objectsPrefix' },
          },
          ItemSelector: { 'object.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'run.$': '$.run' },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'Look',
            States: { Look: { Type: 'Pass', End: true } },
          },
          ResultPath: '$.listed',
          End: true,
        },
      },
    };
    const before = Math.floor(Date.now() / 1000) - 5;

    // Act
    const result = await runStateMachine({
      definition,
      input: { objectsPrefix: `${prefix}objects/`, run: 'r1' },
      bindings: { s3 },
    });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    const listed = (
      result.output as { listed: { index: number; run: string; object: Record<string, JsonValue> }[] }
    ).listed;
    expect(listed.map((item) => [item.index, item.run, item.object.Key])).toEqual([
      [0, 'r1', `${prefix}objects/a.txt`],
      [1, 'r1', `${prefix}objects/b.txt`],
      [2, 'r1', `${prefix}objects/c.txt`],
    ]);
    expect(listed[0]?.object).toEqual({
      Etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      Key: `${prefix}objects/a.txt`,
      LastModified: expect.any(Number),
      Size: 'content of a.txt'.length,
      StorageClass: 'STANDARD',
    });
    expect(listed[0]?.object.LastModified as number).toBeGreaterThanOrEqual(before);
    expect(result.events.filter((event) => event.type === 'MapIterationSucceeded')).toHaveLength(3);
  });

  it('runs a CDK Distributed Map with a JSONL reader, MaxItems, batching and a ResultWriter', async () => {
    // Arrange
    const batchesKey = `${prefix}batches.jsonl`;
    const lines = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
      .map((name) => JSON.stringify({ name }))
      .join('\n');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: batchesKey, Body: `${lines}\n` }));
    // Synthesized with bundling, as `cdk deploy` does: the runner runs the fixture's bundle.
    const app = new App({
      context: { '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true },
    });
    const cdkStack = new Stack(app, 'RunnerMap');
    const vault = Bucket.fromBucketName(cdkStack, 'Vault', bucket);
    const fn = new WireFunction(cdkStack, 'Batch', {
      handlerName: 'batch',
      entry: join(projectRoot, 'test', 'fixtures', 'runner', 'batch.ts'),
      description: 'runner test fixture batch',
    });
    const copy = new DistributedMap(cdkStack, 'Copy Batches', {
      itemReader: new S3JsonLItemReader({
        bucket: vault,
        key: JsonPath.stringAt('$.batchesKey'),
        maxItems: 4,
      }),
      itemBatcher: new ItemBatcher({ maxItemsPerBatch: 3, batchInput: { 'tag.$': '$.tag' } }),
      maxConcurrency: 2,
      resultWriterV2: new ResultWriterV2({ bucket: vault, prefix: `${prefix}results` }),
      resultPath: '$.copyRun',
    });
    copy.itemProcessor(
      new LambdaInvoke(cdkStack, 'Copy Batch', { lambdaFunction: fn, payloadResponseOnly: true }),
    );
    new StateMachine(cdkStack, 'Machine', { definitionBody: DefinitionBody.fromChainable(copy) });
    const assembly = app.synth();
    const extracted = extractTemplate(assembly.getStackByName('RunnerMap').template as CfnTemplate, {
      assets: readAssetDirectories(assembly.directory),
    });

    // Act
    const result = await runStateMachine({
      definition: extracted.stateMachines[0]?.definition as AslDefinition,
      input: { batchesKey, tag: 'nightly' },
      bindings: { s3, functions: extracted.functions },
      stateMachineName: 'RunnerMap',
    });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    const copyRun = (
      result.output as {
        copyRun: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
      }
    ).copyRun;
    const mapRunId = copyRun.MapRunArn.split(':').at(-1) as string;
    expect(copyRun.MapRunArn).toMatch(
      /^arn:aws:states:us-east-1:000000000000:mapRun:RunnerMap\/Copy Batches:[0-9a-f-]{36}$/,
    );
    expect(copyRun.ResultWriterDetails).toEqual({
      Bucket: bucket,
      Key: `${prefix}results/${mapRunId}/manifest.json`,
    });
    const manifest = await readJson(s3, bucket, copyRun.ResultWriterDetails.Key);
    expect(manifest).toEqual({
      DestinationBucket: bucket,
      MapRunArn: copyRun.MapRunArn,
      ResultFiles: {
        FAILED: [],
        PENDING: [],
        SUCCEEDED: [{ Key: `${prefix}results/${mapRunId}/SUCCEEDED_0.json`, Size: expect.any(Number) }],
      },
    });
    const succeeded = (await readJson(s3, bucket, `${prefix}results/${mapRunId}/SUCCEEDED_0.json`)) as Record<
      string,
      JsonValue
    >[];
    expect(succeeded).toHaveLength(2);
    expect(succeeded.map((record) => JSON.parse(record.Input as string))).toEqual([
      { BatchInput: { tag: 'nightly' }, Items: [{ name: 'alpha' }, { name: 'bravo' }, { name: 'charlie' }] },
      { BatchInput: { tag: 'nightly' }, Items: [{ name: 'delta' }] },
    ]);
    expect(JSON.parse(succeeded[0]?.Output as string)).toEqual({
      tag: 'nightly',
      count: 3,
      names: ['alpha', 'bravo', 'charlie'],
    });
    expect(succeeded[0]).toMatchObject({
      Status: 'SUCCEEDED',
      InputDetails: { Included: true },
      OutputDetails: { Included: true },
      ExecutionArn: expect.stringMatching(
        /^arn:aws:states:us-east-1:000000000000:execution:RunnerMap\/Copy Batches:/,
      ),
      StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:RunnerMap/Copy Batches',
    });
  });

  it('tolerates failed items up to ToleratedFailureCount and writes them to FAILED_0.json', async () => {
    // Arrange
    const itemsKey = `${prefix}items.json`;
    const items = [{ name: 'one' }, { name: 'poison' }, { name: 'three' }];
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: itemsKey, Body: JSON.stringify(items) }));
    const definition = toleranceDefinition(bucket, itemsKey, `${prefix}tolerant`, {
      ToleratedFailureCount: 1,
    });

    // Act
    const result = await runStateMachine({ definition, bindings: { s3, functions: [batchFunction] } });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    const details = (result.output as { run: { ResultWriterDetails: { Key: string } } }).run
      .ResultWriterDetails;
    const manifest = (await readJson(s3, bucket, details.Key)) as {
      ResultFiles: { FAILED: { Key: string }[] };
    };
    expect(manifest.ResultFiles.FAILED).toHaveLength(1);
    const failed = (await readJson(s3, bucket, manifest.ResultFiles.FAILED[0]?.Key as string)) as Record<
      string,
      JsonValue
    >[];
    expect(failed).toEqual([
      expect.objectContaining({
        Status: 'FAILED',
        Error: 'VerificationFailedError',
        Cause: 'poison item in batch',
        Input: JSON.stringify({ Items: [{ name: 'poison' }] }),
      }),
    ]);
  });

  it('fails with States.ExceedToleratedFailureThreshold when no failure is tolerated, so Catch can take it', async () => {
    // Arrange
    const itemsKey = `${prefix}items-strict.json`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: itemsKey,
        Body: JSON.stringify([{ name: 'poison' }, { name: 'two' }]),
      }),
    );
    const definition = toleranceDefinition(bucket, itemsKey, `${prefix}strict`, {});

    // Act
    const result = await runStateMachine({ definition, bindings: { s3, functions: [batchFunction] } });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ failure: { Error: 'States.ExceedToleratedFailureThreshold' } });
    expect(result.events.some((event) => event.type === 'MapRunFailed')).toBe(true);
  });

  it('fails with States.ItemReaderFailed when the item source cannot be read', async () => {
    // Arrange
    const definition = toleranceDefinition(bucket, `${prefix}does-not-exist.json`, `${prefix}missing`, {});

    // Act
    const result = await runStateMachine({ definition, bindings: { s3, functions: [batchFunction] } });

    // Assert
    expect(result.output).toMatchObject({
      failure: { Error: 'States.ItemReaderFailed', Cause: expect.stringContaining('NoSuchKey') },
    });
  });
});

/** A Distributed Map over a JSON array in S3, one item per child, results to `resultPrefix`, failures caught. */
function toleranceDefinition(
  bucket: string,
  itemsKey: string,
  resultPrefix: string,
  tolerance: { ToleratedFailureCount?: number },
): AslDefinition {
  return {
    StartAt: 'Check Items',
    States: {
      'Check Items': {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { Bucket: bucket, Key: itemsKey },
        },
        ItemBatcher: { MaxItemsPerBatch: 1 },
        ...tolerance,
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: bucket, Prefix: resultPrefix },
        },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Check One',
          States: {
            'Check One': {
              Type: 'Task',
              Resource: 'arn:aws:lambda:us-east-1:000000000000:function:Batch',
              End: true,
            },
          },
        },
        ResultPath: '$.run',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Map Failed' }],
        End: true,
      },
      'Map Failed': { Type: 'Pass', End: true },
    },
  };
}
