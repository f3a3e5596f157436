import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runWithEnv } from '../../functions/core/env.js';
import { repoRoot } from '../stack-info.js';
import type { JsonValue } from './asl.js';
import { RunnerSetupError, StatesError, statesErrorNames, toStatesError } from './errors.js';
import type { ExtractedFunction } from './extract.js';

/**
 * Runs the template's Lambda functions in this process: the handler module named by the function's
 * `WireBackupHandler` metadata (`functions/x.handler` → export `handler` of `<moduleRoot>/functions/x.ts`),
 * called with a JSON copy of the event and a Lambda-like context, inside `runWithEnv` with the
 * function's `Environment.Variables`. What the handler throws becomes the Step Functions error
 * (`Error` = the JS error's `name`, `Cause` = its message). The function's `Timeout` is enforced as
 * Lambda does (error `Sandbox.Timedout`); the handler's promise cannot be cancelled in-process, so
 * its work may continue in the background after that.
 */

/** A Lambda handler as the runner calls it. */
export type LambdaHandler = (event: JsonValue, context: LocalLambdaContext) => unknown;

/** The subset of the Lambda context object handlers may use. */
export interface LocalLambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** Options of {@link LocalLambdaInvoker}. */
export interface LocalLambdaInvokerOptions {
  readonly functions: readonly ExtractedFunction[];
  /** Directory handler module paths are relative to. @default the repository root */
  readonly moduleRoot?: string;
}

const moduleExtensions = ['.ts', '.mts', '.js', '.mjs'];

/** Finds and calls the template's functions locally (see the module comment). */
export class LocalLambdaInvoker {
  private readonly byName = new Map<string, ExtractedFunction>();
  private readonly modules = new Map<string, Promise<Record<string, unknown>>>();
  private readonly moduleRoot: string;

  constructor(options: LocalLambdaInvokerOptions) {
    for (const fn of options.functions) this.byName.set(fn.name, fn);
    this.moduleRoot = options.moduleRoot ?? repoRoot;
  }

  /** The function a name or ARN (optionally with a version or alias qualifier) designates. */
  find(nameOrArn: string): ExtractedFunction | undefined {
    const name = nameOrArn.startsWith('arn:') ? nameOrArn.split(':')[6] : nameOrArn.split(':')[0];
    return name === undefined ? undefined : this.byName.get(name);
  }

  /** The handler module file and export of `fn`; throws naming what is missing. */
  handlerLocation(fn: ExtractedFunction): { file: string; exportName: string } {
    if (!fn.handler) {
      throw new RunnerSetupError(
        `Lambda function ${fn.logicalId} has no template metadata WireBackupHandler; create it with WireFunction (lib/constructs/wire-function.ts) or add the metadata`,
      );
    }
    const dot = fn.handler.lastIndexOf('.');
    if (dot <= 0)
      throw new RunnerSetupError(
        `WireBackupHandler of ${fn.logicalId} is ${fn.handler}: expected <module path>.<export>`,
      );
    const base = join(this.moduleRoot, fn.handler.slice(0, dot));
    const file = moduleExtensions
      .map((extension) => base + extension)
      .find((candidate) => existsSync(candidate));
    if (!file) {
      throw new RunnerSetupError(
        `handler module of ${fn.logicalId} not found: ${base}.ts (from WireBackupHandler ${fn.handler}, relative to ${this.moduleRoot})`,
      );
    }
    return { file, exportName: fn.handler.slice(dot + 1) };
  }

  /** Invokes `fn` with `event`; resolves with its JSON result or rejects with a {@link StatesError}. */
  async invoke(fn: ExtractedFunction, event: JsonValue): Promise<JsonValue> {
    const handler = await this.loadHandler(fn);
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    const context: LocalLambdaContext = {
      functionName: fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: `local/${new Date(started).toISOString().slice(0, 10)}/${randomUUID()}`,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    // The function sees a serialized copy, as in Lambda, and cannot alter the state machine's data.
    const payload = JSON.parse(JSON.stringify(event ?? null)) as JsonValue;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StatesError(
              statesErrorNames.lambdaTimeout,
              `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
            ),
          ),
        Math.min(fn.timeoutSeconds * 1000, 2 ** 31 - 1),
      );
    });
    try {
      const result = await Promise.race([
        runWithEnv(fn.environment, async () => handler(payload, context)),
        timeout,
      ]);
      return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as JsonValue);
    } catch (error) {
      throw toStatesError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  private async loadHandler(fn: ExtractedFunction): Promise<LambdaHandler> {
    const { file, exportName } = this.handlerLocation(fn);
    let loading = this.modules.get(file);
    if (!loading) {
      loading = import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;
      this.modules.set(file, loading);
    }
    const handler = (await loading)[exportName];
    if (typeof handler !== 'function') {
      throw new RunnerSetupError(
        `${file} has no exported function ${exportName} (WireBackupHandler of ${fn.logicalId})`,
      );
    }
    return handler as LambdaHandler;
  }
}
