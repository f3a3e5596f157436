/**
 * Distributed Map for the local runner. aws-local-stepfunctions runs Map states inline and ignores
 * `ItemReader`, `ItemBatcher`, `ResultWriter` and the failure tolerances; the runner replaces each
 * DISTRIBUTED Map by a Task bound to {@link runDistributedMap}, which does what Step Functions does:
 *
 * 1. Items: `ItemReader` `arn:aws:states:::s3:listObjectsV2` (each object as
 *    `{ Etag, Key, LastModified (epoch seconds), Size, StorageClass }`), or `arn:aws:states:::s3:getObject`
 *    with `ReaderConfig.InputType` `JSON` (an array) or `JSONL` (one value per line); `Parameters`
 *    resolved against the state input; `ReaderConfig.MaxItems`/`MaxItemsPath`. Without a reader,
 *    the array at `ItemsPath` (default `$`). Reader failures are `States.ItemReaderFailed`.
 * 2. `ItemSelector` (or legacy `Parameters`) per item, with `$$.Map.Item.Value` and `$$.Map.Item.Index`.
 * 3. `ItemBatcher`: `MaxItemsPerBatch`(`Path`), `MaxInputBytesPerBatch`(`Path`), `BatchInput`; each
 *    child then gets `{ BatchInput, Items }`. A child input over 256 KiB is `States.DataLimitExceeded`.
 * 4. Child workflows: the `ItemProcessor` run as separate executions (their own `$$.Execution`),
 *    at most `MaxConcurrency`(`Path`) at a time (0 = unbounded, capped locally).
 * 5. `ToleratedFailurePercentage`(`Path`) / `ToleratedFailureCount`(`Path`): with neither, one failed
 *    item fails the run; with one or both, the run fails when a set threshold is exceeded. Items of a
 *    failed batch all count as failed. Then no further children start (those running finish) and the
 *    state fails with `States.ExceedToleratedFailureThreshold`.
 * 6. Output: without `ResultWriter`, the array of child outputs in item order (a failed child
 *    appears as its execution record). With `ResultWriter` (`arn:aws:states:::s3:putObject`,
 *    `Bucket`, `Prefix`): `<Prefix>/<mapRunId>/SUCCEEDED_0.json`, `FAILED_0.json` (only when
 *    non-empty) and `manifest.json`, and the state's result is `{ MapRunArn, ResultWriterDetails:
 *    { Bucket, Key } }`. `WriterConfig.Transformation` (NONE, COMPACT, FLATTEN) and `OutputType`
 *    (JSON, JSONL) are honoured. Writer failures are `States.ResultWriterFailed`.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  type AslDefinition,
  type AslState,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonByteLength,
  maxPayloadBytes,
} from './asl.js';
import { StatesError, statesErrorNames } from './errors.js';
import type { RunnerEvent } from './events.js';
import { evaluatePayloadTemplate } from './payload-template.js';

/** How one child workflow ended. */
export type ChildOutcome =
  | { readonly status: 'SUCCEEDED'; readonly output: JsonValue }
  | { readonly status: 'FAILED'; readonly error: string; readonly cause: string };

/** What {@link runDistributedMap} needs from the runner. */
export interface DistributedMapRuntime {
  /** S3 client for `ItemReader` and `ResultWriter` (the vault). */
  readonly s3: S3Client | undefined;
  /** Name of the state machine (in ARNs). */
  readonly stateMachineName: string;
  /** The execution's context object (`$$`), for paths in the map's own fields. */
  readonly context: Readonly<Record<string, unknown>>;
  readonly region: string;
  readonly accountId: string;
  /** Upper bound on children running at once, whatever `MaxConcurrency` says. */
  readonly concurrencyLimit: number;
  /** Runs one child workflow (item `index` of the map `mapState`) and reports how it ended. */
  runChild(
    definition: AslDefinition,
    input: JsonValue,
    context: Readonly<Record<string, unknown>>,
    origin: { readonly mapState: string; readonly index: number },
  ): Promise<ChildOutcome>;
  /** Progress. */
  emit(event: Omit<RunnerEvent, 'timestamp'>): void;
}

/** One child execution's record, as Step Functions writes it (Transformation NONE). */
interface ExecutionRecord {
  readonly outcome: ChildOutcome;
  readonly record: JsonObject;
}

/** Runs the DISTRIBUTED Map `state` named `stateName` on its (InputPath-applied) `input`. */
export async function runDistributedMap(
  stateName: string,
  state: AslState,
  input: JsonValue,
  runtime: DistributedMapRuntime,
): Promise<JsonValue> {
  const label = typeof state.Label === 'string' ? state.Label : stateName;
  const mapRunId = randomUUID();
  const arnBase = `arn:aws:states:${runtime.region}:${runtime.accountId}`;
  const childMachineName = `${runtime.stateMachineName}/${label}`;
  const mapRunArn = `${arnBase}:mapRun:${childMachineName}:${mapRunId}`;
  const childMachineArn = `${arnBase}:stateMachine:${childMachineName}`;
  const path = (field: string) => readPath(state, field, input, runtime.context);

  const items = await readItems(stateName, state, input, runtime);
  const selected: JsonValue[] = [];
  const selector = (state.ItemSelector ?? state.Parameters) as JsonValue | undefined;
  for (const [index, value] of items.entries()) {
    selected.push(
      selector === undefined
        ? value
        : await evaluatePayloadTemplate(selector, input, {
            ...runtime.context,
            Map: { Item: { Index: index, Value: value } },
          }),
    );
  }
  const batches = await makeBatches(stateName, state, selected, input, runtime);

  const maxConcurrency = Number((await path('MaxConcurrency')) ?? 0);
  const running = Math.max(
    1,
    Math.min(maxConcurrency > 0 ? maxConcurrency : Number.POSITIVE_INFINITY, runtime.concurrencyLimit),
  );
  const toleratedPercentage = (await path('ToleratedFailurePercentage')) as number | undefined;
  const toleratedCount = (await path('ToleratedFailureCount')) as number | undefined;
  const exceeded = (failedItems: number): boolean => {
    if (toleratedPercentage === undefined && toleratedCount === undefined) return failedItems > 0;
    const byCount = toleratedCount !== undefined && failedItems > toleratedCount;
    const byPercentage =
      toleratedPercentage !== undefined &&
      items.length > 0 &&
      (failedItems / items.length) * 100 > toleratedPercentage;
    return byCount || byPercentage;
  };
  runtime.emit({
    type: 'MapRunStarted',
    state: stateName,
    stateType: 'Map',
    message: `${stateName}: map run ${mapRunId}: ${items.length} items in ${batches.length} child executions, ${running} at a time`,
  });

  const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition;
  const records: (ExecutionRecord | undefined)[] = new Array(batches.length);
  let next = 0;
  let failedItems = 0;
  let failedChildren = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && next < batches.length) {
      const index = next++;
      const batch = batches[index] as Batch;
      const name = randomUUID();
      const started = new Date();
      const context = {
        Execution: {
          Id: `${arnBase}:execution:${childMachineName}:${name}`,
          Name: name,
          StartTime: started.toISOString(),
          RedriveCount: 0,
        },
        StateMachine: { Id: childMachineArn, Name: childMachineName },
      };
      const outcome = await runtime.runChild(processor, batch.input, context, { mapState: stateName, index });
      records[index] = {
        outcome,
        record: executionRecord(context.Execution.Id, name, childMachineArn, batch.input, outcome, started),
      };
      if (outcome.status === 'FAILED') {
        failedChildren += 1;
        failedItems += batch.itemCount;
        if (exceeded(failedItems)) stop = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(running, batches.length) }, worker));
  const done = records.filter((record): record is ExecutionRecord => record !== undefined);
  const failedRun = exceeded(failedItems);

  let output: JsonValue;
  const writer = isJsonObject(state.ResultWriter) ? state.ResultWriter : undefined;
  if (writer?.Resource !== undefined) {
    output = await writeResults(stateName, writer, done, mapRunArn, mapRunId, input, runtime);
  } else {
    output = transform(done, transformationOf(writer));
    if (!failedRun && jsonByteLength(output) > maxPayloadBytes) {
      throw new StatesError(
        statesErrorNames.dataLimitExceeded,
        `The output of ${stateName} (${jsonByteLength(output)} bytes) exceeds the 256 KiB payload limit; add a ResultWriter`,
        { terminal: true },
      );
    }
  }
  const summary = `${done.length - failedChildren} succeeded, ${failedChildren} failed, ${batches.length - done.length} not started`;
  if (failedRun) {
    runtime.emit({
      type: 'MapRunFailed',
      state: stateName,
      stateType: 'Map',
      error: statesErrorNames.exceedToleratedFailureThreshold,
      message: `${stateName}: map run ${mapRunId} failed: ${failedItems} of ${items.length} items failed (${summary})`,
    });
    throw new StatesError(
      statesErrorNames.exceedToleratedFailureThreshold,
      `The specified tolerated failure threshold was exceeded: ${failedItems} of ${items.length} items failed in map run ${mapRunArn}`,
    );
  }
  runtime.emit({
    type: 'MapRunSucceeded',
    state: stateName,
    stateType: 'Map',
    message: `${stateName}: map run ${mapRunId} succeeded: ${summary}`,
  });
  return output;
}

/** Reads a field or its `…Path` variant (resolved against the input). */
async function readPath(
  holder: Readonly<Record<string, unknown>>,
  field: string,
  input: JsonValue,
  context: Readonly<Record<string, unknown>>,
): Promise<JsonValue | undefined> {
  if (holder[field] !== undefined) return holder[field] as JsonValue;
  const path = holder[`${field}Path`];
  if (typeof path !== 'string') return undefined;
  const resolved = await evaluatePayloadTemplate({ 'value.$': path }, input, context);
  return isJsonObject(resolved) ? resolved.value : undefined;
}

async function readItems(
  stateName: string,
  state: AslState,
  input: JsonValue,
  runtime: DistributedMapRuntime,
): Promise<JsonValue[]> {
  const reader = isJsonObject(state.ItemReader) ? state.ItemReader : undefined;
  if (!reader) {
    const found = await evaluatePayloadTemplate(
      { 'items.$': (state.ItemsPath as string) ?? '$' },
      input,
      runtime.context,
    );
    const items = isJsonObject(found) ? found.items : undefined;
    if (!Array.isArray(items)) {
      throw new StatesError(statesErrorNames.runtime, `${stateName}: ItemsPath must point to an array`, {
        terminal: true,
      });
    }
    return items;
  }
  const config = isJsonObject(reader.ReaderConfig) ? reader.ReaderConfig : {};
  const maxItems = Number((await readPath(config, 'MaxItems', input, runtime.context)) ?? 0);
  const limit = maxItems > 0 ? maxItems : Number.POSITIVE_INFINITY;
  const parameters = await evaluatePayloadTemplate(
    (reader.Parameters ?? {}) as JsonValue,
    input,
    runtime.context,
  );
  if (!isJsonObject(parameters) || typeof parameters.Bucket !== 'string') {
    throw new StatesError(
      statesErrorNames.itemReaderFailed,
      `${stateName}: ItemReader Parameters need a Bucket`,
    );
  }
  const s3 = requireS3(stateName, runtime);
  const resource = String(reader.Resource);
  const failed = (error: unknown) =>
    new StatesError(
      statesErrorNames.itemReaderFailed,
      `${stateName}: reading items from s3://${parameters.Bucket}/${String(parameters.Key ?? parameters.Prefix ?? '')} failed: ${describe(error)}`,
    );
  if (/^arn:[^:]+:states:::s3:listObjectsV2$/.test(resource)) {
    const items: JsonValue[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            ...(parameters as Record<string, never>),
            Bucket: parameters.Bucket,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) {
          if (items.length >= limit) break;
          items.push({
            Etag: object.ETag ?? '',
            Key: object.Key ?? '',
            LastModified: Math.floor((object.LastModified?.getTime() ?? 0) / 1000),
            Size: object.Size ?? 0,
            StorageClass: object.StorageClass ?? 'STANDARD',
          });
        }
        token = page.IsTruncated && items.length < limit ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw failed(error);
    }
    return items;
  }
  if (/^arn:[^:]+:states:::s3:getObject$/.test(resource)) {
    const inputType = config.InputType;
    if (inputType !== 'JSON' && inputType !== 'JSONL') {
      throw new StatesError(
        statesErrorNames.runtime,
        `${stateName}: ItemReader InputType ${String(inputType)} is not supported locally (JSON and JSONL are)`,
        { terminal: true },
      );
    }
    let body: string;
    try {
      const object = await s3.send(
        new GetObjectCommand({
          Bucket: parameters.Bucket,
          Key: String(parameters.Key),
          ...(typeof parameters.VersionId === 'string' ? { VersionId: parameters.VersionId } : {}),
        }),
      );
      body = (await object.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      throw failed(error);
    }
    let items: JsonValue[];
    try {
      if (inputType === 'JSON') {
        const parsed = JSON.parse(body) as JsonValue;
        if (!Array.isArray(parsed)) throw new Error('the object is not a JSON array');
        items = parsed;
      } else {
        items = body
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as JsonValue);
      }
    } catch (error) {
      throw failed(error);
    }
    return items.slice(0, limit);
  }
  throw new StatesError(
    statesErrorNames.runtime,
    `${stateName}: ItemReader Resource ${resource} is not supported locally`,
    {
      terminal: true,
    },
  );
}

interface Batch {
  readonly input: JsonValue;
  readonly itemCount: number;
}

async function makeBatches(
  stateName: string,
  state: AslState,
  items: readonly JsonValue[],
  input: JsonValue,
  runtime: DistributedMapRuntime,
): Promise<Batch[]> {
  const tooBig = (bytes: number, what: string) =>
    new StatesError(
      statesErrorNames.dataLimitExceeded,
      `${stateName}: ${what} is ${bytes} bytes, over the 256 KiB limit of a child execution's input`,
      { terminal: true },
    );
  const batcher = isJsonObject(state.ItemBatcher) ? state.ItemBatcher : undefined;
  if (!batcher) {
    return items.map((item, index) => {
      const bytes = jsonByteLength(item);
      if (bytes > maxPayloadBytes) throw tooBig(bytes, `item ${index}`);
      return { input: item, itemCount: 1 };
    });
  }
  const maxItems =
    Number((await readPath(batcher, 'MaxItemsPerBatch', input, runtime.context)) ?? 0) ||
    Number.POSITIVE_INFINITY;
  const maxBytes = Math.min(
    Number((await readPath(batcher, 'MaxInputBytesPerBatch', input, runtime.context)) ?? 0) ||
      maxPayloadBytes,
    maxPayloadBytes,
  );
  const batchInput =
    batcher.BatchInput === undefined
      ? undefined
      : await evaluatePayloadTemplate(batcher.BatchInput as JsonValue, input, runtime.context);
  const wrap = (batch: JsonValue[]): JsonValue =>
    batchInput === undefined ? { Items: batch } : { BatchInput: batchInput, Items: batch };
  const batches: Batch[] = [];
  let current: JsonValue[] = [];
  // Bytes of the child input: the envelope plus each item and its separating comma.
  const envelope = jsonByteLength(wrap([]));
  let bytes = envelope;
  for (const [index, item] of items.entries()) {
    const itemBytes = jsonByteLength(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + 1 + itemBytes > maxBytes)) {
      batches.push({ input: wrap(current), itemCount: current.length });
      current = [];
      bytes = envelope;
    }
    const size = itemBytes + (current.length > 0 ? 1 : 0);
    if (bytes + size > maxBytes) throw tooBig(bytes + size, `the batch holding item ${index}`);
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push({ input: wrap(current), itemCount: current.length });
  return batches;
}

function executionRecord(
  executionArn: string,
  name: string,
  stateMachineArn: string,
  input: JsonValue,
  outcome: ChildOutcome,
  started: Date,
): JsonObject {
  const stopped = new Date().toISOString();
  if (outcome.status === 'SUCCEEDED') {
    return {
      ExecutionArn: executionArn,
      Input: JSON.stringify(input),
      InputDetails: { Included: true },
      Name: name,
      Output: JSON.stringify(outcome.output),
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      StartDate: started.toISOString(),
      StateMachineArn: stateMachineArn,
      Status: 'SUCCEEDED',
      StopDate: stopped,
    };
  }
  return {
    Cause: outcome.cause,
    Error: outcome.error,
    ExecutionArn: executionArn,
    Input: JSON.stringify(input),
    InputDetails: { Included: true },
    Name: name,
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
    RedriveStatusReason: 'Executions of the local runner cannot be redriven',
    StartDate: started.toISOString(),
    StateMachineArn: stateMachineArn,
    Status: 'FAILED',
    StopDate: stopped,
  };
}

type Transformation = 'NONE' | 'COMPACT' | 'FLATTEN';

function transformationOf(writer: JsonObject | undefined): Transformation {
  const config = isJsonObject(writer?.WriterConfig) ? writer.WriterConfig : undefined;
  const value = config?.Transformation;
  if (value === 'NONE' || value === 'COMPACT' || value === 'FLATTEN') return value;
  // Default: COMPACT when the results are the state output, NONE when they are exported to S3.
  return writer?.Resource !== undefined ? 'NONE' : 'COMPACT';
}

/** Applies a Transformation; failed children always appear as their full record. */
function transform(records: readonly ExecutionRecord[], transformation: Transformation): JsonValue[] {
  const out: JsonValue[] = [];
  for (const { outcome, record } of records) {
    if (transformation === 'NONE' || outcome.status === 'FAILED') out.push(record);
    else if (transformation === 'FLATTEN' && Array.isArray(outcome.output)) out.push(...outcome.output);
    else out.push(outcome.output);
  }
  return out;
}

async function writeResults(
  stateName: string,
  writer: JsonObject,
  records: readonly ExecutionRecord[],
  mapRunArn: string,
  mapRunId: string,
  input: JsonValue,
  runtime: DistributedMapRuntime,
): Promise<JsonValue> {
  const resource = String(writer.Resource);
  if (!/^arn:[^:]+:states:::s3:putObject$/.test(resource)) {
    throw new StatesError(
      statesErrorNames.runtime,
      `${stateName}: ResultWriter Resource ${resource} is not supported`,
      {
        terminal: true,
      },
    );
  }
  const parameters = await evaluatePayloadTemplate(
    (writer.Parameters ?? {}) as JsonValue,
    input,
    runtime.context,
  );
  if (!isJsonObject(parameters) || typeof parameters.Bucket !== 'string') {
    throw new StatesError(
      statesErrorNames.resultWriterFailed,
      `${stateName}: ResultWriter Parameters need a Bucket`,
    );
  }
  const bucket = parameters.Bucket;
  const prefix = typeof parameters.Prefix === 'string' ? parameters.Prefix.replace(/\/+$/, '') : '';
  const directory = prefix === '' ? `${mapRunId}/` : `${prefix}/${mapRunId}/`;
  const config = isJsonObject(writer.WriterConfig) ? writer.WriterConfig : {};
  const jsonl = config.OutputType === 'JSONL';
  const transformation = transformationOf(writer);
  const s3 = requireS3(stateName, runtime);
  const put = async (key: string, body: string) => {
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
      );
    } catch (error) {
      throw new StatesError(
        statesErrorNames.resultWriterFailed,
        `${stateName}: writing s3://${bucket}/${key} failed: ${describe(error)}`,
      );
    }
    return { Key: key, Size: Buffer.byteLength(body, 'utf8') };
  };
  const encode = (values: readonly JsonValue[]) =>
    jsonl ? values.map((value) => `${JSON.stringify(value)}\n`).join('') : JSON.stringify(values);
  const extension = jsonl ? 'jsonl' : 'json';
  const succeeded = records.filter((record) => record.outcome.status === 'SUCCEEDED');
  const failed = records.filter((record) => record.outcome.status === 'FAILED');
  const files: Record<'FAILED' | 'PENDING' | 'SUCCEEDED', JsonValue[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  if (succeeded.length > 0) {
    files.SUCCEEDED.push(
      await put(`${directory}SUCCEEDED_0.${extension}`, encode(transform(succeeded, transformation))),
    );
  }
  if (failed.length > 0) {
    files.FAILED.push(await put(`${directory}FAILED_0.${extension}`, encode(transform(failed, 'NONE'))));
  }
  const manifestKey = `${directory}manifest.json`;
  await put(
    manifestKey,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: mapRunArn, ResultFiles: files }),
  );
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: bucket, Key: manifestKey } };
}

function requireS3(stateName: string, runtime: DistributedMapRuntime): S3Client {
  if (!runtime.s3) {
    throw new StatesError(
      statesErrorNames.runtime,
      `${stateName}: this Distributed Map reads or writes S3 but the runner has no S3 client; pass bindings.s3 (the vault client)`,
      { terminal: true },
    );
  }
  return runtime.s3;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
