import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Choice,
  Condition,
  DistributedMap,
  type IChainable,
  JsonPath,
  Parallel,
  Pass,
  ResultWriterV2,
  S3JsonLItemReader,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ComponentName } from '../functions/core/contract/common.js';
import type { TypedPath } from '../functions/core/contract/json-path.js';
import { transientErrors } from './host-command.js';

/**
 * A Lambda step: the handler's return value lands at `resultPath`; transient storage errors are
 * retried with backoff (LambdaInvoke already retries the Lambda service's own errors).
 */
export function lambdaStep(
  scope: Construct,
  id: string,
  fn: IFunction,
  payload: Record<string, unknown> | undefined,
  resultPath: string,
): LambdaInvoke {
  const task = new LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    ...(payload ? { payload: TaskInput.fromObject(payload) } : {}),
    resultPath,
  });
  task.addRetry({ errors: transientErrors, interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2 });
  return task;
}

/** A Parallel branch that runs `body` only when `$.plan.components.<component>` is true, else outputs {skipped:true}. */
export function componentBranch(
  scope: Construct,
  component: ComponentName,
  label: string,
  body: IChainable,
): IChainable {
  return new Choice(scope, `${label} Selected?`)
    .when(Condition.booleanEquals(`$.plan.components.${component}`, true), body)
    .otherwise(new Pass(scope, `${label} Skipped`, { result: { value: { skipped: true } } }));
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
