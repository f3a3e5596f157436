/**
 * Errors of the local runner. Two kinds:
 * - {@link StatesError}: an error a state fails with, named exactly as Step Functions names it
 *   (`InvalidInputError`, `Ssm.InvalidInstanceIdException`, `States.ItemReaderFailed` …), so the
 *   definition's `Retry`/`Catch` behave as in AWS. aws-local-stepfunctions matches `ErrorEquals`
 *   against `error.name` and puts `error.message` in the caught `Cause`.
 * - {@link RunnerSetupError}: the runner cannot start (an intrinsic it cannot resolve, a Task with no
 *   local binding, a handler module that does not exist). Never seen by the state machine.
 */

/** Step Functions error names the runner raises itself. */
export const statesErrorNames = {
  runtime: 'States.Runtime',
  dataLimitExceeded: 'States.DataLimitExceeded',
  itemReaderFailed: 'States.ItemReaderFailed',
  resultWriterFailed: 'States.ResultWriterFailed',
  exceedToleratedFailureThreshold: 'States.ExceedToleratedFailureThreshold',
  lambdaTimeout: 'Sandbox.Timedout',
} as const;

/**
 * An error a state fails with. `name` is the Step Functions error name, `message` the `Cause`.
 * Terminal errors (`States.Runtime`, `States.DataLimitExceeded`) are neither retried nor caught,
 * as in AWS; aws-local-stepfunctions reads `isRetryable`/`isCatchable` for that.
 */
export class StatesError extends Error {
  /** Read by aws-local-stepfunctions: may a `Retry` match this error. */
  readonly isRetryable: boolean;
  /** Read by aws-local-stepfunctions: may a `Catch` match this error. */
  readonly isCatchable: boolean;
  /** The original error (for debugging); not `cause`, which the engine would put in the event log. */
  readonly original?: unknown;

  constructor(name: string, cause: string, options: { terminal?: boolean; original?: unknown } = {}) {
    super(cause);
    this.name = name;
    this.isRetryable = !options.terminal;
    this.isCatchable = !options.terminal;
    if (options.original !== undefined) {
      Object.defineProperty(this, 'original', { value: options.original, enumerable: false });
    }
  }
}

/** The runner cannot start or bind the state machine; the message says what to change. */
export class RunnerSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunnerSetupError';
  }
}

/**
 * Maps anything a Task handler throws to the error Step Functions reports: `Error` = the JS error's
 * `name`, `Cause` = its message. The original is kept on `original` and dropped from `cause` so the
 * engine's event log shows the message, not a serialized `{}`.
 */
export function toStatesError(thrown: unknown): StatesError {
  if (thrown instanceof StatesError) return thrown;
  if (thrown instanceof Error) {
    // Engine errors such as States.Runtime say they cannot be retried or caught; keep that.
    const flags = thrown as { isRetryable?: boolean; isCatchable?: boolean };
    const terminal = flags.isRetryable === false && flags.isCatchable === false;
    return new StatesError(thrown.name || 'Error', thrown.message, { terminal, original: thrown });
  }
  return new StatesError('Error', String(thrown), { original: thrown });
}
