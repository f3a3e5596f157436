/**
 * Runs a synthesized state machine definition locally in aws-local-stepfunctions, with every Task
 * bound to local code:
 * - Lambda tasks (a function ARN, or `arn:aws:states:::lambda:invoke` with `FunctionName`) → the
 *   function's bundle, in a container of its own with its environment, timeout and memory
 *   (`lambda-invoker.ts`; `lambda:invoke` results are wrapped as `{ ExecutedVersion, Payload,
 *   StatusCode: 200, … }`);
 * - `arn:aws:states:::aws-sdk:ssm:sendCommand` / `…:getCommandInvocation` → the local SSM executor;
 * - `.waitForTaskToken` Tasks → `callback-task.ts`: the integration runs, then the Task waits for
 *   SendTaskSuccess/Failure, which functions send through the local control plane
 *   (`control-plane.ts`, also serving them SSM), with `TimeoutSeconds`/`HeartbeatSeconds`;
 * - EventBridge rules of the template (`bindings.eventRules`) → `event-bus.ts`: SSM's command status
 *   events reach the rules' Lambda targets;
 * - DISTRIBUTED Map states → `distributed-map.ts` (replaced by a Task before the engine sees them);
 * - anything else → `bindings.resources` / `bindings.states`, or the run does not start.
 *
 * Adjustments to the engine, each to behave as AWS does:
 * - Tasks without `TimeoutSeconds` get the largest timeout Node can schedule (~24.8 days): AWS has no
 *   default task timeout, the engine's is 60 s. Larger values are clamped to it, because the engine
 *   turns a `TimeoutSeconds` over 2^31-1 ms into an immediate `States.Timeout`.
 * - `ResultPath: "$"` is dropped (same meaning): the engine would write the result under a `"$"` key.
 * - A Task result over 256 KiB fails with `States.DataLimitExceeded`, as in AWS.
 * - Wait states last at most `maxWaitSeconds` (default 1 s).
 * - The history is counted as Step Functions counts it (`history.ts`); past 25,000 events the
 *   execution fails with `States.Runtime`, no Catch involved (`RunResult.historyEvents`).
 * - Choice rules `IsNull`/`IsPresent`/`IsNumeric`/`IsString`/`IsBoolean`/`IsTimestamp` set to `false`
 *   become `Not` of the same test with `true`: the engine (3.x) evaluates `"IsNull": false` as always
 *   false, where AWS means "the value is not null".
 */

import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from 'aws-local-stepfunctions';
import {
  type AslDefinition,
  type AslState,
  isDistributedMap,
  isJsonObject,
  type JsonValue,
  jsonByteLength,
  listStates,
  mapStates,
  maxPayloadBytes,
} from './asl.js';
import { callbackIntegration, callbackTask, isCallbackTask, prepareCallbackTask } from './callback-task.js';
import {
  type ControlPlaneAuthorizer,
  type ExecutionRecord,
  localControlPlane,
  recordExecution,
} from './control-plane.js';
import { type ChildOutcome, type DistributedMapRuntime, runDistributedMap } from './distributed-map.js';
import { RunnerSetupError, StatesError, statesErrorNames, toStatesError } from './errors.js';
import { type CommandStatusChange, commandStatusEvent, LocalEventBus } from './event-bus.js';
import { emitSafely, type RunnerEvent, type RunnerEventListener } from './events.js';
import type { ExtractedEventRule, ExtractedFunction, ExtractedParameter } from './extract.js';
import { HistoryCounter, type HistoryShape, historyLimitCause } from './history.js';
import { LocalLambdaInvoker } from './lambda-invoker.js';
import type {
  GetCommandInvocationInput,
  GetCommandInvocationOutput,
  SendCommandInput,
  SendCommandOutput,
} from './ssm-executor.js';
import { TaskTokenRegistry } from './task-tokens.js';

/** Local code bound to a Task: receives the Task's input (after InputPath and Parameters). */
export type TaskHandler = (input: JsonValue) => Promise<JsonValue> | JsonValue;

/** What serves the SSM tasks (the {@link LocalSsmExecutor}). */
export interface SsmApi {
  sendCommand(input: SendCommandInput): Promise<SendCommandOutput>;
  getCommandInvocation(input: GetCommandInvocationInput): Promise<GetCommandInvocationOutput>;
  addListener?(listener: RunnerEventListener): () => void;
  /** Reports each invocation's status changes (the source of SSM's EventBridge events). */
  addStatusListener?(listener: (change: CommandStatusChange) => void): () => void;
  /** The tags a managed instance carries in SSM (IAM's `ssm:resourceTag/<key>`). */
  instanceTags?(instanceId: string): Readonly<Record<string, string>>;
  /** Whether this executor sent the command (routes GetCommandInvocation when several runs attach). */
  hasCommand?(commandId: string): boolean;
}

/** Everything Tasks can be bound to. */
export interface RunnerBindings {
  /** The template's Lambda functions (`extractTemplate(...).functions`, with their bundles). @default - none */
  readonly functions?: readonly ExtractedFunction[];
  /** Serves `aws-sdk:ssm:sendCommand` and `getCommandInvocation`. @default - none */
  readonly ssm?: SsmApi;
  /** S3 client of the vault, for Distributed Map readers and writers. @default - none */
  readonly s3?: S3Client;
  /** Handlers by Task `Resource` ARN, for other integrations. @default - none */
  readonly resources?: Readonly<Record<string, TaskHandler>>;
  /** Handlers by state name; win over everything else. @default - none */
  readonly states?: Readonly<Record<string, TaskHandler>>;
  /** EventBridge rules (`extractTemplate(...).eventRules`): SSM's events reach their Lambda targets. @default - none */
  readonly eventRules?: readonly ExtractedEventRule[];
  /**
   * IAM of the state machine's role (`iam/index.ts`): throws the Step Functions error of a call the
   * role may not make. Called before each Lambda invoke. @default - no IAM checks
   */
  readonly authorize?: (action: string, resource: string, errorName: string) => void;
  /**
   * What the local control plane serves the functions' own SSM calls with (`control-plane.ts`); their
   * IAM is the calling function's role ({@link RunnerBindings.authorizeControlPlane}), not the state
   * machine's. @default bindings.ssm
   */
  readonly controlPlaneSsm?: SsmApi;
  /**
   * IAM of the functions' control-plane calls (SSM, Step Functions SendTask*), by the access key id
   * of the caller's credentials (`iam/index.ts`). @default - no IAM checks
   */
  readonly authorizeControlPlane?: ControlPlaneAuthorizer;
  /** SSM parameters the functions read with GetParameter (`extractTemplate(...).parameters`). @default - none */
  readonly parameters?: Readonly<Record<string, ExtractedParameter>>;
}

/** Options of {@link runStateMachine}. */
export interface RunStateMachineOptions {
  /** The definition (e.g. `extractTemplate(template).stateMachines[0].definition`). */
  readonly definition: AslDefinition;
  /** Execution input. @default {} */
  readonly input?: JsonValue;
  readonly bindings: RunnerBindings;
  /** Receives progress as it happens. @default - none */
  readonly onEvent?: RunnerEventListener;
  /** `$$.Execution.Name`. @default `local-<time>-<random>` */
  readonly executionName?: string;
  /** `$$.StateMachine.Name`. @default 'local' */
  readonly stateMachineName?: string;
  /** Longest a Wait state waits, seconds; `null` waits as written. @default 1 */
  readonly maxWaitSeconds?: number | null;
  /** Wait duration per Wait state name, milliseconds (wins over maxWaitSeconds). @default - none */
  readonly waitTimeOverrides?: Readonly<Record<string, number>>;
  /** Retry pause per state name, milliseconds (one number, or one per retrier). @default - as the definition says */
  readonly retryIntervalOverrides?: Readonly<Record<string, number | number[]>>;
  /** Most Distributed Map children running at once, whatever MaxConcurrency says. @default 40 */
  readonly mapConcurrencyLimit?: number;
  /** Aborts the execution. @default - none */
  readonly signal?: AbortSignal;
  /** Check the definition with the engine's ASL validator first. @default true */
  readonly validate?: boolean;
  /** Region and account in ARNs. @default 'us-east-1', '000000000000' */
  readonly region?: string;
  readonly accountId?: string;
}

/** How the execution ended. */
export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** Result of {@link runStateMachine}. */
export interface RunResult {
  readonly status: ExecutionStatus;
  /** Execution output (SUCCEEDED only). */
  readonly output: JsonValue | undefined;
  /** Error name (FAILED, TIMED_OUT). */
  readonly error: string | undefined;
  /** Error cause (FAILED, TIMED_OUT). */
  readonly cause: string | undefined;
  readonly executionArn: string;
  readonly startDate: Date;
  readonly stopDate: Date;
  /** Every progress event, in order. */
  readonly events: readonly RunnerEvent[];
  /** Events of the execution's history as Step Functions counts them (at most 25,000). */
  readonly historyEvents: number;
}

/** Largest task timeout the engine can schedule (setTimeout takes at most 2^31-1 ms). */
export const maxTaskTimeoutSeconds = Math.floor((2 ** 31 - 1) / 1000);

const lambdaInvokePattern = /^arn:[^:]+:states:::lambda:invoke$/;
const lambdaFunctionPattern = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:/;
const ssmPattern = /^arn:[^:]+:states:::aws-sdk:ssm:(sendCommand|getCommandInvocation)$/;
const distributedMapResource = 'arn:aws:states:::local:distributedMap';
/** What Step Functions reports when its role may not invoke a function. */
const lambdaAccessDenied = 'Lambda.AWSLambdaException';

type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** Runs `definition` locally to the end; see the module comment. Throws {@link RunnerSetupError} if it cannot start. */
export async function runStateMachine(options: RunStateMachineOptions): Promise<RunResult> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const stateMachineName = options.stateMachineName ?? 'local';
  const executionName =
    options.executionName ??
    `local-${new Date().toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
  const input = options.input ?? {};
  if (options.validate !== false) validateDefinition(options.definition);
  if (jsonByteLength(input) > maxPayloadBytes) {
    throw new RunnerSetupError(
      `execution input is ${jsonByteLength(input)} bytes; Step Functions accepts at most 256 KiB`,
    );
  }

  const events: RunnerEvent[] = [];
  const emit = (event: RunnerEvent) => {
    events.push(event);
    emitSafely(options.onEvent, event);
  };
  const prepared = prepareDefinition(options.definition);
  const startDate = new Date();
  const executionArn = `arn:aws:states:${region}:${accountId}:execution:${stateMachineName}:${executionName}`;
  const context = {
    Execution: {
      Id: executionArn,
      Name: executionName,
      StartTime: startDate.toISOString(),
      RoleArn: `arn:aws:iam::${accountId}:role/local-runner`,
      RedriveCount: 0,
    },
    StateMachine: {
      Id: `arn:aws:states:${region}:${accountId}:stateMachine:${stateMachineName}`,
      Name: stateMachineName,
    },
  };

  const children = new Set<() => void>();
  const overrides = {
    taskResourceLocalHandlers: {} as Record<string, TaskHandler>,
    waitTimeOverrides: waitOverrides(options.definition, options.maxWaitSeconds, options.waitTimeOverrides),
    retryIntervalOverrides: { ...options.retryIntervalOverrides },
  };
  const shape: HistoryShape = {
    distributedMaps: prepared.distributedMaps,
    callbackTasks: new Set(
      listStates(options.definition)
        .filter(({ state }) => isCallbackTask(state))
        .map(({ name }) => name),
    ),
  };
  const forward = (
    logs: AsyncGenerator<EngineEvent>,
    history: HistoryCounter,
    stop: () => void,
    origin?: { mapState: string; index: number },
  ) =>
    (async () => {
      for await (const event of logs) {
        if (!history.add(event as never)) {
          emit({
            timestamp: Date.now(),
            type: 'Warning',
            message: `${origin ? `${origin.mapState}#${origin.index}: ` : ''}${historyLimitCause}`,
          });
          stop();
        }
        emit(toRunnerEvent(event, prepared.distributedMaps, origin));
      }
    })();
  const runChild = async (
    definition: AslDefinition,
    childInput: JsonValue,
    childContext: Readonly<Record<string, unknown>>,
    origin: { mapState: string; index: number },
  ): Promise<ChildOutcome> => {
    const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
    const execution = machine.run(childInput as never, { overrides, context: childContext as never });
    children.add(execution.abort);
    // Each Distributed Map item runs as a child execution with a history of its own.
    const history = new HistoryCounter(shape);
    const drained = forward(execution.eventLogs, history, execution.abort, origin);
    try {
      const output = (await execution.result) as JsonValue;
      return { status: 'SUCCEEDED', output };
    } catch (error) {
      if (history.exceeded)
        return { status: 'FAILED', error: statesErrorNames.runtime, cause: historyLimitCause };
      const failure = toStatesError(error instanceof ExecutionError ? error.cause : error);
      return { status: 'FAILED', error: failure.name, cause: failure.message };
    } finally {
      children.delete(execution.abort);
      await drained;
    }
  };
  const mapRuntime: DistributedMapRuntime = {
    s3: options.bindings.s3,
    stateMachineName,
    context,
    region,
    accountId,
    concurrencyLimit: options.mapConcurrencyLimit ?? 40,
    runChild,
    emit: (event) => emit({ timestamp: Date.now(), ...event }),
  };
  // Functions reach the mocked control plane (SSM, task tokens) through the SDK's endpoint variables.
  const controlPlane = await localControlPlane();
  const invoker = new LocalLambdaInvoker({
    functions: (options.bindings.functions ?? []).map((fn) => ({
      ...fn,
      environment: { ...fn.environment, ...controlPlane.environment },
    })),
  });
  const tokens = new TaskTokenRegistry();
  overrides.taskResourceLocalHandlers = bindTasks(
    options.definition,
    options.bindings,
    prepared.distributedMaps,
    mapRuntime,
    invoker,
    tokens,
  );
  const bus =
    options.bindings.eventRules && options.bindings.eventRules.length > 0
      ? new LocalEventBus({
          rules: options.bindings.eventRules,
          invoker,
          emit: (event) => emit({ timestamp: Date.now(), ...event }),
        })
      : undefined;

  const machine = new StateMachine(prepared.definition as never, { validationOptions: { noValidate: true } });
  const detach = controlPlane.attach({
    ssm: options.bindings.controlPlaneSsm ?? options.bindings.ssm,
    tokens,
    stateMachineArn: context.StateMachine.Id,
    ...(options.bindings.authorizeControlPlane ? { authorize: options.bindings.authorizeControlPlane } : {}),
    ...(options.bindings.parameters ? { parameters: options.bindings.parameters } : {}),
  });
  // DescribeExecution serves it from here: RUNNING now, its status once it ends.
  const record: ExecutionRecord = {
    executionArn,
    stateMachineArn: context.StateMachine.Id,
    name: executionName,
    status: 'RUNNING',
    startDate,
  };
  recordExecution(record);
  const execution = machine.run(input as never, { overrides, context: context as never });
  const unsubscribe = options.bindings.ssm?.addListener?.(emit);
  const unsubscribeStatus = bus
    ? options.bindings.ssm?.addStatusListener?.((change) =>
        bus.publish(commandStatusEvent(change, { region, accountId })),
      )
    : undefined;
  const onAbort = () => {
    execution.abort();
    for (const abort of children) abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const history = new HistoryCounter(shape);
  const drained = forward(execution.eventLogs, history, onAbort);
  let status: ExecutionStatus = 'SUCCEEDED';
  let output: JsonValue | undefined;
  let error: string | undefined;
  let cause: string | undefined;
  try {
    output = (await execution.result) as JsonValue;
  } catch (thrown) {
    if (thrown instanceof ExecutionError) {
      const failure = toStatesError(thrown.cause);
      status = 'FAILED';
      error = failure.name;
      cause = failure.message;
    } else if (thrown instanceof ExecutionTimeoutError) {
      status = 'TIMED_OUT';
      error = 'States.Timeout';
      cause = 'The execution ran longer than the state machine TimeoutSeconds';
    } else if (thrown instanceof ExecutionAbortedError) {
      status = 'ABORTED';
    } else {
      record.status = 'FAILED';
      record.stopDate = new Date();
      throw thrown;
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await drained;
    tokens.close();
    detach();
    unsubscribe?.();
    unsubscribeStatus?.();
    await bus?.settle();
  }
  if (history.exceeded) {
    // AWS ends the execution itself: event 25,000 is ExecutionFailed, and no Catch runs.
    status = 'FAILED';
    output = undefined;
    error = statesErrorNames.runtime;
    cause = historyLimitCause;
    emit({
      timestamp: Date.now(),
      type: 'ExecutionFailed',
      error,
      cause,
      message: `execution failed: ${error}: ${cause}`,
    });
  }
  record.status = status;
  record.stopDate = new Date();
  return {
    status,
    output,
    error,
    cause,
    executionArn,
    startDate,
    stopDate: record.stopDate,
    events,
    historyEvents: history.count,
  };
}

/** What {@link prepareDefinition} produced. */
export interface PreparedDefinition {
  /** The definition the engine runs. */
  readonly definition: AslDefinition;
  /** The replaced DISTRIBUTED Map states by name (their item processors prepared too). */
  readonly distributedMaps: ReadonlyMap<string, AslState>;
}

/**
 * Rewrites a definition for the engine (see the module comment): DISTRIBUTED Maps become Tasks,
 * task timeouts get AWS's "none" default, `ResultPath: "$"` is dropped.
 */
export function prepareDefinition(definition: AslDefinition): PreparedDefinition {
  const distributedMaps = new Map<string, AslState>();
  const prepared = mapStates(definition, (name, state) => {
    let copy: Record<string, unknown> = { ...state };
    if (copy.ResultPath === '$') delete copy.ResultPath;
    if (Array.isArray(copy.Catch)) {
      copy.Catch = copy.Catch.map((catcher: Record<string, unknown>) => {
        const { ResultPath, ...rest } = catcher;
        return ResultPath === '$' ? rest : catcher;
      });
    }
    if (isDistributedMap(state)) {
      distributedMaps.set(name, copy as AslState);
      copy = distributedMapTask(copy);
    }
    if (copy.Type === 'Choice' && Array.isArray(copy.Choices)) {
      copy.Choices = copy.Choices.map((rule: unknown) => negatedTypeTests(rule));
    }
    if (isCallbackTask(state)) copy = prepareCallbackTask(name, copy);
    if (copy.Type === 'Task' && copy.TimeoutSecondsPath === undefined) {
      const timeout = typeof copy.TimeoutSeconds === 'number' ? copy.TimeoutSeconds : maxTaskTimeoutSeconds;
      copy.TimeoutSeconds = Math.min(timeout, maxTaskTimeoutSeconds);
    }
    return copy as AslState;
  });
  return { definition: prepared, distributedMaps };
}

const typeTests = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'] as const;

/** A choice rule with every `"Is…": false` test (at any depth) written as `Not` of `"Is…": true`. */
export function negatedTypeTests(rule: unknown): unknown {
  if (!rule || typeof rule !== 'object' || Array.isArray(rule)) return rule;
  const copy: Record<string, unknown> = { ...(rule as Record<string, unknown>) };
  for (const op of ['And', 'Or'] as const) {
    if (Array.isArray(copy[op])) copy[op] = (copy[op] as unknown[]).map(negatedTypeTests);
  }
  if (copy.Not !== undefined) copy.Not = negatedTypeTests(copy.Not);
  const test = typeTests.find((t) => copy[t] === false);
  if (test === undefined) return copy;
  const { Next, Variable, [test]: _negated, ...rest } = copy;
  return { ...rest, ...(Next === undefined ? {} : { Next }), Not: { Variable, [test]: true } };
}

/** The Task that stands for a DISTRIBUTED Map: same data flow and error handling, no map fields. */
function distributedMapTask(map: Record<string, unknown>): Record<string, unknown> {
  const task: Record<string, unknown> = { Type: 'Task', Resource: distributedMapResource };
  for (const field of ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Next', 'End']) {
    if (field in map) task[field] = map[field];
  }
  // States.TaskFailed matches failures of Task states only; the Map it stands for must not match it.
  const withoutTaskFailed = (handlers: unknown) =>
    (handlers as Record<string, unknown>[]).map((handler) => ({
      ...handler,
      ErrorEquals: (handler.ErrorEquals as string[]).filter((name) => name !== 'States.TaskFailed'),
    }));
  if (Array.isArray(map.Retry)) task.Retry = withoutTaskFailed(map.Retry);
  if (Array.isArray(map.Catch)) task.Catch = withoutTaskFailed(map.Catch);
  return task;
}

function validateDefinition(definition: AslDefinition): void {
  try {
    new StateMachine(definition as never);
  } catch (error) {
    throw new RunnerSetupError(`the state machine definition is not valid ASL: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const seen = new Map<string, number>();
  for (const { name } of listStates(definition)) seen.set(name, (seen.get(name) ?? 0) + 1);
  const duplicates = [...seen].filter(([, count]) => count > 1).map(([name]) => name);
  if (duplicates.length > 0) {
    // The engine binds local handlers and wait overrides by state name across nested machines.
    throw new RunnerSetupError(
      `state names must be unique in the whole state machine; repeated: ${duplicates.join(', ')}`,
    );
  }
}

function waitOverrides(
  definition: AslDefinition,
  maxWaitSeconds: number | null | undefined,
  explicit: Readonly<Record<string, number>> | undefined,
): Record<string, number> {
  const overrides: Record<string, number> = {};
  const cap = maxWaitSeconds === undefined ? 1 : maxWaitSeconds;
  if (cap !== null) {
    for (const { name, state } of listStates(definition)) {
      if (state.Type !== 'Wait') continue;
      const seconds = typeof state.Seconds === 'number' ? state.Seconds : cap;
      overrides[name] = Math.min(seconds, cap) * 1000;
    }
  }
  return { ...overrides, ...explicit };
}

/** Binds every Task of `definition` (nested ones too) or throws listing those it cannot bind. */
function bindTasks(
  definition: AslDefinition,
  bindings: RunnerBindings,
  distributedMaps: ReadonlyMap<string, AslState>,
  mapRuntime: DistributedMapRuntime,
  invoker: LocalLambdaInvoker,
  tokens: TaskTokenRegistry,
): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  const problems: string[] = [];
  for (const { name, state, parents } of listStates(definition)) {
    const where = [...parents, name].join(' › ');
    const distributed = distributedMaps.get(name);
    if (distributed) {
      handlers[name] = (input) => runDistributedMap(name, distributed, input, mapRuntime);
      continue;
    }
    if (state.Type !== 'Task') continue;
    try {
      handlers[name] = guarded(
        isCallbackTask(state)
          ? callbackTask(
              state,
              bindTask(
                name,
                { ...state, Resource: callbackIntegration(String(state.Resource)) },
                bindings,
                invoker,
              ),
              tokens,
            )
          : bindTask(name, state, bindings, invoker),
      );
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new RunnerSetupError(
      `cannot bind every Task of the state machine locally:\n  ${problems.join('\n  ')}`,
    );
  }
  return handlers;
}

function bindTask(
  name: string,
  state: AslState,
  bindings: RunnerBindings,
  invoker: LocalLambdaInvoker,
): TaskHandler {
  const explicit = bindings.states?.[name];
  if (explicit) return explicit;
  const resource = String(state.Resource);
  const byResource = bindings.resources?.[resource];
  if (byResource) return byResource;
  const findFunction = (nameOrArn: string) => {
    const fn = invoker.find(nameOrArn);
    if (!fn) throw new Error(`no Lambda function ${nameOrArn} in the template (bindings.functions)`);
    invoker.codeLocation(fn);
    return fn;
  };

  if (lambdaInvokePattern.test(resource)) {
    const parameters = isJsonObject(state.Parameters) ? state.Parameters : {};
    if (typeof parameters.FunctionName === 'string') findFunction(parameters.FunctionName);
    else if (typeof parameters['FunctionName.$'] !== 'string')
      throw new Error('lambda:invoke without FunctionName');
    return async (input) => {
      const request = isJsonObject(input) ? input : {};
      const functionName = String(request.FunctionName);
      const fn = invoker.find(functionName);
      if (!fn)
        throw new StatesError('Lambda.ResourceNotFoundException', `Function not found: ${functionName}`);
      if (request.InvocationType !== undefined && request.InvocationType !== 'RequestResponse') {
        throw new StatesError(
          statesErrorNames.runtime,
          `lambda:invoke with InvocationType ${String(request.InvocationType)} is not supported locally`,
          { terminal: true },
        );
      }
      bindings.authorize?.('lambda:InvokeFunction', fn.arn, lambdaAccessDenied);
      const payload = await invoker.invoke(fn, 'Payload' in request ? (request.Payload as JsonValue) : {});
      return {
        ExecutedVersion: '$LATEST',
        Payload: payload,
        SdkHttpMetadata: { HttpHeaders: { 'Content-Type': 'application/json' }, HttpStatusCode: 200 },
        SdkResponseMetadata: { RequestId: randomUUID() },
        StatusCode: 200,
      };
    };
  }
  if (lambdaFunctionPattern.test(resource)) {
    const fn = findFunction(resource);
    return (input) => {
      bindings.authorize?.('lambda:InvokeFunction', fn.arn, lambdaAccessDenied);
      return invoker.invoke(fn, input);
    };
  }
  const ssmAction = ssmPattern.exec(resource)?.[1];
  if (ssmAction) {
    const ssm = bindings.ssm;
    if (!ssm) throw new Error(`${resource} needs bindings.ssm (a LocalSsmExecutor)`);
    return ssmAction === 'sendCommand'
      ? async (input) => (await ssm.sendCommand(input as unknown as SendCommandInput)) as unknown as JsonValue
      : async (input) =>
          (await ssm.getCommandInvocation(
            input as unknown as GetCommandInvocationInput,
          )) as unknown as JsonValue;
  }
  throw new Error(
    `resource ${resource} has no local binding (supported: Lambda, aws-sdk:ssm:sendCommand/getCommandInvocation; add bindings.resources['${resource}'] or bindings.states['${name}'])`,
  );
}

/** Maps thrown errors to Step Functions errors and enforces the 256 KiB result limit. */
function guarded(handler: TaskHandler): TaskHandler {
  return async (input) => {
    let result: JsonValue;
    try {
      result = await handler(input);
    } catch (error) {
      throw toStatesError(error);
    }
    const bytes = jsonByteLength(result ?? null);
    if (bytes > maxPayloadBytes) {
      throw new StatesError(
        statesErrorNames.dataLimitExceeded,
        `The state/task returned a result with a size exceeding the maximum number of bytes service limit (${bytes} > 262144)`,
        { terminal: true },
      );
    }
    return result;
  };
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}

/** Converts an engine event; `origin` marks events of a Distributed Map child. */
function toRunnerEvent(
  event: EngineEvent,
  distributedMaps: ReadonlyMap<string, AslState>,
  origin?: { mapState: string; index: number },
): RunnerEvent {
  const scope = origin ? `${origin.mapState}#${origin.index}` : undefined;
  const base = { timestamp: event.timestamp, ...(scope ? { scope } : {}) };
  const at = scope ? ` [${scope}]` : '';
  switch (event.type) {
    case 'ExecutionStarted':
      return origin
        ? {
            ...base,
            type: 'MapIterationStarted',
            state: origin.mapState,
            index: origin.index,
            message: `${scope} started`,
          }
        : { ...base, type: 'ExecutionStarted', message: 'execution started' };
    case 'ExecutionSucceeded':
      return origin
        ? {
            ...base,
            type: 'MapIterationSucceeded',
            state: origin.mapState,
            index: origin.index,
            message: `${scope} succeeded`,
          }
        : { ...base, type: 'ExecutionSucceeded', message: 'execution succeeded' };
    case 'ExecutionFailed': {
      const cause = causeText(event.Cause);
      return origin
        ? {
            ...base,
            type: 'MapIterationFailed',
            state: origin.mapState,
            index: origin.index,
            error: event.Error,
            cause,
            message: `${scope} failed: ${event.Error}: ${cause ?? ''}`,
          }
        : {
            ...base,
            type: 'ExecutionFailed',
            error: event.Error,
            cause,
            message: `execution failed: ${event.Error}: ${cause ?? ''}`,
          };
    }
    case 'ExecutionAborted':
      return { ...base, type: 'ExecutionAborted', message: `execution aborted${at}` };
    case 'ExecutionTimeout':
      return { ...base, type: 'ExecutionTimedOut', message: `execution timed out${at}` };
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const failed = event.type === 'MapIterationFailed' ? event : undefined;
      const cause = causeText(failed?.Cause);
      return {
        ...base,
        type: event.type,
        state: event.parentState.name,
        stateType: 'Map',
        index: event.index,
        ...(failed ? { error: failed.Error, cause } : {}),
        message: `${event.parentState.name}[${event.index}] ${event.type.slice('MapIteration'.length).toLowerCase()}${
          failed ? `: ${failed.Error}: ${cause ?? ''}` : ''
        }${at}`,
      };
    }
    case 'ParallelBranchStarted':
    case 'ParallelBranchSucceeded':
    case 'ParallelBranchFailed': {
      const failed = event.type === 'ParallelBranchFailed' ? event : undefined;
      const cause = causeText(failed?.Cause);
      return {
        ...base,
        type: event.type,
        state: event.parentState.name,
        stateType: 'Parallel',
        ...(failed ? { error: failed.Error, cause } : {}),
        message: `${event.parentState.name} branch ${event.type.slice('ParallelBranch'.length).toLowerCase()}${
          failed ? `: ${failed.Error}: ${cause ?? ''}` : ''
        }${at}`,
      };
    }
    default: {
      const stateType = distributedMaps.has(event.state.name) ? 'Map' : event.state.type;
      const common = {
        ...base,
        state: event.state.name,
        stateType,
        ...(event.index !== undefined ? { index: event.index } : {}),
      };
      switch (event.type) {
        case 'StateEntered':
          return { ...common, type: 'StateEntered', message: `${event.state.name} entered${at}` };
        case 'StateExited':
          return { ...common, type: 'StateExited', message: `${event.state.name} exited${at}` };
        case 'StateFailed': {
          const cause = causeText(event.Cause);
          return {
            ...common,
            type: 'StateFailed',
            error: event.Error,
            cause,
            message: `${event.state.name} failed: ${event.Error}: ${cause ?? ''}${at}`,
          };
        }
        case 'StateRetried':
          return {
            ...common,
            type: 'StateRetried',
            attempt: event.retry.attempt,
            message: `${event.state.name} retried (attempt ${event.retry.attempt})${at}`,
          };
        default:
          return {
            ...common,
            type: 'StateCaught',
            message: `${event.state.name} caught, continuing at ${event.catch.catcher.Next}${at}`,
          };
      }
    }
  }
}
