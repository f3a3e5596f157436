import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, type SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { commandInvocationDetailType } from '../../functions/core/contract/host-command.js';
import { completeHostCommand } from '../../functions/core/host-command.js';
import { hostCommandCommentPrefix } from '../../functions/core/vault-layout.js';

// completeHostCommand against recording clients (the control plane is what is faked here): what the
// waiting task is sent for each way a script can end. The real round trip runs in the e2e tests.
const reference = '0b4c1f0e-6a1d-4d6e-9c1a-6f8f1e2d3c4b';
const documentName = 'WireBackup-RestoreCassandraSchema';
const instanceId = 'mi-0a1b2c3d4e5f60001';
const event = {
  source: 'aws.ssm' as const,
  'detail-type': commandInvocationDetailType as typeof commandInvocationDetailType,
  detail: {
    'command-id': 'cmd-1',
    'document-name': documentName,
    'instance-id': instanceId,
    status: 'Failed',
  },
};

function recorder(invocation: Record<string, unknown>) {
  const calls: unknown[] = [];
  const record = { taskToken: 'token-1', documentName, instanceId, requestedAt: '2026-12-02T06:00:00Z' };
  const client = (answer: (command: unknown) => unknown) => ({
    send: async (command: unknown) => {
      calls.push(command);
      return answer(command);
    },
  });
  return {
    calls,
    deps: {
      bucket: 'vault',
      ssm: client(() => ({
        Comment: `${hostCommandCommentPrefix}${reference}`,
        InstanceId: instanceId,
        DocumentName: documentName,
        ...invocation,
      })),
      sfn: client(() => ({})),
      s3: client((command) =>
        command instanceof GetObjectCommand
          ? { Body: { transformToString: async () => JSON.stringify(record) } }
          : {},
      ),
    },
  };
}

describe('completeHostCommand', () => {
  it('sends a refusal (exit 3) to the task as RestoreRefusedError, instead of failing and leaving it waiting', async () => {
    const { calls, deps } = recorder({
      Status: 'Failed',
      ResponseCode: 3,
      StandardErrorContent: 'wire-backup: vm: keyspace data already exists — restore into an empty cluster\n',
    });

    const completion = await completeHostCommand(event, deps as never);

    expect(completion).toEqual({ outcome: 'failed', reference, delivered: true });
    expect(calls.map((c) => c?.constructor)).toEqual([
      GetCommandInvocationCommand,
      GetObjectCommand,
      SendTaskFailureCommand,
      DeleteObjectCommand,
    ]);
    expect((calls[2] as SendTaskFailureCommand).input).toEqual({
      taskToken: 'token-1',
      error: 'RestoreRefusedError',
      cause: `${documentName} on ${instanceId}: wire-backup: vm: keyspace data already exists — restore into an empty cluster`,
    });
  });

  it('sends any other failure as HostCommandError, and a result as the task output', async () => {
    const failed = recorder({ Status: 'Failed', ResponseCode: 1, StandardErrorContent: 'boom\n' });
    await completeHostCommand(event, failed.deps as never);
    expect((failed.calls[2] as SendTaskFailureCommand).input).toMatchObject({
      taskToken: 'token-1',
      error: 'HostCommandError',
    });

    const ok = recorder({
      Status: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'WIRE_BACKUP_RESULT {"a":1}\n',
    });
    await completeHostCommand({ ...event, detail: { ...event.detail, status: 'Success' } }, ok.deps as never);
    expect((ok.calls[2] as SendTaskSuccessCommand).input).toEqual({
      taskToken: 'token-1',
      output: '{"a":1}',
    });
  });
});
