import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { RetryProps } from 'aws-cdk-lib/aws-stepfunctions';
import {
  Choice,
  Condition,
  DistributedMap,
  type IChainable,
  JsonPath,
  Parallel,
  Pass,
  Result,
  ResultWriterV2,
  S3JsonLItemReader,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ComponentName } from '../functions/core/contract/common.js';
import type { TypedPath } from '../functions/core/contract/json-path.js';
import { errorNames } from '../functions/core/errors.js';

/** Errors worth retrying on a Lambda task that talks to S3 or MinIO. */
export const transientErrors = [errorNames.transientStorage, 'Lambda.TooManyRequestsException'];

/** How a step retries transient storage errors: pauses from `interval`, doubling, at most `maxDelay`. */
export interface TransientRetry {
  readonly interval: Duration;
  readonly maxDelay: Duration;
  /** Retries after the first attempt. */
  readonly maxAttempts: number;
}

/** The retry of a step that has no outage budget of its own (restore steps): about 30 s of pauses. */
export const defaultTransientRetry: TransientRetry = {
  interval: Duration.seconds(2),
  maxDelay: Duration.seconds(16),
  maxAttempts: 4,
};

/**
 * The retry that rides out a vault or MinIO outage of at least `budgetSeconds` (configuration
 * `retry.outageBudgetSeconds`): pauses of 2 s doubling to at most 30 s, and as many retries as it takes for
 * the pauses plus the time each failing attempt spends in its SDK retries (`sdkWindowSeconds`) to cover
 * the budget. A fault that clears within the budget is ridden out; a longer one fails the step.
 */
export function outageRetry(budgetSeconds: number, sdkWindowSeconds: number): TransientRetry {
  const interval = 2;
  const maxDelay = 30;
  let covered = sdkWindowSeconds;
  let retries = 0;
  while (covered < budgetSeconds) {
    retries += 1;
    covered += Math.min(maxDelay, interval * 2 ** (retries - 1)) + sdkWindowSeconds;
  }
  return {
    interval: Duration.seconds(interval),
    maxDelay: Duration.seconds(maxDelay),
    maxAttempts: Math.max(1, retries),
  };
}

/** The Step Functions retrier of `retry` for {@link transientErrors} (full jitter off: pauses as computed). */
export function transientRetrier(retry: TransientRetry): RetryProps {
  return {
    errors: transientErrors,
    interval: retry.interval,
    maxDelay: retry.maxDelay,
    maxAttempts: retry.maxAttempts,
    backoffRate: 2,
  };
}

/**
 * A Lambda step: the handler's return value lands at `resultPath`; transient storage errors are
 * retried with backoff, by `retry` (LambdaInvoke already retries the Lambda service's own errors).
 */
export function lambdaStep(
  scope: Construct,
  id: string,
  fn: IFunction,
  payload: Record<string, unknown> | undefined,
  resultPath: string,
  retry: TransientRetry = defaultTransientRetry,
): LambdaInvoke {
  const task = new LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    ...(payload ? { payload: TaskInput.fromObject(payload) } : {}),
    resultPath,
  });
  task.addRetry(transientRetrier(retry));
  return task;
}

/**
 * A Parallel branch that runs `body` only when `$.plan.components.<component>` is true, else outputs
 * `skipped` (default `{skipped: true}`; a branch whose result is a list gives `Result.fromArray([])`).
 */
export function componentBranch(
  scope: Construct,
  component: ComponentName,
  label: string,
  body: IChainable,
  skipped: Result = Result.fromObject({ skipped: true }),
): IChainable {
  return new Choice(scope, `${label} Selected?`)
    .when(Condition.booleanEquals(`$.plan.components.${component}`, true), body)
    .otherwise(new Pass(scope, `${label} Skipped`, { result: skipped }));
}

/**
 * A Parallel whose result is an object keyed by branch name, not an array read by position: the
 * branches are added in the order of `branches`' keys and a `ResultSelector` names each result from
 * that same order, so reordering the branches cannot swap their results. `Results` is the contract's
 * type of the keyed result; every key of it must have its branch.
 */
export function namedParallel<Results extends object>(
  scope: Construct,
  id: string,
  branches: { readonly [K in keyof Results & string]-?: IChainable },
  resultPath: TypedPath<Results>,
): Parallel {
  const names = Object.keys(branches) as (keyof Results & string)[];
  const parallel = new Parallel(scope, id, {
    resultPath,
    resultSelector: Object.fromEntries(names.map((name, i) => [name, JsonPath.objectAt(`$[${i}]`)])),
  });
  for (const name of names) parallel.branch(branches[name]);
  return parallel;
}

/** What {@link batchFanOut} builds. */
export interface BatchFanOutProps {
  /** Name of the Distributed Map state. */
  readonly id: string;
  /** Name of the Lambda state run per batch. */
  readonly batchStep: string;
  /** Handles one batch: `{ batch, <idField> }`. */
  readonly fn: IFunction;
  /** Field of `$.plan` carried to each batch (`backupId`, `restoreId`). */
  readonly idField: string;
  /** Holds the JSONL index of batch files (`$.minioPlan.batchesKey`) and the run reports. */
  readonly vault: IBucket;
  /** Batches in flight. @default 20 */
  readonly maxConcurrency?: number;
  /** How the batch step retries transient storage errors. @default defaultTransientRetry */
  readonly retry?: TransientRetry;
}

/**
 * Distributed Map over the batch files listed in the JSONL index at `$.minioPlan.batchesKey`: one
 * child per batch, no failure tolerated, run reports written to the vault (`map-runs/`) instead of
 * the state — so millions of objects fit Step Functions' limits.
 */
export function batchFanOut(scope: Construct, props: BatchFanOutProps): DistributedMap {
  const step = lambdaStep(
    scope,
    props.batchStep,
    props.fn,
    { batch: JsonPath.objectAt('$.batch'), [props.idField]: JsonPath.stringAt(`$.${props.idField}`) },
    '$.done',
    props.retry,
  );
  step.next(new Pass(scope, `${props.batchStep} Done`, { outputPath: '$.done' }));
  const map = new DistributedMap(scope, props.id, {
    itemReader: new S3JsonLItemReader({
      bucket: props.vault,
      key: JsonPath.stringAt('$.minioPlan.batchesKey'),
    }),
    itemSelector: { 'batch.$': '$$.Map.Item.Value', [`${props.idField}.$`]: `$.plan.${props.idField}` },
    maxConcurrency: props.maxConcurrency ?? 20,
    toleratedFailurePercentage: 0,
    resultWriterV2: new ResultWriterV2({ bucket: props.vault, prefix: 'map-runs' }),
    resultPath: '$.copyRun',
  });
  map.itemProcessor(step);
  return map;
}
