import { commandStatusEventSchema } from './core/contract/host-command.js';
import { createSfnClient, createSsmClient } from './core/control-clients.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { completeHostCommand, type HostCommandCompletion } from './core/host-command.js';
import { logEvent } from './core/telemetry.js';

/**
 * Target of the EventBridge rule on SSM's "EC2 Command Invocation Status-change Notification":
 * sends the waiting host-command task its result or its `HostCommandError`.
 */
export async function handler(event: unknown): Promise<HostCommandCompletion> {
  const parsed = parseEvent('host-command-complete', commandStatusEventSchema, event);
  const { s3, bucket } = vault();
  const completion = await completeHostCommand(parsed, {
    ssm: createSsmClient(),
    sfn: createSfnClient(),
    s3,
    bucket,
  });
  logEvent('info', `host command ${completion.outcome}`, {
    commandId: parsed.detail['command-id'],
    instanceId: parsed.detail['instance-id'],
    documentName: parsed.detail['document-name'],
    status: parsed.detail.status,
    ...(completion.outcome === 'ignored'
      ? { reason: completion.reason }
      : { reference: completion.reference, delivered: completion.delivered }),
  });
  return completion;
}
