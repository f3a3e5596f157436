/**
 * Progress events of a local run: the state machine's event log (states entered, exited, failed,
 * retried, caught), Distributed Map runs, and the SSM executor's host commands (stderr lines).
 */

/** What happened. */
export type RunnerEventType =
  | 'ExecutionStarted'
  | 'ExecutionSucceeded'
  | 'ExecutionFailed'
  | 'ExecutionAborted'
  | 'ExecutionTimedOut'
  | 'StateEntered'
  | 'StateExited'
  | 'StateFailed'
  | 'StateRetried'
  | 'StateCaught'
  | 'MapIterationStarted'
  | 'MapIterationSucceeded'
  | 'MapIterationFailed'
  | 'ParallelBranchStarted'
  | 'ParallelBranchSucceeded'
  | 'ParallelBranchFailed'
  | 'MapRunStarted'
  | 'MapRunSucceeded'
  | 'MapRunFailed'
  | 'CommandStarted'
  | 'CommandOutput'
  | 'CommandFinished'
  | 'Warning';

/** One progress event. */
export interface RunnerEvent {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly type: RunnerEventType;
  /** The state concerned (for state, map and parallel events). */
  readonly state?: string;
  /** Its type (`Task`, `Map` …). */
  readonly stateType?: string;
  /** Where the state runs: e.g. `Copy Objects#3` inside item 3 of a Distributed Map. */
  readonly scope?: string;
  /** Map item index, for events of a Map iteration. */
  readonly index?: number;
  /** Retry attempt number, for `StateRetried`. */
  readonly attempt?: number;
  /** Error name, for failures. */
  readonly error?: string;
  /** Error cause, for failures. */
  readonly cause?: string;
  /** SSM command id and managed instance, for command events. */
  readonly commandId?: string;
  readonly instanceId?: string;
  /** One line a person can read. */
  readonly message: string;
}

/** Receives progress events. */
export type RunnerEventListener = (event: RunnerEvent) => void;

/** Calls `listener` and swallows its errors: a broken progress printer must not fail a run. */
export function emitSafely(listener: RunnerEventListener | undefined, event: RunnerEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // Progress output is best effort.
  }
}
