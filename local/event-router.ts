import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { WireBackupConfig } from '../lib/config.js';
import { featureFlags } from '../lib/feature-flags.js';
import { WireBackupStack } from '../lib/wire-backup-stack.js';
import { runLocal } from './local-run.js';
import type { JsonValue } from './runner/asl.js';
import type { RunnerEventListener } from './runner/events.js';
import type { RunResult } from './runner/run-state-machine.js';
import type { StackInfo } from './stack-info.js';

/**
 * MOCK of the AWS control plane (EventBridge rules), kept outside the runner: the runner's stand-in for
 * PutEvents only records each entry in `<stackDir>/events.jsonl` (`local/local-run.ts`). This module
 * plays the default event bus's rules: it reads the `AWS::Events::Rule`s the stack synthesizes (their
 * `EventPattern` and state machine targets), matches recorded entries against them as EventBridge
 * does for the fields the stack uses (`source`, `detail-type`, exact values of `detail` fields), and
 * starts each matching target through `runLocal` with the event as EventBridge delivers it (the whole
 * event as the execution input, no input transformer).
 */

/** One PutEvents entry as the local bus recorded it. */
export interface RecordedEvent {
  readonly time: string;
  readonly Source: string;
  readonly DetailType: string;
  /** The detail, as the state machine sent it (a JSON string, or an object). */
  readonly Detail: string | Record<string, unknown>;
}

/** A rule of the stack that starts a state machine. */
export interface EventRule {
  readonly logicalId: string;
  readonly pattern: Readonly<Record<string, unknown>>;
  /** `StateMachineName` of each target. */
  readonly stateMachines: readonly string[];
}

/** One execution a delivered event started. */
export interface Delivery {
  readonly rule: string;
  readonly stateMachine: string;
  readonly event: JsonValue;
  readonly result: RunResult;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const rulesCache = new Map<string, EventRule[]>();

/** The event rules of the stack synthesized from `config` (memoized per configuration). */
export function eventRulesOf(config: WireBackupConfig): EventRule[] {
  const cacheKey = JSON.stringify(config);
  const cached = rulesCache.get(cacheKey);
  if (cached) return cached;
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', { config });
  const resources = (app.synth().getStackByName(stack.stackName).template as { Resources: Resources })
    .Resources;
  const names = new Map(
    Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map(([id, r]) => [id, String(r.Properties?.StateMachineName ?? id)]),
  );
  const rules: EventRule[] = [];
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Events::Rule' || !r.Properties?.EventPattern) continue;
    const targets = (r.Properties.Targets ?? []) as { Arn?: { Ref?: string } }[];
    const stateMachines = targets
      .map((t) => (t.Arn?.Ref ? names.get(t.Arn.Ref) : undefined))
      .filter((n): n is string => n !== undefined);
    rules.push({ logicalId, pattern: r.Properties.EventPattern as Record<string, unknown>, stateMachines });
  }
  rulesCache.set(cacheKey, rules);
  return rules;
}

/** The event as EventBridge delivers it to a target. */
export function toDeliveredEvent(entry: RecordedEvent, region: string): Record<string, JsonValue> {
  const detail =
    typeof entry.Detail === 'string' ? (JSON.parse(entry.Detail) as JsonValue) : (entry.Detail as JsonValue);
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '000000000000',
    time: entry.time,
    region,
    resources: [],
    detail,
  };
}

/** Whether `event` matches `pattern` (exact-value lists, nested objects; the subset the stack uses). */
export function matchesPattern(
  pattern: Readonly<Record<string, unknown>>,
  event: Readonly<Record<string, unknown>>,
): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = event[field];
    if (Array.isArray(expected)) return expected.some((v) => v === actual);
    if (expected && typeof expected === 'object')
      return (
        actual !== null &&
        typeof actual === 'object' &&
        matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>)
      );
    return false;
  });
}

/** Entries the local bus recorded at or after `since` (ms since the epoch). */
export function readRecordedEvents(stack: StackInfo, since = 0): RecordedEvent[] {
  const file = join(stack.stackDir, 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RecordedEvent)
    .filter((e) => new Date(e.time).getTime() >= since);
}

/** Delivers each entry to every matching rule's state machines, one execution after the other. */
export async function deliverEvents(options: {
  readonly stack: StackInfo;
  readonly config: WireBackupConfig;
  readonly entries: readonly RecordedEvent[];
  readonly onEvent?: RunnerEventListener;
}): Promise<Delivery[]> {
  const rules = eventRulesOf(options.config);
  const deliveries: Delivery[] = [];
  for (const entry of options.entries) {
    const event = toDeliveredEvent(entry, options.stack.vault.region);
    for (const rule of rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      for (const stateMachine of rule.stateMachines) {
        const result = await runLocal({
          stateMachine,
          input: event,
          stack: options.stack,
          config: options.config,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        });
        deliveries.push({ rule: rule.logicalId, stateMachine, event, result });
      }
    }
  }
  return deliveries;
}
