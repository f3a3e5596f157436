import { z } from 'zod';

/**
 * Host commands awaited with a task token (`statemachines/host-command.ts`): what the state machine
 * hands the send function, the record that links an SSM command to its waiting task, and the
 * EventBridge event SSM emits when a command invocation changes status.
 */

/** One SSM document parameter: SSM takes each as a list of strings. */
const documentParametersSchema = z.record(z.string(), z.array(z.string()));

/** What a `.waitForTaskToken` host-command task passes to the send function. */
export const hostCommandRequestSchema = z.object({
  /** `$$.Task.Token` of the waiting task. */
  taskToken: z.string().min(1).max(2048),
  documentName: z.string().min(1),
  instanceId: z.string().min(1),
  parameters: documentParametersSchema,
  /** SSM's delivery timeout (`SendCommand` `TimeoutSeconds`): how long an offline host may take to pick the command up. */
  deliveryTimeoutSeconds: z.number().int().min(30).max(2_592_000),
});
/** A host command to send. */
export type HostCommandRequest = z.infer<typeof hostCommandRequestSchema>;

/** The vault record of a running host command (`hostCommandTokenKey`): whom to tell when it ends. */
export const hostCommandRecordSchema = z.object({
  taskToken: z.string().min(1),
  documentName: z.string(),
  instanceId: z.string(),
  requestedAt: z.string(),
});
/** A running host command's record. */
export type HostCommandRecord = z.infer<typeof hostCommandRecordSchema>;

/**
 * CloudWatch Logs group receiving the host commands' output (`SendCommand` `CloudWatchOutputConfig`;
 * `WireBackupStack` creates it with a retention, where SSM's default `/aws/ssm/<document>` never expires)
 * of an installation without `namePrefix`; with one, `/<namePrefix>/host-commands` (`lib/names.ts`,
 * given to the send function as `HOST_COMMAND_LOG_GROUP`).
 */
export const ssmOutputLogGroupName = '/wire-backup/host-commands';

/** SSM's `detail-type` for a command invocation (one instance) changing status. */
export const commandInvocationDetailType = 'EC2 Command Invocation Status-change Notification';

/** Invocation statuses after which nothing more happens on the host. */
export const finalInvocationStatuses = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'DeliveryTimedOut',
  'Undeliverable',
  'Terminated',
  'ExecutionTimedOut',
] as const;

/** The EventBridge event SSM emits when a command invocation changes status. */
export const commandStatusEventSchema = z.object({
  source: z.literal('aws.ssm'),
  'detail-type': z.literal(commandInvocationDetailType),
  detail: z.looseObject({
    'command-id': z.string(),
    'document-name': z.string(),
    'instance-id': z.string(),
    status: z.string(),
  }),
});
/** An SSM command invocation status-change event. */
export type CommandStatusEvent = z.infer<typeof commandStatusEventSchema>;
