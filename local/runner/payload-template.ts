import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { JsonValue } from './asl.js';
import { toStatesError } from './errors.js';

/**
 * Evaluates an Amazon States Language payload template (`Parameters`, `ItemSelector`,
 * `BatchInput`, `ItemReader.Parameters` …: keys ending in `.$` take a path or an intrinsic
 * function) with aws-local-stepfunctions itself, through a one-state Pass machine, so the runner's
 * own fields follow exactly the JSONPath and intrinsic semantics of the engine that runs the rest
 * of the definition.
 *
 * Note: the engine overwrites `$$.Execution.Input` and `$$.Execution.StartTime` in the context it
 * is given; everything else in `context` (e.g. `$$.Map.Item`, `$$.Execution.Id`) is kept.
 */
export async function evaluatePayloadTemplate(
  template: JsonValue,
  input: JsonValue,
  context: Readonly<Record<string, unknown>>,
): Promise<JsonValue> {
  if (typeof template !== 'object' || template === null) return template;
  const machine = new StateMachine(
    { StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template as never, End: true } } },
    { validationOptions: { noValidate: true } },
  );
  try {
    return (await machine.run(input as never, { context: context as never }).result) as JsonValue;
  } catch (error) {
    // A path that points nowhere fails the state with States.Runtime, as in AWS.
    throw toStatesError(error instanceof ExecutionError ? error.cause : error);
  }
}
