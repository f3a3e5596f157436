import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ssmOutputLogGroupName } from '../../functions/core/contract/host-command.js';
import { HostCommandError } from '../../functions/core/errors.js';
import { sendHostCommand } from '../../functions/core/host-command.js';

// sendHostCommand against recording clients: the order of its calls and what it sends. The real
// round trip (SSM executor, EventBridge, SendTask*, IAM) runs in the e2e tests.
const reference = '0b4c1f0e-6a1d-4d6e-9c1a-6f8f1e2d3c4b';
const request = {
  taskToken: 'token-1',
  documentName: 'WireBackup-Preflight',
  instanceId: 'mi-0a1b2c3d4e5f60001',
  parameters: { role: ['cassandra'] },
  deliveryTimeoutSeconds: 600,
};

function recorder(ssmFails?: Error) {
  const calls: unknown[] = [];
  return {
    calls,
    deps: {
      bucket: 'vault',
      newReference: () => reference,
      now: () => new Date('2026-12-02T06:00:00Z'),
      s3: {
        send: async (command: unknown) => {
          calls.push(command);
          return {};
        },
      },
      ssm: {
        send: async (command: unknown) => {
          calls.push(command);
          if (ssmFails) throw ssmFails;
          return { Command: { CommandId: 'cmd-1' } };
        },
      },
    },
  };
}

describe('sendHostCommand', () => {
  it('records the token first, then sends the command with its output to the stack’s log group', async () => {
    const { calls, deps } = recorder();
    const sent = await sendHostCommand(request, deps as never);
    expect(sent).toEqual({ reference, commandId: 'cmd-1', recordKey: `host-commands/${reference}.json` });
    expect(calls.map((c) => c?.constructor)).toEqual([PutObjectCommand, SendCommandCommand]);
    const send = (calls[1] as SendCommandCommand).input;
    expect(send).toMatchObject({
      DocumentName: 'WireBackup-Preflight',
      InstanceIds: ['mi-0a1b2c3d4e5f60001'],
      Comment: `wire-backup host command ${reference}`,
      CloudWatchOutputConfig: {
        CloudWatchOutputEnabled: true,
        CloudWatchLogGroupName: ssmOutputLogGroupName,
      },
    });
    // The token stays in the vault: never on the host.
    expect(JSON.stringify(send)).not.toContain('token-1');
  });

  it('deletes the record and names the host and the fix when SendCommand is refused', async () => {
    const refused = Object.assign(new Error('instance not registered'), { name: 'InvalidInstanceId' });
    const { calls, deps } = recorder(refused);
    const error = await sendHostCommand(request, deps as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostCommandError);
    expect((error as Error).message).toMatch(
      /WireBackup-Preflight could not be sent to mi-0a1b2c3d4e5f60001/,
    );
    expect((error as Error).message).toMatch(/amazon-ssm-agent/);
    expect(calls.map((c) => c?.constructor)).toEqual([
      PutObjectCommand,
      SendCommandCommand,
      DeleteObjectCommand,
    ]);
    expect((calls[2] as DeleteObjectCommand).input.Key).toBe(`host-commands/${reference}.json`);
  });
});
