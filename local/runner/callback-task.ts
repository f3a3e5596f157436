/**
 * `.waitForTaskToken` Tasks (the callback pattern), which aws-local-stepfunctions 3.x does not
 * support (`$$.Task.Token` does not exist there): the runner rewrites the definition so each
 * reference to `$$.Task.Token` in a callback Task's `Parameters` becomes a placeholder, and binds
 * the Task to {@link callbackTask}, which issues a token, puts it where the placeholder is, runs the
 * integration (the Lambda invoke, answered at once), then waits for SendTaskSuccess/Failure with
 * that token, `TimeoutSeconds` (`States.Timeout`) and `HeartbeatSeconds` (`States.HeartbeatTimeout`)
 * enforced by the runner instead of the engine.
 */
import { type AslState, isJsonObject, type JsonValue } from './asl.js';
import { RunnerSetupError } from './errors.js';
import type { TaskTokenRegistry } from './task-tokens.js';

/** What a callback Task's `Parameters` hold where AWS would put the task token. */
export const taskTokenPlaceholder = 'local-runner:$$.Task.Token';

const callbackSuffix = '.waitForTaskToken';

/** Whether `state` is a `.waitForTaskToken` Task. */
export function isCallbackTask(state: AslState): boolean {
  return (
    state.Type === 'Task' && typeof state.Resource === 'string' && state.Resource.endsWith(callbackSuffix)
  );
}

/** The integration a callback Task runs before it waits (`…:lambda:invoke.waitForTaskToken` → `…:lambda:invoke`). */
export function callbackIntegration(resource: string): string {
  return resource.slice(0, -callbackSuffix.length);
}

/**
 * The callback Task as the engine sees it: `$$.Task.Token` references replaced by the placeholder,
 * its timeouts taken over by the runner (see the module comment).
 */
export function prepareCallbackTask(name: string, state: Record<string, unknown>): Record<string, unknown> {
  if (state.TimeoutSecondsPath !== undefined || state.HeartbeatSecondsPath !== undefined) {
    throw new RunnerSetupError(
      `${name}: TimeoutSecondsPath/HeartbeatSecondsPath on a .waitForTaskToken Task are not supported locally; use TimeoutSeconds/HeartbeatSeconds`,
    );
  }
  const copy: Record<string, unknown> = { ...state, Parameters: withPlaceholder(name, state.Parameters) };
  delete copy.HeartbeatSeconds;
  delete copy.TimeoutSeconds;
  return copy;
}

function withPlaceholder(name: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => withPlaceholder(name, item));
  if (!isJsonObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.endsWith('.$') && item === '$$.Task.Token') {
      out[key.slice(0, -2)] = taskTokenPlaceholder;
    } else if (key.endsWith('.$') && typeof item === 'string' && item.includes('$$.Task.Token')) {
      throw new RunnerSetupError(
        `${name}: ${key} uses $$.Task.Token inside an expression (${item}); locally only "${key}": "$$.Task.Token" is supported`,
      );
    } else {
      out[key] = withPlaceholder(name, item);
    }
  }
  return out;
}

function withToken(value: JsonValue, token: string): JsonValue {
  if (value === taskTokenPlaceholder) return token;
  if (Array.isArray(value)) return value.map((item) => withToken(item, token));
  if (isJsonObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withToken(item, token)]));
  }
  return value;
}

/**
 * The handler of a callback Task: `integration` receives the input with the token in place; its
 * result is dropped (AWS records it in `TaskSubmitted`), and the Task's result is the output of
 * SendTaskSuccess. A failing integration fails the Task with its error.
 */
export function callbackTask(
  state: AslState,
  integration: (input: JsonValue) => Promise<JsonValue> | JsonValue,
  tokens: TaskTokenRegistry,
): (input: JsonValue) => Promise<JsonValue> {
  const limits = {
    timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
    heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
  };
  return async (input) => {
    const token = tokens.issue();
    // The clocks run from the Task's start, the integration's own call included.
    const completion = tokens.wait(token, limits);
    // A failure before the integration returns must not leave an unhandled rejection behind.
    completion.catch(() => undefined);
    try {
      await integration(withToken(input, token));
    } catch (error) {
      tokens.abandon(token);
      throw error;
    }
    return completion;
  };
}
