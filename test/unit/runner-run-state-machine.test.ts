import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AslDefinition, JsonObject } from '../../local/runner/asl.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import type { ExtractedFunction } from '../../local/runner/extract.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { type FixtureModule, fixtureBundle } from '../support/fixture-functions.js';

const arnOf = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** A template function whose code is the bundle of a fixture handler module. */
function fixtureFunction(
  name: string,
  module: FixtureModule,
  environment: Record<string, string> = {},
  timeoutSeconds = 30,
): ExtractedFunction {
  return {
    logicalId: name,
    name,
    arn: arnOf(name),
    handler: `test/fixtures/runner/${module}.handler`,
    code: fixtureBundle(module),
    environment,
    timeoutSeconds,
    memorySize: 128,
  };
}

const functions = [
  fixtureFunction('Echo', 'echo', { GREETING: 'hello' }),
  fixtureFunction('EchoFr', 'echo', { GREETING: 'bonjour' }),
  fixtureFunction('Flaky', 'flaky'),
  fixtureFunction('Slow', 'slow', {}, 1),
  fixtureFunction('Hog', 'hog'),
];

describe('runStateMachine', () => {
  it('runs Lambda tasks in their own environment and wraps lambda:invoke results', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Greet',
      States: {
        Greet: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: arnOf('Echo'), 'Payload.$': '$' },
          ResultSelector: {
            'greeting.$': '$.Payload.greeting',
            'status.$': '$.StatusCode',
            'name.$': '$.Payload.event.name',
          },
          ResultPath: '$.greet',
          Next: 'Greet In French',
        },
        'Greet In French': { Type: 'Task', Resource: arnOf('EchoFr'), ResultPath: '$.french', End: true },
      },
    };

    process.env.WIRE_BACKUP_TEST_RUNNER_ONLY = 'leaked';

    // Act
    const result = await runStateMachine({ definition, input: { name: 'wire' }, bindings: { functions } });

    // Assert
    delete process.env.WIRE_BACKUP_TEST_RUNNER_ONLY;
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({
      name: 'wire',
      greet: { greeting: 'hello', status: 200, name: 'wire' },
      french: {
        greeting: 'bonjour',
        functionName: 'EchoFr',
        lambdaName: 'EchoFr',
        runnerOnly: null,
        event: { name: 'wire' },
      },
    });
  });

  it('names a thrown error after the JS error so Retry and Catch match it', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Upload',
      States: {
        Upload: {
          Type: 'Task',
          Resource: arnOf('Flaky'),
          Parameters: { key: 'retry-then-succeed', failTimes: 2 },
          Retry: [{ ErrorEquals: ['TransientStorageError'], IntervalSeconds: 1, MaxAttempts: 2 }],
          ResultPath: '$.upload',
          Next: 'Validate',
        },
        Validate: {
          Type: 'Task',
          Resource: arnOf('Flaky'),
          Parameters: { invalid: true },
          Retry: [{ ErrorEquals: ['TransientStorageError'], MaxAttempts: 5 }],
          Catch: [{ ErrorEquals: ['InvalidInputError'], ResultPath: '$.rejected', Next: 'Rejected' }],
          End: true,
        },
        Rejected: { Type: 'Pass', End: true },
      },
    };

    // Act
    const result = await runStateMachine({
      definition,
      bindings: { functions },
      retryIntervalOverrides: { Upload: 0 },
    });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      upload: { key: 'retry-then-succeed', calls: 3 },
      rejected: { Error: 'InvalidInputError', Cause: 'backupId must look like 20250101T000000Z' },
    });
    const types = result.events
      .filter((event) => event.state === 'Upload' || event.state === 'Validate')
      .map((event) => event.type);
    expect(types.filter((type) => type === 'StateRetried')).toHaveLength(2);
    expect(types).toContain('StateCaught');
  });

  it('fails the execution with the error name and cause when nothing catches it', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Validate',
      States: {
        Validate: { Type: 'Task', Resource: arnOf('Flaky'), Parameters: { invalid: true }, End: true },
      },
    };

    // Act
    const result = await runStateMachine({ definition, bindings: { functions } });

    // Assert
    expect(result).toMatchObject({
      status: 'FAILED',
      error: 'InvalidInputError',
      cause: 'backupId must look like 20250101T000000Z',
      output: undefined,
    });
    expect(result.events.at(-1)).toMatchObject({ type: 'ExecutionFailed', error: 'InvalidInputError' });
  });

  it('refuses to start when a Task has no local binding and names the state and resource', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'Notify',
              States: { Notify: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', End: true } },
            },
          ],
          End: true,
        },
      },
    };

    // Act
    const run = runStateMachine({ definition, bindings: { functions } });

    // Assert
    await expect(run).rejects.toThrow(
      /Work › Notify: resource arn:aws:states:::sns:publish has no local binding/,
    );
  });

  it('binds Tasks nested in Parallel branches and inline Map iterations', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Fan Out',
      States: {
        'Fan Out': {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'Branch Echo',
              States: { 'Branch Echo': { Type: 'Task', Resource: arnOf('Echo'), End: true } },
            },
            {
              StartAt: 'Each Key',
              States: {
                'Each Key': {
                  Type: 'Map',
                  ItemsPath: '$.keys',
                  ItemSelector: { 'key.$': '$$.Map.Item.Value' },
                  ItemProcessor: {
                    ProcessorConfig: { Mode: 'INLINE' },
                    StartAt: 'Count Calls',
                    States: { 'Count Calls': { Type: 'Task', Resource: arnOf('Flaky'), End: true } },
                  },
                  End: true,
                },
              },
            },
          ],
          End: true,
        },
      },
    };

    // Act
    const result = await runStateMachine({
      definition,
      input: { keys: ['map-a', 'map-b'] },
      bindings: { functions },
    });

    // Assert
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual([
      {
        event: { keys: ['map-a', 'map-b'] },
        greeting: 'hello',
        functionName: 'Echo',
        lambdaName: 'Echo',
        runnerOnly: null,
      },
      [
        { key: 'map-a', calls: 1 },
        { key: 'map-b', calls: 1 },
      ],
    ]);
  });

  it('evaluates "IsNull": false and "IsPresent": false as AWS does (not null, not present)', async () => {
    // Arrange: the engine alone takes every `false` type test as never matching.
    const definition: AslDefinition = {
      StartAt: 'Which',
      States: {
        Which: {
          Type: 'Choice',
          Choices: [
            { Variable: '$.a', IsNull: false, Next: 'Not Null' },
            {
              And: [
                { Variable: '$.b', IsPresent: false },
                { Variable: '$.a', IsNull: true },
              ],
              Next: 'Null No B',
            },
          ],
          Default: 'Other',
        },
        'Not Null': { Type: 'Pass', Result: 'not null', End: true },
        'Null No B': { Type: 'Pass', Result: 'null, no b', End: true },
        Other: { Type: 'Pass', Result: 'other', End: true },
      },
    };
    const run = (input: JsonObject) => runStateMachine({ definition, input, bindings: { functions } });

    // Act
    const results = await Promise.all([run({ a: { x: 1 } }), run({ a: null }), run({ a: null, b: 1 })]);

    // Assert
    expect(results.map((r) => r.output)).toEqual(['not null', 'null, no b', 'other']);
  });

  it('caps Wait states and does not apply the engine’s 60 s default or overflowing task timeouts', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Wait An Hour',
      States: {
        'Wait An Hour': { Type: 'Wait', Seconds: 3600, Next: 'Wait Long Task' },
        'Wait Long Task': { Type: 'Task', Resource: arnOf('Slow'), TimeoutSeconds: 99_999_999, End: true },
      },
    };
    const started = Date.now();

    // Act
    const result = await runStateMachine({ definition, input: { ms: 50 }, bindings: { functions } });

    // Assert
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { waited: 50 } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails a Lambda that runs past its function timeout with Sandbox.Timedout', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Too Slow',
      States: { 'Too Slow': { Type: 'Task', Resource: arnOf('Slow'), Parameters: { ms: 1500 }, End: true } },
    };

    // Act
    const result = await runStateMachine({ definition, bindings: { functions } });

    // Assert
    expect(result).toMatchObject({
      status: 'FAILED',
      error: 'Sandbox.Timedout',
      cause: 'Task timed out after 1.00 seconds',
    });
  });

  it('gives the execution a context object with its id, name and state machine name', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Who Am I',
      States: {
        'Who Am I': {
          Type: 'Pass',
          Parameters: {
            'id.$': '$$.Execution.Id',
            'name.$': '$$.Execution.Name',
            'machine.$': '$$.StateMachine.Name',
          },
          ResultPath: '$',
          End: true,
        },
      },
    };

    // Act
    const result = await runStateMachine({
      definition,
      bindings: {},
      executionName: 'backup-20250101T000000Z',
      stateMachineName: 'WireBackup-Backup',
    });

    // Assert
    expect(result.output).toEqual({
      id: 'arn:aws:states:us-east-1:000000000000:execution:WireBackup-Backup:backup-20250101T000000Z',
      name: 'backup-20250101T000000Z',
      machine: 'WireBackup-Backup',
    });
  });

  it('streams timestamped progress events to onEvent as they happen', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Greet',
      States: { Greet: { Type: 'Task', Resource: arnOf('Echo'), End: true } },
    };
    const seen: RunnerEvent[] = [];

    // Act
    const result = await runStateMachine({
      definition,
      bindings: { functions },
      onEvent: (event) => seen.push(event),
    });

    // Assert
    expect(seen.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'StateEntered',
      'StateExited',
      'ExecutionSucceeded',
    ]);
    expect(seen).toEqual(result.events);
    expect(seen.every((event) => typeof event.timestamp === 'number' && event.message.length > 0)).toBe(true);
  });

  it('fails a task whose result exceeds 256 KiB with States.DataLimitExceeded, which Catch cannot take', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Big',
      States: {
        Big: {
          Type: 'Task',
          Resource: 'arn:aws:states:::local:big',
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    };

    // Act
    const result = await runStateMachine({
      definition,
      validate: false,
      bindings: { resources: { 'arn:aws:states:::local:big': () => 'x'.repeat(300 * 1024) } },
    });

    // Assert
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('ends ABORTED when the caller aborts, and TIMED_OUT past the definition TimeoutSeconds', async () => {
    // Arrange
    const waiting: AslDefinition = {
      StartAt: 'Wait',
      States: { Wait: { Type: 'Wait', Seconds: 30, End: true } },
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    // Act
    const aborted = await runStateMachine({
      definition: waiting,
      bindings: {},
      maxWaitSeconds: null,
      signal: controller.signal,
    });
    const timedOut = await runStateMachine({
      definition: { ...waiting, TimeoutSeconds: 1 },
      bindings: {},
      maxWaitSeconds: null,
    });

    // Assert
    expect(aborted.status).toBe('ABORTED');
    expect(timedOut).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
  });

  it('refuses a Lambda request over 256 KiB with States.DataLimitExceeded, which Catch cannot take', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Too Much',
      States: {
        'Too Much': {
          Type: 'Task',
          Resource: arnOf('Echo'),
          Parameters: { 'first.$': '$.blob', 'second.$': '$.blob' },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    };

    // Act
    const result = await runStateMachine({
      definition,
      input: { blob: 'x'.repeat(150 * 1024) },
      bindings: { functions },
    });

    // Assert
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('fails a Lambda that exceeds its MemorySize with Runtime.OutOfMemory', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Hog',
      States: { Hog: { Type: 'Task', Resource: arnOf('Hog'), End: true } },
    };

    // Act
    const result = await runStateMachine({ definition, bindings: { functions } });

    // Assert
    expect(result).toMatchObject({ status: 'FAILED', error: 'Runtime.OutOfMemory' });
  });

  it('runs only the bundle: a package it left external fails to load as in Lambda', async () => {
    // Arrange: a bundle that imports a package present in the repository's node_modules.
    const taskRoot = mkdtempSync(join(tmpdir(), 'runner-bundle-'));
    writeFileSync(
      join(taskRoot, 'index.mjs'),
      "import { z } from 'zod';\nexport const handler = async () => z.string().parse('loaded');\n",
    );
    const external: ExtractedFunction = {
      ...fixtureFunction('External', 'echo'),
      code: { directory: taskRoot, handler: 'index.handler' },
    };
    const definition: AslDefinition = {
      StartAt: 'Load',
      States: { Load: { Type: 'Task', Resource: arnOf('External'), End: true } },
    };

    // Act
    const result = await runStateMachine({ definition, bindings: { functions: [external] } });

    // Assert
    rmSync(taskRoot, { recursive: true, force: true });
    expect(result).toMatchObject({ status: 'FAILED', error: 'Runtime.ImportModuleError' });
    expect(result.cause).toContain("Cannot find package 'zod'");
  });
});
