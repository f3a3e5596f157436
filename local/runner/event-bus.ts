/**
 * MOCK OF EVENTBRIDGE DELIVERY: the template's rules (`AWS::Events::Rule` with an `EventPattern`)
 * matched against events the local control plane emits — SSM's "EC2 Command Invocation
 * Status-change Notification" when a command invocation starts and ends (`ssm-executor.ts`) — and
 * delivered to the rules' Lambda targets, asynchronously, as EventBridge invokes Lambda: the event
 * is the function's payload, and a failed invocation is retried twice (Lambda's asynchronous
 * retries), then reported as a warning. Other target types are not delivered (warning).
 *
 * Event patterns: literal values (a field matches when it equals one of the listed values, or, for
 * an array field, when any element does), nested objects, and the operators `prefix`,
 * `anything-but` (values or `{prefix}`), `exists`. Anything else is refused at setup.
 */
import { randomUUID } from 'node:crypto';
import { isJsonObject, type JsonObject, type JsonValue } from './asl.js';
import { RunnerSetupError } from './errors.js';
import type { RunnerEvent } from './events.js';
import type { ExtractedEventRule } from './extract.js';
import type { LocalLambdaInvoker } from './lambda-invoker.js';

/** SSM's detail-type for one invocation changing status. */
export const commandInvocationDetailType = 'EC2 Command Invocation Status-change Notification';

/** A command invocation's status changed (reported by the SSM executor). */
export interface CommandStatusChange {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly requestedDateTime: Date;
  readonly status: string;
}

/** The EventBridge event SSM sends for a {@link CommandStatusChange}. */
export function commandStatusEvent(
  change: CommandStatusChange,
  where: { region: string; accountId: string },
): JsonObject {
  const resource = change.instanceId.startsWith('mi-')
    ? `arn:aws:ssm:${where.region}:${where.accountId}:managed-instance/${change.instanceId}`
    : `arn:aws:ec2:${where.region}:${where.accountId}:instance/${change.instanceId}`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': commandInvocationDetailType,
    source: 'aws.ssm',
    account: where.accountId,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: [resource],
    detail: {
      'command-id': change.commandId,
      'document-name': change.documentName,
      'instance-id': change.instanceId,
      'requested-date-time': change.requestedDateTime.toISOString(),
      status: change.status,
    },
  };
}

/** Whether `event` matches an EventBridge `pattern` (see the module comment for what is supported). */
export function matchesPattern(pattern: JsonValue, event: JsonValue, path = ''): boolean {
  if (!isJsonObject(pattern))
    throw new RunnerSetupError(`event pattern${path ? ` at ${path}` : ''} must be an object`);
  const object = isJsonObject(event) ? event : {};
  return Object.entries(pattern).every(([field, expected]) => {
    const where = path ? `${path}.${field}` : field;
    const value = object[field];
    if (Array.isArray(expected)) return matchesValues(expected, value, where);
    if (isJsonObject(expected)) return value !== undefined && matchesPattern(expected, value, where);
    throw new RunnerSetupError(`event pattern at ${where} must be an array or an object`);
  });
}

function matchesValues(expected: readonly JsonValue[], value: JsonValue | undefined, where: string): boolean {
  const candidates = Array.isArray(value) ? value : [value];
  return expected.some((rule) => {
    if (!isJsonObject(rule)) return value !== undefined && candidates.some((candidate) => candidate === rule);
    const [operator, operand] = Object.entries(rule)[0] ?? [];
    switch (operator) {
      case 'exists':
        return operand === (value !== undefined);
      case 'prefix':
        return candidates.some(
          (c) => typeof c === 'string' && typeof operand === 'string' && c.startsWith(operand),
        );
      case 'anything-but': {
        if (value === undefined) return false;
        if (isJsonObject(operand) && typeof operand.prefix === 'string') {
          const prefix = operand.prefix;
          return candidates.every((c) => !(typeof c === 'string' && c.startsWith(prefix)));
        }
        const excluded = Array.isArray(operand) ? operand : [operand];
        return candidates.every((c) => !excluded.some((x) => x === c));
      }
      default:
        throw new RunnerSetupError(
          `event pattern at ${where} uses ${JSON.stringify(rule)}, which the local event bus does not support (literals, prefix, anything-but, exists)`,
        );
    }
  });
}

/** Options of {@link LocalEventBus}. */
export interface LocalEventBusOptions {
  readonly rules: readonly ExtractedEventRule[];
  readonly invoker: LocalLambdaInvoker;
  readonly emit: (event: Omit<RunnerEvent, 'timestamp'>) => void;
  /** Pause before Lambda's asynchronous retries, milliseconds. @default [1000, 2000] (AWS: about 1 and 2 minutes) */
  readonly retryDelaysMs?: readonly number[];
}

/** Delivers events to the Lambda targets of matching rules; {@link settle} waits for deliveries under way. */
export class LocalEventBus {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: LocalEventBusOptions) {
    // Refuse unsupported patterns now, not at the first event.
    for (const rule of options.rules) matchesPattern(rule.eventPattern, {});
  }

  /** PutEvents from an AWS service: every matching rule's targets get the event. */
  publish(event: JsonObject): void {
    for (const rule of this.options.rules) {
      if (!rule.enabled || !matchesPattern(rule.eventPattern, event)) continue;
      for (const target of rule.targets) {
        const fn = target.arn ? this.options.invoker.find(target.arn) : undefined;
        if (!fn) {
          this.options.emit({
            type: 'Warning',
            message: `event rule ${rule.logicalId}: target ${target.id} (${target.arn ?? 'unresolved'}) is not a Lambda function of the template; not delivered locally`,
          });
          continue;
        }
        const delivery = this.deliver(rule.logicalId, fn.name, () => this.options.invoker.invoke(fn, event));
        this.pending.add(delivery);
        void delivery.finally(() => this.pending.delete(delivery));
      }
    }
  }

  /** Waits until every delivery under way has ended. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async deliver(rule: string, functionName: string, invoke: () => Promise<JsonValue>): Promise<void> {
    const delays = this.options.retryDelaysMs ?? [1000, 2000];
    for (let attempt = 0; ; attempt += 1) {
      try {
        await invoke();
        return;
      } catch (error) {
        const delay = delays[attempt];
        const what = `${(error as Error).name}: ${(error as Error).message}`;
        if (delay === undefined) {
          this.options.emit({
            type: 'Warning',
            message: `event rule ${rule}: ${functionName} failed ${attempt + 1} times, event dropped (${what})`,
          });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
