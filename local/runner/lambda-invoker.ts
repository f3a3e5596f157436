import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type JsonValue, maxPayloadBytes } from './asl.js';
import { RunnerSetupError, StatesError, statesErrorNames } from './errors.js';
import type { ExtractedFunction } from './extract.js';

/**
 * Runs the template's Lambda functions as Lambda does: the **bundle** CDK built for the function
 * (its `Code` asset and `Handler`, see `extractTemplate`'s `assets`), never the TypeScript sources.
 * Each function runs in containers of its own: a worker thread (`lambda-runtime.mjs`) whose
 * `process.env` is the function's `Environment.Variables` plus what Lambda's runtime sets, whose heap
 * is capped at the function's `MemorySize`, and which sees no node_modules. A container serves one
 * invocation at a time and stays warm for the next (module state survives, as in Lambda) until it has
 * been idle for {@link containerIdleMs}; concurrent invocations start more containers.
 * What AWS refuses, this refuses:
 * - a request over 256 KiB (the state's input limit) → `States.DataLimitExceeded`;
 * - a response over 6 MB (Lambda's synchronous limit) → `Function.ResponseSizeTooLarge` (one over
 *   256 KiB fails later with `States.DataLimitExceeded`, as any Task result);
 * - past the function's `Timeout` → the container is terminated, `Sandbox.Timedout`;
 * - past its `MemorySize` → the container dies, `Runtime.OutOfMemory`;
 * - a bundle that does not load → the error Lambda reports (`Runtime.ImportModuleError`, the thrown
 *   error's name, `Runtime.HandlerNotFound`), on every invocation, as the state's failure.
 * What the handler throws becomes the Step Functions error: `Error` = the JS error's `name`,
 * `Cause` = its message. Log lines of the function go to this process's console.
 */

/** A container idle this long is stopped (Lambda keeps idle environments for minutes; this bounds memory). */
export const containerIdleMs = 60_000;

/** Lambda's limit on a synchronous invocation's response. */
export const maxResponseBytes = 6 * 1024 * 1024;

/** Options of {@link LocalLambdaInvoker}. */
export interface LocalLambdaInvokerOptions {
  readonly functions: readonly ExtractedFunction[];
}

/** Error names of Lambda failures the runtime (not the handler) raises. */
export const lambdaErrorNames = {
  timeout: statesErrorNames.lambdaTimeout,
  outOfMemory: 'Runtime.OutOfMemory',
  exit: 'Runtime.ExitError',
  responseTooLarge: 'Function.ResponseSizeTooLarge',
} as const;

const runtimeFile = join(dirname(fileURLToPath(import.meta.url)), 'lambda-runtime.mjs');

/** Finds the template's functions and invokes their bundles (see the module comment). */
export class LocalLambdaInvoker {
  private readonly byName = new Map<string, ExtractedFunction>();

  constructor(options: LocalLambdaInvokerOptions) {
    for (const fn of options.functions) this.byName.set(fn.name, fn);
  }

  /** The function a name or ARN (optionally with a version or alias qualifier) designates. */
  find(nameOrArn: string): ExtractedFunction | undefined {
    const name = nameOrArn.startsWith('arn:') ? nameOrArn.split(':')[6] : nameOrArn.split(':')[0];
    return name === undefined ? undefined : this.byName.get(name);
  }

  /** The bundle folder, module and export of `fn`; throws naming what is missing. */
  codeLocation(fn: ExtractedFunction): { taskRoot: string; module: string; exportName: string } {
    if (!fn.code) {
      throw new RunnerSetupError(
        `Lambda function ${fn.logicalId}${fn.handler ? ` (${fn.handler})` : ''} has no bundle: synthesize with bundling (synthesizeCloudAssembly in local/runner/cloud-assembly.ts) and pass its assets to extractTemplate`,
      );
    }
    const dot = fn.code.handler.lastIndexOf('.');
    if (dot <= 0) {
      throw new RunnerSetupError(
        `Handler of ${fn.logicalId} is ${fn.code.handler}: expected <module>.<export>, e.g. index.handler`,
      );
    }
    if (!existsSync(fn.code.directory)) {
      throw new RunnerSetupError(`bundle of ${fn.logicalId} not found: ${fn.code.directory}`);
    }
    return {
      taskRoot: fn.code.directory,
      module: fn.code.handler.slice(0, dot),
      exportName: fn.code.handler.slice(dot + 1),
    };
  }

  /** Invokes `fn` with `event`; resolves with its JSON result or rejects with a {@link StatesError}. */
  async invoke(fn: ExtractedFunction, event: JsonValue): Promise<JsonValue> {
    const location = this.codeLocation(fn);
    const request = JSON.stringify(event ?? null);
    const requestBytes = Buffer.byteLength(request);
    if (requestBytes > maxPayloadBytes) {
      throw new StatesError(
        statesErrorNames.dataLimitExceeded,
        `The state/task '${fn.arn}' input (${requestBytes} bytes) exceeds the maximum number of bytes service limit (262144)`,
        { terminal: true },
      );
    }
    const container = acquireContainer(fn, location);
    const payload = await container.invoke(request);
    const responseBytes = Buffer.byteLength(payload);
    if (responseBytes > maxResponseBytes) {
      throw new StatesError(
        lambdaErrorNames.responseTooLarge,
        `Response payload size (${responseBytes} bytes) exceeded maximum allowed payload size (${maxResponseBytes} bytes).`,
      );
    }
    return JSON.parse(payload) as JsonValue;
  }
}

/** Terminates every warm container (they do not keep the process alive; this frees them now). */
export async function stopLambdaContainers(): Promise<void> {
  const all = [...pools.values()].flat();
  pools.clear();
  await Promise.all(all.map((container) => container.stop()));
}

/** Idle and busy containers by function configuration: a changed configuration gets new ones, as in Lambda. */
const pools = new Map<string, LambdaContainer[]>();

function acquireContainer(
  fn: ExtractedFunction,
  location: { taskRoot: string; module: string; exportName: string },
): LambdaContainer {
  const key = JSON.stringify([fn.arn, location, fn.environment, fn.memorySize, fn.timeoutSeconds]);
  let pool = pools.get(key);
  if (!pool) {
    pool = [];
    pools.set(key, pool);
  }
  const idle = pool.find((container) => container.idle);
  if (idle) return idle;
  const created = new LambdaContainer(fn, location, () => {
    const list = pools.get(key);
    const at = list?.indexOf(created) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
  });
  pool.push(created);
  return created;
}

interface Pending {
  readonly requestId: string;
  readonly resolve: (payload: string) => void;
  readonly reject: (error: StatesError) => void;
}

interface RuntimeLog {
  readonly log: string;
  readonly stream: 'stdout' | 'stderr';
}

interface RuntimeReply {
  readonly id: string;
  readonly payload?: string;
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly fatal?: boolean;
}

/** One execution environment of a function: a worker thread running `lambda-runtime.mjs`. */
class LambdaContainer {
  private readonly worker: Worker;
  private pending: Pending | undefined;
  private dead = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly logStreamName =
    `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`;

  constructor(
    private readonly fn: ExtractedFunction,
    location: { taskRoot: string; module: string; exportName: string },
    private readonly discard: () => void,
  ) {
    const region = fn.arn.split(':')[3] || 'us-east-1';
    this.worker = new Worker(runtimeFile, {
      workerData: location,
      // What Lambda's runtime sets, then the function's variables (the local stack's endpoints and
      // keys stand in for the execution role's credentials there). Nothing of this process leaks in.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LANG: 'en_US.UTF-8',
        AWS_REGION: region,
        AWS_DEFAULT_REGION: fn.environment.AWS_REGION ?? region,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
        AWS_LAMBDA_LOG_STREAM_NAME: this.logStreamName,
        LAMBDA_TASK_ROOT: location.taskRoot,
        _HANDLER: `${location.module}.${location.exportName}`,
        ...fn.environment,
      },
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: fn.memorySize },
    });
    // An idle container must not keep the process alive (piped stdio would: logs come as messages).
    this.worker.unref();
    this.worker.on('message', (message: RuntimeReply | RuntimeLog) => {
      if ('log' in message) {
        if (message.stream === 'stderr') console.error(message.log);
        else console.log(message.log);
      } else {
        this.onReply(message);
      }
    });
    this.worker.on('error', (error: Error & { code?: string }) => {
      const requestId = this.pending?.requestId ?? 'init';
      this.fail(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new StatesError(
              lambdaErrorNames.outOfMemory,
              `RequestId: ${requestId} Error: Runtime exited with error: signal: killed (more than ${this.fn.memorySize} MB)`,
            )
          : new StatesError(error.name || 'Error', error.message),
      );
    });
    this.worker.on('exit', (code) => {
      this.fail(
        new StatesError(
          lambdaErrorNames.exit,
          `RequestId: ${this.pending?.requestId ?? 'init'} Error: Runtime exited with error: exit status ${code}`,
        ),
      );
    });
  }

  get idle(): boolean {
    return !this.dead && this.pending === undefined;
  }

  /** Sends one invocation; resolves with the JSON response or rejects with the function's error. */
  invoke(request: string): Promise<string> {
    const requestId = randomUUID();
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    clearTimeout(this.idleTimer);
    return new Promise<string>((resolve, reject) => {
      this.worker.ref();
      const timer = setTimeout(
        () => {
          this.fail(
            new StatesError(
              lambdaErrorNames.timeout,
              `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
            ),
          );
        },
        Math.min(timeoutMs, 2 ** 31 - 1),
      );
      const settle = () => {
        clearTimeout(timer);
        if (this.dead) return;
        this.worker.unref();
        this.idleTimer = setTimeout(() => void this.stop(), containerIdleMs).unref();
      };
      this.pending = {
        requestId,
        resolve: (payload) => {
          settle();
          resolve(payload);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      this.worker.postMessage({
        id: requestId,
        event: request,
        context: {
          functionName: this.fn.name,
          functionVersion: '$LATEST',
          invokedFunctionArn: this.fn.arn,
          memoryLimitInMB: String(this.fn.memorySize),
          awsRequestId: requestId,
          logGroupName: `/aws/lambda/${this.fn.name}`,
          logStreamName: this.logStreamName,
          deadline: Date.now() + timeoutMs,
        },
      });
    });
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.dead = true;
    this.discard();
    await this.worker.terminate();
  }

  private onReply(reply: RuntimeReply): void {
    const pending = this.pending;
    if (!pending || reply.id !== pending.requestId) return;
    this.pending = undefined;
    if (reply.payload !== undefined) {
      pending.resolve(reply.payload);
      return;
    }
    // A container whose init failed is not reused: Lambda starts a new one for the next invocation.
    if (reply.fatal) void this.stop();
    pending.reject(new StatesError(reply.errorType || 'Error', reply.errorMessage ?? ''));
  }

  /** Ends the container (timeout, crash, exit) and fails the invocation in flight with `error`. */
  private fail(error: StatesError): void {
    const pending = this.pending;
    this.pending = undefined;
    if (!this.dead) void this.stop();
    pending?.reject(error);
  }
}
