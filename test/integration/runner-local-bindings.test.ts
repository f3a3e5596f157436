import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AslDefinition } from '../../local/runner/asl.js';
import { createLocalBindings } from '../../local/runner/local-bindings.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { readStackInfo, type StackInfo, stackDir } from '../../local/stack-info.js';

const document = {
  logicalId: 'WhereAmI',
  name: 'WireBackup-Test-WhereAmI',
  content: {
    schemaVersion: '2.2',
    parameters: { tag: { type: 'String', allowedPattern: '^[a-z]{1,16}$', interpolationType: 'ENV_VAR' } },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'whereAmI',
        inputs: {
          runCommand: [
            'echo "$SSM_tag on the host" >&2',
            'printf "WIRE_BACKUP_RESULT %s\\n" "$AWS_ENDPOINT_URL"',
          ],
        },
      },
    ],
  },
};

async function waitForStackFile(): Promise<StackInfo> {
  const deadline = Date.now() + 280_000;
  while (!existsSync(join(stackDir(), 'stack.json'))) {
    if (Date.now() > deadline)
      throw new Error(`local stack not up: ${join(stackDir(), 'stack.json')} missing`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  return readStackInfo();
}

describe('createLocalBindings', () => {
  let stack: StackInfo;

  beforeAll(async () => {
    stack = await waitForStackFile();
  });

  it('runs a document on a managed instance of the local stack with its real host profile', async () => {
    // Arrange
    const instanceId = stack.deployHost.instanceId;
    const local = createLocalBindings({
      template: { stateMachines: [], functions: [], documents: [document], eventRules: [], parameters: {} },
    });
    const definition: AslDefinition = {
      StartAt: 'Send',
      States: {
        Send: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:ssm:sendCommand',
          Parameters: {
            DocumentName: document.name,
            InstanceIds: [instanceId],
            Parameters: { tag: ['runnertest'] },
          },
          ResultSelector: { 'id.$': '$.Command.CommandId' },
          ResultPath: '$.command',
          Next: 'Wait',
        },
        Wait: { Type: 'Wait', Seconds: 1, Next: 'Poll' },
        Poll: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:ssm:getCommandInvocation',
          Parameters: { 'CommandId.$': '$.command.id', InstanceId: instanceId },
          Next: 'Done?',
        },
        'Done?': {
          Type: 'Choice',
          Choices: [{ Variable: '$.Status', StringEquals: 'InProgress', Next: 'Wait' }],
          Default: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };

    // Act
    const result = await runStateMachine({ definition, bindings: local.bindings }).finally(() =>
      local.close(),
    );

    // Assert
    expect(result.output).toMatchObject({
      Status: 'Success',
      StandardOutputContent: `WIRE_BACKUP_RESULT ${stack.vault.endpoint}\n`,
      StandardErrorContent: 'runnertest on the host\n',
    });
    expect(result.events).toContainEqual(
      expect.objectContaining({ type: 'CommandOutput', message: `${instanceId}: runnertest on the host` }),
    );
  });
});
