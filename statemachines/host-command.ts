import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  type CatchProps,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  TaskInput,
  type TaskStateBase,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { TypedPath } from '../functions/core/contract/json-path.js';
import { errorNames } from '../functions/core/errors.js';
import { hostDocuments } from '../lib/host-documents.js';
import { defaultTransientRetry, type TransientRetry } from './steps.js';

/**
 * One SSM document parameter (SSM takes each as a list of strings): a string field of the state, a
 * boolean or number field (sent as its text, `States.Format`), or a literal.
 */
export type HostParameter =
  | { readonly kind: 'text'; readonly path: string }
  | { readonly kind: 'value'; readonly path: string }
  | { readonly kind: 'literal'; readonly value: string };

/** Builds {@link HostParameter}s from typed paths, so a parameter's source type is checked. */
export const hostParam = {
  /** A string field of the state. */
  text: (path: TypedPath<string>): HostParameter => ({ kind: 'text', path }),
  /** A boolean or number field, sent as its text (`true`, `6`). */
  value: (path: TypedPath<boolean | number>): HostParameter => ({ kind: 'value', path }),
  /** A fixed value. */
  literal: (value: string): HostParameter => ({ kind: 'literal', value }),
};

function ssmParameter(parameter: HostParameter): unknown {
  switch (parameter.kind) {
    case 'text':
      return JsonPath.array(JsonPath.stringAt(parameter.path));
    case 'value':
      return JsonPath.array(JsonPath.format('{}', JsonPath.stringAt(parameter.path)));
    case 'literal':
      return [parameter.value];
  }
}

/** What {@link hostCommand} needs to run one SSM document on one host and wait for it. */
export interface HostCommandProps {
  /** Name of the task state (unique in the state machine). */
  readonly id: string;
  /** SSM document name (one of `lib/host-documents.ts`, whose `timeoutSeconds` bounds the wait). */
  readonly documentName: string;
  /** JSONPath of the managed instance id in the state input. */
  readonly instanceIdPath: TypedPath<string>;
  /** Document parameters by name. */
  readonly parameters: Readonly<Record<string, HostParameter>>;
  /** Where to put the parsed script result. */
  readonly resultPath: TypedPath<unknown>;
  /** `host-command-send`: records the task token and sends the command. */
  readonly sendFn: IFunction;
  /**
   * How a vault outage while recording the task token is retried (`TransientStorageError`: the record is
   * written before `SendCommand`, so a retry never runs the script twice). @default defaultTransientRetry
   */
  readonly storageRetry?: TransientRetry;
}

/** The states of one host command: the entry and the last state (add Catch/Next to it). */
export interface HostCommandChain {
  /** First state. */
  readonly start: TaskStateBase;
  /** Last state (its result is the parsed script result); continue with `end.next(...)`. */
  readonly end: LambdaInvoke;
  /** Adds the same Catch to every task of the command. */
  addCatch(handler: IChainable, props?: CatchProps): void;
}

/** SSM's delivery timeout: how long a host that is offline may take to pick a command up. */
export const deliveryTimeoutSeconds = 600;
/** Time on top of delivery and the document's own timeout for SSM's event and the completion Lambda. */
export const completionMarginSeconds = 300;

/** The longest a host command task waits: delivery, the script's timeout, and the margin. */
export function hostCommandTimeoutSeconds(documentName: string): number {
  // The deployed name is the spec's, or `<namePrefix>-<spec name without WireBackup->` (lib/names.ts).
  const document = Object.values(hostDocuments).find(
    (d) => d.name === documentName || documentName.endsWith(`-${d.name.replace(/^WireBackup-/, '')}`),
  );
  if (!document) {
    throw new Error(
      `host command document ${documentName} is not in lib/host-documents.ts (known: ${Object.values(
        hostDocuments,
      )
        .map((d) => d.name)
        .join(', ')})`,
    );
  }
  return deliveryTimeoutSeconds + document.timeoutSeconds + completionMarginSeconds;
}

/**
 * One task, `lambda:invoke.waitForTaskToken`: `host-command-send` records the task token and sends
 * the SSM command; when the command ends, SSM's status-change event reaches `host-command-complete`
 * (EventBridge rule, `lib/wire-backup-stack.ts`), which sends the task the script's parsed result
 * or `HostCommandError` naming the host and the script's last words. No polling: a command costs
 * the same few history events however long it runs. `TimeoutSeconds` (delivery + the document's
 * timeout + a margin) ends the wait with `States.Timeout` if the event is lost, so a surrounding
 * Catch still cleans up.
 */
export function hostCommand(scope: Construct, props: HostCommandProps): HostCommandChain {
  const ssmParameters = Object.fromEntries(
    Object.entries(props.parameters).map(([name, parameter]) => [name, ssmParameter(parameter)]),
  );
  const task = new LambdaInvoke(scope, props.id, {
    lambdaFunction: props.sendFn,
    integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: TaskInput.fromObject({
      taskToken: JsonPath.taskToken,
      documentName: props.documentName,
      instanceId: JsonPath.stringAt(props.instanceIdPath),
      parameters: ssmParameters,
      deliveryTimeoutSeconds,
    }),
    resultPath: props.resultPath,
    // Lambda's service errors may come after the function ran (and sent the command): retried below only for errors raised before it runs.
    retryOnServiceExceptions: false,
    taskTimeout: Timeout.duration(Duration.seconds(hostCommandTimeoutSeconds(props.documentName))),
  });
  // Only failures of the send function before SendCommand ran: Lambda's own transient errors. A
  // HostCommandError or States.Timeout is never retried (it would run the script twice).
  task.addRetry({
    errors: ['Lambda.TooManyRequestsException', 'Lambda.SdkClientException'],
    interval: Duration.seconds(2),
    maxAttempts: 3,
    backoffRate: 2,
  });
  // The vault did not take the task token's record (host-command-send fails before SendCommand with
  // TransientStorageError, the only way that error reaches this task): retried for the outage budget.
  const storage = props.storageRetry ?? defaultTransientRetry;
  task.addRetry({
    errors: [errorNames.transientStorage],
    interval: storage.interval,
    maxDelay: storage.maxDelay,
    maxAttempts: storage.maxAttempts,
    backoffRate: 2,
  });
  return {
    start: task,
    end: task,
    addCatch(handler, catchProps) {
      task.addCatch(handler, catchProps);
    },
  };
}

/** What every host command of one state machine shares. */
export interface HostCommandDefaults {
  /** `host-command-send`. */
  readonly sendFn: IFunction;
  /** See {@link HostCommandProps.storageRetry}. */
  readonly storageRetry?: TransientRetry;
}

/**
 * Binds the shared props once: `(id, documentName, instanceIdPath, parameters, resultPath)` then
 * builds one {@link hostCommand}. How long a script may run is its document's `timeoutSeconds`.
 */
export function hostCommandFactory(scope: Construct, defaults: HostCommandDefaults) {
  return (
    id: string,
    documentName: string,
    instanceIdPath: TypedPath<string>,
    parameters: Readonly<Record<string, HostParameter>>,
    resultPath: TypedPath<unknown>,
  ): HostCommandChain =>
    hostCommand(scope, {
      id,
      documentName,
      instanceIdPath,
      parameters,
      resultPath,
      sendFn: defaults.sendFn,
      ...(defaults.storageRetry ? { storageRetry: defaults.storageRetry } : {}),
    });
}
