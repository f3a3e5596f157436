import { randomUUID } from 'node:crypto';
import { hostCommandRequestSchema } from './core/contract/host-command.js';
import { createSsmClient } from './core/control-clients.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { sendHostCommand } from './core/host-command.js';
import { logEvent } from './core/telemetry.js';

/**
 * The `.waitForTaskToken` task of a host command: records the task token in the vault and sends
 * the SSM command. The task waits until `host-command-complete` reports the command's end.
 */
export async function handler(event: unknown): Promise<{ commandId: string; reference: string }> {
  const request = parseEvent('host-command-send', hostCommandRequestSchema, event);
  const { s3, bucket } = vault();
  const sent = await sendHostCommand(request, {
    ssm: createSsmClient(),
    s3,
    bucket,
    newReference: randomUUID,
    now: () => new Date(),
  });
  logEvent('info', 'host command sent', {
    documentName: request.documentName,
    instanceId: request.instanceId,
    commandId: sent.commandId,
    reference: sent.reference,
  });
  return { commandId: sent.commandId, reference: sent.reference };
}
