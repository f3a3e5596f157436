/**
 * The execution history as Step Functions keeps it, counted, with its limit: a Standard execution
 * holds at most 25,000 events; the event that would pass it is replaced by `ExecutionFailed` with
 * `States.Runtime` ("The execution reached the maximum number of history events (25000)."), which no
 * Catch sees (event 25,000 is the failure).
 *
 * Counted from the engine's event log, with the events AWS records for each (History event types of
 * the Step Functions API):
 * - execution: `ExecutionStarted`, then one of `ExecutionSucceeded` / `Failed` / `TimedOut` / `Aborted`;
 * - Pass, Choice, Wait, Succeed: `<Type>StateEntered`, `<Type>StateExited`; Fail: `FailStateEntered`;
 * - Task: `TaskStateEntered`; per attempt `TaskScheduled`, `TaskStarted` (+ `TaskSubmitted` for a
 *   `.waitForTaskToken` task), then `TaskSucceeded` or `TaskFailed`/`TaskTimedOut`; `TaskStateExited`;
 * - Parallel: `ParallelStateEntered`, `ParallelStateStarted`, the branches' states, `ParallelStateSucceeded`
 *   (or `Failed`), `ParallelStateExited`;
 * - inline Map: `MapStateEntered`, `MapStateStarted`, per iteration `MapIterationStarted`, its states,
 *   `MapIterationSucceeded` (or `Failed`), then `MapStateSucceeded` (or `Failed`), `MapStateExited`;
 * - Distributed Map: `MapStateEntered`, `MapStateStarted`, `MapRunStarted`, `MapRunSucceeded` (or
 *   `Failed`), `MapStateSucceeded` (or `Failed`), `MapStateExited`; its items run as child executions
 *   with histories of their own (each counted and limited by its own counter).
 * Not modelled: `TaskFailed` before a Task's input processing failed is counted like any failure.
 */
import { type AslDefinition, type AslState, listStates } from './asl.js';
import { isCallbackTask } from './callback-task.js';
import type { RunnerEvent } from './events.js';

/** Step Functions' limit on one execution's history. */
export const maxHistoryEvents = 25_000;

/** The cause AWS gives when an execution passes {@link maxHistoryEvents}. */
export const historyLimitCause = `The execution reached the maximum number of history events (${maxHistoryEvents}).`;

/** An engine event, as far as the counter reads it. */
export interface CountedEngineEvent {
  readonly type: string;
  readonly state?: { readonly name: string; readonly type: string };
  /** Map iteration index of a state event inside an inline Map. */
  readonly index?: number;
}

/** What the counter needs to know about the definition. */
export interface HistoryShape {
  /** Names of the states that stand for DISTRIBUTED Maps (Tasks in the engine). */
  readonly distributedMaps: ReadonlySet<string> | ReadonlyMap<string, AslState>;
  /** Names of `.waitForTaskToken` Tasks. */
  readonly callbackTasks: ReadonlySet<string>;
}

/** Counts one execution's history; {@link add} says when the limit is reached. */
export class HistoryCounter {
  private total = 0;
  private exceededLimit = false;
  /** Tasks whose current attempt failed (their exit is then not a success). */
  private readonly failedAttempt = new Set<string>();

  constructor(
    private readonly shape: HistoryShape,
    private readonly limit = maxHistoryEvents,
  ) {}

  /** Events so far (after an overflow: the limit, the last being the failure). */
  get count(): number {
    return this.total;
  }

  /** Whether the execution passed the limit. */
  get exceeded(): boolean {
    return this.exceededLimit;
  }

  /**
   * Counts the history events of one engine event. Returns false the first time the history would
   * pass the limit: the caller stops the execution, whose last event is then the failure.
   */
  add(event: CountedEngineEvent): boolean {
    if (this.exceededLimit) return true;
    const events = this.eventsOf(event);
    const terminal = /^Execution(Succeeded|Failed|Aborted|Timeout)$/.test(event.type);
    if (!terminal && this.total + events > this.limit - 1) {
      this.exceededLimit = true;
      this.total = this.limit;
      return false;
    }
    this.total += events;
    return true;
  }

  private eventsOf(event: CountedEngineEvent): number {
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        return 1;
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        return 0;
      default:
        return this.stateEvents(event);
    }
  }

  private stateEvents(event: CountedEngineEvent): number {
    const name = `${event.state?.name ?? ''}#${event.index ?? ''}`;
    const kind = this.kindOf(event.state);
    const attempt = kind === 'callback' ? 3 : 2;
    switch (event.type) {
      case 'StateEntered':
        this.failedAttempt.delete(name);
        if (kind === 'task' || kind === 'callback') return 1 + attempt;
        if (kind === 'distributedMap') return 3;
        if (kind === 'map' || kind === 'parallel') return 2;
        return 1;
      case 'StateRetried':
        this.failedAttempt.delete(name);
        return kind === 'task' || kind === 'callback' ? attempt : 0;
      case 'StateFailed':
        this.failedAttempt.add(name);
        if (kind === 'task' || kind === 'callback' || kind === 'map' || kind === 'parallel') return 1;
        if (kind === 'distributedMap') return 2;
        return 0;
      case 'StateCaught':
        return 0;
      case 'StateExited': {
        const failed = this.failedAttempt.delete(name);
        if (kind === 'task' || kind === 'callback' || kind === 'map' || kind === 'parallel')
          return failed ? 1 : 2;
        if (kind === 'distributedMap') return failed ? 1 : 3;
        return 1;
      }
      default:
        return 0;
    }
  }

  private kindOf(
    state: CountedEngineEvent['state'],
  ): 'task' | 'callback' | 'map' | 'distributedMap' | 'parallel' | 'other' {
    if (!state) return 'other';
    if (this.shape.distributedMaps.has(state.name)) return 'distributedMap';
    if (state.type === 'Task') return this.shape.callbackTasks.has(state.name) ? 'callback' : 'task';
    if (state.type === 'Map') return 'map';
    if (state.type === 'Parallel') return 'parallel';
    return 'other';
  }
}

/** The shape of a definition as the counter needs it (its DISTRIBUTED Maps and callback Tasks). */
export function historyShapeOf(definition: AslDefinition): HistoryShape {
  const states = listStates(definition);
  return {
    distributedMaps: new Set(
      states
        .filter(({ state }) => state.Type === 'Map' && JSON.stringify(state).includes('"DISTRIBUTED"'))
        .map(({ name }) => name),
    ),
    callbackTasks: new Set(states.filter(({ state }) => isCallbackTask(state)).map(({ name }) => name)),
  };
}

/**
 * Counts the history events among a run's progress events that `keep` selects (e.g. those of one
 * inline Map's iterations), as {@link HistoryCounter} counts them; Distributed Map children are not
 * part of the execution's history and are left out.
 */
export function countHistoryEvents(
  events: readonly RunnerEvent[],
  shape: HistoryShape,
  keep: (event: RunnerEvent) => boolean = () => true,
): number {
  const counter = new HistoryCounter(shape, Number.MAX_SAFE_INTEGER);
  for (const event of events) {
    if (event.scope !== undefined || !keep(event)) continue;
    counter.add({
      type: event.type === 'ExecutionTimedOut' ? 'ExecutionTimeout' : event.type,
      ...(event.state ? { state: { name: event.state, type: event.stateType ?? '' } } : {}),
      ...(event.index === undefined ? {} : { index: event.index }),
    });
  }
  return counter.count;
}
