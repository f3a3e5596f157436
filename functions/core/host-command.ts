import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { parseCommandResult } from './command-result.js';
import {
  type CommandStatusEvent,
  finalInvocationStatuses,
  type HostCommandRecord,
  type HostCommandRequest,
  hostCommandRecordSchema,
} from './contract/host-command.js';
import { env } from './env.js';
import { errorNames, HostCommandError, HostCommandPendingError, RestoreRefusedError } from './errors.js';
import { readJsonOrUndefined, s3Url } from './vault-io.js';
import {
  hostCommandCommentPrefix,
  hostCommandReferencePattern,
  hostCommandTokenKey,
} from './vault-layout.js';

/**
 * Host commands awaited with a Step Functions task token, in two halves:
 * - {@link sendHostCommand} (the `.waitForTaskToken` task's Lambda): writes the task token to the
 *   vault under a fresh reference, then sends the SSM command with that reference in its `Comment`;
 * - {@link completeHostCommand} (the Lambda of the EventBridge rule on SSM's status-change events):
 *   reads the invocation, finds the token by the Comment's reference, and sends the task's success
 *   (the script's result, parsed as before by `command-result.ts`) or failure (`HostCommandError`).
 *
 * Why the token lives in the vault: a task token can be 2,048 characters, too long for SSM's
 * `Comment` (100) or `OutputS3KeyPrefix` (500); as a document parameter it would reach the host and
 * every document would need it. The record is written before `SendCommand`, so a command that ends at
 * once still finds it, and deleted once the completion has been sent.
 */

/** What {@link sendHostCommand} uses. */
export interface SendHostCommandDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly bucket: string;
  readonly newReference: () => string;
  readonly now: () => Date;
}

/** What {@link sendHostCommand} did. */
export interface SentHostCommand {
  readonly reference: string;
  readonly commandId: string;
  readonly recordKey: string;
}

/** SSM errors that mean "the host cannot take commands", with the fix. */
const sendFixes: Readonly<Record<string, string>> = {
  InvalidInstanceId:
    'the instance is not a managed instance that is online in this account and region: check the SSM agent on the host (systemctl status amazon-ssm-agent) and the instance id in the configuration',
  InvalidDocument: 'the SSM document does not exist: deploy the stack again',
  InvalidParameters: 'a document parameter was rejected: check the configuration value it comes from',
};

/** Sends one host command and records the task token its completion goes to. */
export async function sendHostCommand(
  request: HostCommandRequest,
  deps: SendHostCommandDeps,
): Promise<SentHostCommand> {
  const reference = deps.newReference();
  if (!hostCommandReferencePattern.test(reference)) {
    throw new Error(`host command reference ${reference} is not a UUID`);
  }
  const recordKey = hostCommandTokenKey(reference);
  const record: HostCommandRecord = {
    taskToken: request.taskToken,
    documentName: request.documentName,
    instanceId: request.instanceId,
    requestedAt: deps.now().toISOString(),
  };
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: recordKey,
      Body: JSON.stringify(record),
      ContentType: 'application/json',
    }),
  );
  try {
    const sent = await deps.ssm.send(
      new SendCommandCommand({
        DocumentName: request.documentName,
        InstanceIds: [request.instanceId],
        Parameters: request.parameters,
        TimeoutSeconds: request.deliveryTimeoutSeconds,
        Comment: `${hostCommandCommentPrefix}${reference}`,
        // The stack creates this group with a retention (SSM's default group never expires).
        CloudWatchOutputConfig: {
          CloudWatchOutputEnabled: true,
          CloudWatchLogGroupName: env.hostCommandLogGroup(),
        },
      }),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new Error('SendCommand returned no CommandId');
    return { reference, commandId, recordKey };
  } catch (error) {
    await deps.s3
      .send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: recordKey }))
      .catch(() => undefined);
    const name = (error as { name?: string }).name ?? 'Error';
    const fix = sendFixes[name] ?? 'check that Systems Manager is reachable and retry the run';
    throw new HostCommandError(
      `${request.documentName} could not be sent to ${request.instanceId}: ${name}: ${(error as Error).message} — ${fix}`,
      { cause: error },
    );
  }
}

/** What {@link completeHostCommand} uses. */
export interface CompleteHostCommandDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly bucket: string;
}

/** What {@link completeHostCommand} did with an event. */
export type HostCommandCompletion =
  | { readonly outcome: 'ignored'; readonly reason: string }
  | { readonly outcome: 'succeeded' | 'failed'; readonly reference: string; readonly delivered: boolean };

/** SendTask* errors that mean the task no longer waits (the run timed out, ended or was stopped). */
const goneTaskErrors = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Step Functions' limit on a task's `Cause`. */
const maxCauseChars = 32_768;

/**
 * Handles one SSM status-change event: a final status of a command wire-backup sent is turned into
 * the waiting task's success or failure. Events of other commands, and intermediate statuses, are
 * ignored. Throws {@link HostCommandPendingError} when SSM does not yet report the final status the
 * event announced, so the asynchronous invocation is retried.
 */
export async function completeHostCommand(
  event: CommandStatusEvent,
  deps: CompleteHostCommandDeps,
): Promise<HostCommandCompletion> {
  const { detail } = event;
  const status = detail.status;
  if (!(finalInvocationStatuses as readonly string[]).includes(status)) {
    return { outcome: 'ignored', reason: `status ${status} is not final` };
  }
  const invocation = await deps.ssm.send(
    new GetCommandInvocationCommand({ CommandId: detail['command-id'], InstanceId: detail['instance-id'] }),
  );
  const comment = invocation.Comment ?? '';
  if (!comment.startsWith(hostCommandCommentPrefix)) {
    return { outcome: 'ignored', reason: `command ${detail['command-id']} was not sent by wire-backup` };
  }
  const reference = comment.slice(hostCommandCommentPrefix.length);
  if (!hostCommandReferencePattern.test(reference)) {
    return { outcome: 'ignored', reason: `comment of command ${detail['command-id']} names no reference` };
  }
  const invocationStatus = invocation.Status ?? 'Pending';
  if (['Pending', 'InProgress', 'Delayed', 'Cancelling'].includes(invocationStatus)) {
    throw new HostCommandPendingError(
      `SSM reports ${detail['document-name']} on ${detail['instance-id']} (command ${detail['command-id']}) as ${invocationStatus} after a ${status} event; retried`,
    );
  }
  const recordKey = hostCommandTokenKey(reference);
  const raw = await readJsonOrUndefined(deps.s3, deps.bucket, recordKey);
  if (raw === undefined) {
    return {
      outcome: 'ignored',
      reason: `no task waits for command ${detail['command-id']} (${s3Url(deps.bucket, recordKey)} is gone: completed already)`,
    };
  }
  const record = hostCommandRecordSchema.parse(raw);
  if (record.instanceId !== invocation.InstanceId || record.documentName !== invocation.DocumentName) {
    return {
      outcome: 'ignored',
      reason: `record ${recordKey} is for ${record.documentName} on ${record.instanceId}, not this command`,
    };
  }
  let outcome: 'succeeded' | 'failed';
  let delivered: boolean;
  try {
    const result = parseCommandResult(record.documentName, {
      status:
        invocationStatus === 'Success'
          ? 'Success'
          : describeStatus(invocationStatus, invocation.StatusDetails),
      ...(invocation.ResponseCode === undefined ? {} : { responseCode: invocation.ResponseCode }),
      instanceId: record.instanceId,
      stdout: invocation.StandardOutputContent ?? '',
      stderr: invocation.StandardErrorContent ?? '',
    });
    outcome = 'succeeded';
    delivered = await sendOrGone(() =>
      deps.sfn.send(
        new SendTaskSuccessCommand({ taskToken: record.taskToken, output: JSON.stringify(result) }),
      ),
    );
  } catch (error) {
    // What the script's result means (a failure, or a refusal: exit 3 → RestoreRefusedError) goes to the
    // waiting task under its own name; only an unexpected error fails this function (and is retried).
    // Thrown, a refusal was retried and dropped by EventBridge, and the task waited until its timeout.
    if (!(error instanceof HostCommandError || error instanceof RestoreRefusedError)) throw error;
    outcome = 'failed';
    delivered = await sendOrGone(() =>
      deps.sfn.send(
        new SendTaskFailureCommand({
          taskToken: record.taskToken,
          error: error instanceof RestoreRefusedError ? errorNames.restoreRefused : errorNames.hostCommand,
          cause: error.message.slice(0, maxCauseChars),
        }),
      ),
    );
  }
  await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: recordKey }));
  return { outcome, reference, delivered };
}

/** The status as a person reads it: `Failed`, or `Failed (DeliveryTimedOut)` when SSM says more. */
function describeStatus(status: string, details: string | undefined): string {
  return details && details !== status ? `${status} (${details})` : status;
}

/** Sends a task completion; false when the task no longer waits for it. */
async function sendOrGone(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (goneTaskErrors.has((error as { name?: string }).name ?? '')) return false;
    throw error;
  }
}
