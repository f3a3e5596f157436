import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AslDefinition, JsonObject } from '../../local/runner/asl.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { LocalSsmExecutor, type SendCommandInput } from '../../local/runner/ssm-executor.js';
import { createFakeStack, type FakeStack } from '../fixtures/runner/fake-stack.js';

/** A document shaped like wire-backup's: ENV_VAR parameters with allowedPattern, one shell step. */
const testDocument: { name: string; content: JsonObject } = {
  name: 'WireBackup-Test-Echo',
  content: {
    schemaVersion: '2.2',
    description: 'runner test document',
    parameters: {
      backupId: { type: 'String', allowedPattern: '^[0-9]{8}T[0-9]{6}Z$', interpolationType: 'ENV_VAR' },
      label: {
        type: 'String',
        allowedPattern: '^[^\\n]{0,64}$',
        default: 'none',
        interpolationType: 'ENV_VAR',
      },
      bytes: { type: 'String', allowedPattern: '^[0-9]{1,6}$', default: '0', interpolationType: 'ENV_VAR' },
      sleepSeconds: {
        type: 'String',
        allowedPattern: '^[0-9]{1,3}$',
        default: '0',
        interpolationType: 'ENV_VAR',
      },
      exitCode: {
        type: 'String',
        allowedPattern: '^[0-9]{1,3}$',
        default: '0',
        interpolationType: 'ENV_VAR',
      },
      executionTimeout: { type: 'String', allowedPattern: '^[0-9]{1,5}$', default: '60' },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'runScript',
        inputs: {
          timeoutSeconds: '{{ executionTimeout }}',
          runCommand: [
            'set -euo pipefail',
            'echo "backing up $SSM_backupId" >&2',
            'fake-nodetool status >&2',
            'if [ "$SSM_bytes" -gt 0 ]; then',
            '  head -c "$SSM_bytes" /dev/zero | tr "\\0" o',
            '  head -c "$SSM_bytes" /dev/zero | tr "\\0" e >&2',
            '  echo',
            'fi',
            'sleep "$SSM_sleepSeconds"',
            'printf \'WIRE_BACKUP_RESULT {"backupId":"%s","label":"%s","marker":"%s"}\\n\' "$SSM_backupId" "$SSM_label" "$HOST_MARKER"',
            'exit "$SSM_exitCode"',
          ],
        },
      },
    ],
  },
};

describe('LocalSsmExecutor', () => {
  let stack: FakeStack;
  let executor: LocalSsmExecutor;
  let events: RunnerEvent[];

  beforeEach(() => {
    stack = createFakeStack('host-profile-loaded');
    events = [];
    executor = new LocalSsmExecutor({
      documents: [testDocument],
      stackDir: stack.dir,
      onEvent: (event) => events.push(event),
    });
  });

  afterEach(async () => {
    await executor.close();
    stack.remove();
  });

  const send = (parameters: Record<string, string[]>, extra: Partial<SendCommandInput> = {}) =>
    executor.sendCommand({
      DocumentName: testDocument.name,
      InstanceIds: [stack.instanceId],
      Parameters: parameters,
      ...extra,
    });

  const runToEnd = async (parameters: Record<string, string[]>) => {
    const { Command } = await send(parameters);
    await executor.waitForCommand(Command.CommandId);
    return executor.getCommandInvocation({ CommandId: Command.CommandId, InstanceId: stack.instanceId });
  };

  it('runs the document script with bash, SSM_ variables and the host profile sourced', async () => {
    // Arrange
    const parameters = { backupId: ['20250101T000000Z'], label: ['nightly $(echo injected)'] };

    // Act
    const invocation = await runToEnd(parameters);

    // Assert
    expect(invocation).toMatchObject({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      PluginName: 'runScript',
    });
    expect(invocation.StandardOutputContent).toBe(
      'WIRE_BACKUP_RESULT {"backupId":"20250101T000000Z","label":"nightly $(echo injected)","marker":"host-profile-loaded"}\n',
    );
    expect(invocation.StandardErrorContent).toContain('UN  127.0.0.1  fake-nodetool status');
    expect(events.filter((event) => event.type === 'CommandOutput').map((event) => event.message)).toContain(
      `${stack.instanceId}: backing up 20250101T000000Z`,
    );
  });

  it('returns Pending at once and reports InProgress until the script ends', async () => {
    // Arrange
    const parameters = { backupId: ['20250101T000000Z'], sleepSeconds: ['1'] };

    // Act
    const { Command } = await send(parameters);
    const during = await executor.getCommandInvocation({
      CommandId: Command.CommandId,
      InstanceId: stack.instanceId,
    });
    await executor.waitForCommand(Command.CommandId);
    const after = await executor.getCommandInvocation({
      CommandId: Command.CommandId,
      InstanceId: stack.instanceId,
    });

    // Assert
    expect(Command).toMatchObject({
      Status: 'Pending',
      DocumentName: testDocument.name,
      InstanceIds: [stack.instanceId],
    });
    expect(Command.Parameters).toMatchObject({ label: ['none'], executionTimeout: ['60'] });
    expect(during).toMatchObject({ Status: 'InProgress', ResponseCode: -1, StandardOutputContent: '' });
    expect(after.Status).toBe('Success');
  });

  it('rejects a hostile parameter value before bash runs', async () => {
    // Arrange
    const witness = join(stack.dir, 'pwned');
    const parameters = { backupId: [`20250101T000000Z; touch ${witness}`] };

    // Act
    const sending = send(parameters);

    // Assert
    await expect(sending).rejects.toMatchObject({
      name: 'Ssm.InvalidParametersException',
      message: expect.stringContaining('Parameter "backupId"'),
    });
    expect(existsSync(witness)).toBe(false);
    expect(existsSync(join(stack.dir, 'ssm'))).toBe(false);
  });

  it.each([
    [{ backupId: ['20250101T000000Z'], colour: ['red'] }, /Parameter "colour" is not defined/],
    [{ label: ['x'] }, /Parameter "backupId" .* is required/],
    [{ backupId: ['20250101T000000Z', '20250102T000000Z'] }, /give exactly one value, got 2/],
  ])('rejects parameters SSM would reject: %j', async (parameters, message) => {
    // Arrange: parameters from the table

    // Act
    const sending = send(parameters);

    // Assert
    await expect(sending).rejects.toMatchObject({
      name: 'Ssm.InvalidParametersException',
      message: expect.stringMatching(message),
    });
  });

  it('rejects an unknown instance with the error SSM gives for it', async () => {
    // Arrange
    const input = {
      DocumentName: testDocument.name,
      InstanceIds: ['mi-0123456789abcdef0'],
      Parameters: { backupId: ['20250101T000000Z'] },
    };

    // Act
    const sending = executor.sendCommand(input);

    // Assert
    await expect(sending).rejects.toMatchObject({
      name: 'Ssm.InvalidInstanceIdException',
      message: expect.stringContaining('Instances [[mi-0123456789abcdef0]] not in a valid state'),
    });
  });

  it('truncates inline output as SSM does and keeps the full logs on disk', async () => {
    // Arrange
    const parameters = { backupId: ['20250101T000000Z'], bytes: ['30000'] };

    // Act
    const invocation = await runToEnd(parameters);

    // Assert
    expect(invocation.StandardOutputContent).toHaveLength(24_000);
    expect(invocation.StandardErrorContent).toHaveLength(8_000);
    const logs = join(stack.dir, 'ssm', invocation.CommandId);
    expect(readFileSync(join(logs, `${stack.instanceId}.stdout`), 'utf8')).toContain('o'.repeat(30_000));
    expect(readFileSync(join(logs, `${stack.instanceId}.stderr`), 'utf8')).toContain('e'.repeat(30_000));
    expect(readFileSync(join(logs, stack.instanceId, '_script.sh'), 'utf8')).toContain(
      'exit "$SSM_exitCode"',
    );
  });

  it('reports a failing script as Failed with its exit code', async () => {
    // Arrange
    const parameters = { backupId: ['20250101T000000Z'], exitCode: ['3'] };

    // Act
    const invocation = await runToEnd(parameters);

    // Assert
    expect(invocation).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 3 });
  });

  it('kills a script that outlives the execution timeout and reports TimedOut', async () => {
    // Arrange
    const parameters = { backupId: ['20250101T000000Z'], sleepSeconds: ['30'], executionTimeout: ['1'] };
    const started = Date.now();

    // Act
    const invocation = await runToEnd(parameters);

    // Assert
    expect(invocation).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
      ResponseCode: 137,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('throws InvocationDoesNotExist for an unknown command', async () => {
    // Arrange
    const input = { CommandId: '00000000-0000-0000-0000-000000000000', InstanceId: stack.instanceId };

    // Act
    const getting = executor.getCommandInvocation(input);

    // Assert
    await expect(getting).rejects.toMatchObject({ name: 'Ssm.InvocationDoesNotExistException' });
  });

  it('serves the SDK tasks of a state machine that polls the command and catches SSM errors by name', async () => {
    // Arrange
    const definition: AslDefinition = {
      StartAt: 'Send',
      States: {
        Send: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:ssm:sendCommand',
          Parameters: {
            DocumentName: testDocument.name,
            'InstanceIds.$': 'States.Array($.instanceId)',
            Parameters: { 'backupId.$': 'States.Array($.backupId)', sleepSeconds: ['1'] },
            TimeoutSeconds: 600,
            CloudWatchOutputConfig: { CloudWatchOutputEnabled: true },
          },
          ResultSelector: {
            'commandId.$': '$.Command.CommandId',
            'instanceId.$': '$.Command.InstanceIds[0]',
          },
          ResultPath: '$.command',
          Catch: [
            { ErrorEquals: ['Ssm.InvalidParametersException'], ResultPath: '$.rejected', Next: 'Rejected' },
          ],
          Next: 'Wait',
        },
        Wait: { Type: 'Wait', Seconds: 5, Next: 'Poll' },
        Poll: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:ssm:getCommandInvocation',
          Parameters: { 'CommandId.$': '$.command.commandId', 'InstanceId.$': '$.command.instanceId' },
          ResultSelector: { 'status.$': '$.Status', 'stdout.$': '$.StandardOutputContent' },
          ResultPath: '$.invocation',
          Retry: [{ ErrorEquals: ['Ssm.InvocationDoesNotExistException'], MaxAttempts: 3 }],
          Next: 'Done?',
        },
        'Done?': {
          Type: 'Choice',
          Choices: [{ Variable: '$.invocation.status', StringEquals: 'InProgress', Next: 'Wait' }],
          Default: 'Finished',
        },
        Finished: { Type: 'Succeed' },
        Rejected: { Type: 'Pass', End: true },
      },
    };
    const run = (backupId: string) =>
      runStateMachine({
        definition,
        input: { instanceId: stack.instanceId, backupId },
        bindings: { ssm: executor },
        maxWaitSeconds: 0.2,
      });

    // Act
    const good = await run('20250101T000000Z');
    const hostile = await run('$(reboot)');

    // Assert
    expect(good.status).toBe('SUCCEEDED');
    expect(good.output).toMatchObject({
      invocation: { status: 'Success', stdout: expect.stringContaining('WIRE_BACKUP_RESULT') },
    });
    expect(good.events.some((event) => event.type === 'CommandOutput')).toBe(true);
    expect(hostile.status).toBe('SUCCEEDED');
    expect(hostile.output).toMatchObject({ rejected: { Error: 'Ssm.InvalidParametersException' } });
  });
});
