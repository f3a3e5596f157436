import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  type CatchProps,
  Choice,
  Condition,
  type IChainable,
  JsonPath,
  TaskInput,
  type TaskStateBase,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { TypedPath } from '../functions/core/contract/json-path.js';
import { errorNames } from '../functions/core/errors.js';

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
  /** Prefix of the state names (unique in the state machine). */
  readonly id: string;
  /** SSM document name. */
  readonly documentName: string;
  /** JSONPath of the managed instance id in the state input. */
  readonly instanceIdPath: TypedPath<string>;
  /** Document parameters by name. */
  readonly parameters: Readonly<Record<string, HostParameter>>;
  /** Where to put the parsed script result. */
  readonly resultPath: TypedPath<unknown>;
  /** Parses the invocation (success → result JSON; failure → HostCommandError naming the host). */
  readonly commandResultFn: IFunction;
  /** Seconds between polls of the invocation. @default 5 */
  readonly pollSeconds?: number;
  /** ARNs the state machine may send this document to (document + instances). */
  readonly sendCommandResources: string[];
}

/** The states of one host command: the entry and the last state (add Catch/Next to it). */
export interface HostCommandChain {
  /** First state (SendCommand). */
  readonly start: TaskStateBase;
  /** Last state (the parsed result); continue with `end.next(...)`. */
  readonly end: LambdaInvoke;
  /** Adds the same Catch to every task of the command. */
  addCatch(handler: IChainable, props?: CatchProps): void;
}

/** CloudWatch Logs group receiving the host commands' output (created by `WireBackupStack` with a retention). */
export const ssmOutputLogGroupName = '/wire-backup/host-commands';

/**
 * SendCommand → Wait → GetCommandInvocation → (still running? wait again) → parse the result. The
 * parse step throws `HostCommandError` when the script failed, so a surrounding Catch cleans up.
 */
export function hostCommand(scope: Construct, props: HostCommandProps): HostCommandChain {
  const ssmParameters = Object.fromEntries(
    Object.entries(props.parameters).map(([name, parameter]) => [name, ssmParameter(parameter)]),
  );
  const send = new CallAwsService(scope, `${props.id} Send`, {
    service: 'ssm',
    action: 'sendCommand',
    parameters: {
      DocumentName: props.documentName,
      InstanceIds: JsonPath.array(JsonPath.stringAt(props.instanceIdPath)),
      Parameters: ssmParameters,
      TimeoutSeconds: 600,
      // The stack creates this group with a retention (SSM's default /aws/ssm/<document> never expires).
      CloudWatchOutputConfig: {
        CloudWatchOutputEnabled: true,
        CloudWatchLogGroupName: ssmOutputLogGroupName,
      },
    },
    iamResources: props.sendCommandResources,
    resultSelector: {
      commandId: JsonPath.stringAt('$.Command.CommandId'),
      instanceId: JsonPath.stringAt('$.Command.InstanceIds[0]'),
    },
    resultPath: '$.command',
    taskTimeout: Timeout.duration(Duration.seconds(60)),
  });
  send.addRetry({
    errors: ['Ssm.SsmException', 'Ssm.InternalServerErrorException', 'Ssm.ThrottlingException'],
    interval: Duration.seconds(2),
    maxAttempts: 4,
    backoffRate: 2,
  });
  const wait = new Wait(scope, `${props.id} Wait`, {
    time: WaitTime.duration(Duration.seconds(props.pollSeconds ?? 5)),
  });
  const poll = new CallAwsService(scope, `${props.id} Poll`, {
    service: 'ssm',
    action: 'getCommandInvocation',
    parameters: {
      CommandId: JsonPath.stringAt('$.command.commandId'),
      InstanceId: JsonPath.stringAt('$.command.instanceId'),
    },
    iamResources: ['*'],
    resultSelector: {
      status: JsonPath.stringAt('$.Status'),
      responseCode: JsonPath.numberAt('$.ResponseCode'),
      instanceId: JsonPath.stringAt('$.InstanceId'),
      stdout: JsonPath.stringAt('$.StandardOutputContent'),
      stderr: JsonPath.stringAt('$.StandardErrorContent'),
    },
    resultPath: '$.invocation',
  });
  // Right after SendCommand the invocation may not exist yet.
  poll.addRetry({
    errors: ['Ssm.InvocationDoesNotExistException', 'Ssm.ThrottlingException'],
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 1.5,
  });
  const parse = new LambdaInvoke(scope, `${props.id} Result`, {
    lambdaFunction: props.commandResultFn,
    payload: TaskInput.fromObject({
      documentName: props.documentName,
      invocation: JsonPath.objectAt('$.invocation'),
    }),
    payloadResponseOnly: true,
    resultPath: props.resultPath,
  });
  parse.addRetry({ errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException'], maxAttempts: 3 });
  const running = new Choice(scope, `${props.id} Done?`)
    .when(
      Condition.or(
        Condition.stringEquals('$.invocation.status', 'Pending'),
        Condition.stringEquals('$.invocation.status', 'InProgress'),
        Condition.stringEquals('$.invocation.status', 'Delayed'),
      ),
      wait,
    )
    .otherwise(parse);
  send.next(wait).next(poll).next(running);
  return {
    start: send,
    end: parse,
    addCatch(handler, catchProps) {
      for (const task of [send, poll, parse]) task.addCatch(handler, catchProps);
    },
  };
}

/** What every host command of one state machine shares. */
export interface HostCommandDefaults {
  readonly commandResultFn: IFunction;
  readonly sendCommandResources: string[];
  readonly pollSeconds?: number | undefined;
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
      commandResultFn: defaults.commandResultFn,
      sendCommandResources: defaults.sendCommandResources,
      ...(defaults.pollSeconds === undefined ? {} : { pollSeconds: defaults.pollSeconds }),
    });
}

/** Errors worth retrying on a Lambda task that talks to S3 or MinIO. */
export const transientErrors = [errorNames.transientStorage, 'Lambda.TooManyRequestsException'];
