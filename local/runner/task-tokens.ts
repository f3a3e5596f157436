/**
 * Step Functions task tokens for `.waitForTaskToken` tasks of a local run: the runner issues a token
 * when such a task starts, and the task ends when someone calls SendTaskSuccess / SendTaskFailure
 * with it (locally through the control plane stand-in, `control-plane.ts`), or with
 * `States.Timeout` / `States.HeartbeatTimeout` when its `TimeoutSeconds` / `HeartbeatSeconds` pass
 * first (SendTaskHeartbeat restarts the heartbeat clock).
 *
 * Errors of the Step Functions API, by the names AWS gives them: `InvalidToken` (never issued),
 * `TaskTimedOut` (the task no longer waits: timed out, completed or its run ended), `InvalidOutput`
 * (output not JSON).
 */
import { randomBytes } from 'node:crypto';
import type { JsonValue } from './asl.js';
import { StatesError } from './errors.js';

/** Error of a task-token API call (`name` is the API's error code). */
export class TaskTokenApiError extends Error {
  constructor(name: 'InvalidToken' | 'TaskTimedOut' | 'InvalidOutput', message: string) {
    super(message);
    this.name = name;
  }
}

/** How long a task may wait. */
export interface TaskWaitLimits {
  /** `TimeoutSeconds` of the state. @default - none */
  readonly timeoutSeconds?: number | undefined;
  /** `HeartbeatSeconds` of the state. @default - none */
  readonly heartbeatSeconds?: number | undefined;
}

interface Waiting {
  readonly resolve: (output: JsonValue) => void;
  readonly reject: (error: Error) => void;
  readonly limits: TaskWaitLimits;
  heartbeat?: NodeJS.Timeout;
  timeout?: NodeJS.Timeout;
}

/** Largest delay Node's timers take. */
const maxTimerMs = 2 ** 31 - 1;

/** The task tokens of one run. */
export class TaskTokenRegistry {
  private readonly prefix = randomBytes(6).toString('hex');
  private counter = 0;
  private readonly issued = new Set<string>();
  private readonly waitingTokens = new Map<string, Waiting>();

  /** A new token; {@link wait} for it before anyone can complete it. */
  issue(): string {
    this.counter += 1;
    // Opaque and long, like AWS's (which are base64 blobs of several hundred characters).
    const token = `AQ${this.prefix}${this.counter.toString(36)}${randomBytes(96).toString('base64url')}`;
    this.issued.add(token);
    return token;
  }

  /** How many tasks wait for their token now. */
  get waiting(): number {
    return this.waitingTokens.size;
  }

  /** Whether this registry issued `token`. */
  owns(token: string): boolean {
    return this.issued.has(token);
  }

  /** Resolves with the task's output, or rejects with the task's error. Clocks start now. */
  wait(token: string, limits: TaskWaitLimits): Promise<JsonValue> {
    if (!this.issued.has(token)) throw new Error(`task token was not issued by this run`);
    return new Promise<JsonValue>((resolve, reject) => {
      const entry: Waiting = { resolve, reject, limits };
      this.waitingTokens.set(token, entry);
      if (limits.timeoutSeconds !== undefined) {
        entry.timeout = setTimeout(
          () =>
            this.end(
              token,
              new StatesError('States.Timeout', 'The task did not complete within its TimeoutSeconds'),
            ),
          Math.min(limits.timeoutSeconds * 1000, maxTimerMs),
        );
      }
      this.armHeartbeat(token, entry);
    });
  }

  /** SendTaskSuccess. */
  succeed(token: string, output: string): void {
    const entry = this.waitingFor(token);
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(output) as JsonValue;
    } catch {
      throw new TaskTokenApiError(
        'InvalidOutput',
        'Invalid State Machine Execution Output: output is not JSON',
      );
    }
    this.clear(token, entry);
    entry.resolve(parsed);
  }

  /** SendTaskFailure: the task fails with `error` (Step Functions' default name when absent) and `cause`. */
  fail(token: string, error: string | undefined, cause: string | undefined): void {
    const entry = this.waitingFor(token);
    this.end(token, new StatesError(error || 'States.TaskFailed', cause ?? ''), entry);
  }

  /** SendTaskHeartbeat: restarts the heartbeat clock. */
  heartbeat(token: string): void {
    const entry = this.waitingFor(token);
    this.armHeartbeat(token, entry);
  }

  /** Ends the wait for `token` without a result (its integration failed). */
  abandon(token: string): void {
    this.end(token, new StatesError('States.Runtime', 'the task was abandoned', { terminal: true }));
  }

  /** Ends every wait (the run is over); later calls with their tokens get `TaskTimedOut`. */
  close(): void {
    for (const [token, entry] of this.waitingTokens) {
      this.clear(token, entry);
      entry.reject(new StatesError('States.Runtime', 'the execution ended', { terminal: true }));
    }
  }

  private waitingFor(token: string): Waiting {
    const entry = this.waitingTokens.get(token);
    if (entry) return entry;
    if (this.issued.has(token)) {
      throw new TaskTokenApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    throw new TaskTokenApiError(
      'InvalidToken',
      'Invalid Token: the task token was not issued by this execution',
    );
  }

  private armHeartbeat(token: string, entry: Waiting): void {
    if (entry.limits.heartbeatSeconds === undefined) return;
    if (entry.heartbeat) clearTimeout(entry.heartbeat);
    entry.heartbeat = setTimeout(
      () =>
        this.end(
          token,
          new StatesError(
            'States.HeartbeatTimeout',
            'The task did not send a heartbeat within its HeartbeatSeconds',
          ),
        ),
      Math.min(entry.limits.heartbeatSeconds * 1000, maxTimerMs),
    );
  }

  private end(token: string, error: Error, known?: Waiting): void {
    const entry = known ?? this.waitingTokens.get(token);
    if (!entry) return;
    this.clear(token, entry);
    entry.reject(error);
  }

  private clear(token: string, entry: Waiting): void {
    if (entry.timeout) clearTimeout(entry.timeout);
    if (entry.heartbeat) clearTimeout(entry.heartbeat);
    this.waitingTokens.delete(token);
  }
}
