import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireBackupConfig } from '../lib/config.js';
import { featureFlags } from '../lib/feature-flags.js';
import { WireBackupStack } from '../lib/wire-backup-stack.js';
import { localConfig, localFunctionEnvironment, writeLocalSecrets } from './local-config.js';
import type { JsonValue } from './runner/asl.js';
import { synthesizeCloudAssembly } from './runner/cloud-assembly.js';
import type { RunnerEventListener } from './runner/events.js';
import { type CfnTemplate, type ExtractedTemplate, extractTemplate } from './runner/extract.js';
import { IamEnforcement } from './runner/iam/index.js';
import { type RunResult, runStateMachine } from './runner/run-state-machine.js';
import { LocalSsmExecutor } from './runner/ssm-executor.js';
import { createStackS3Client } from './stack-clients.js';
import { readStackInfo, type StackInfo } from './stack-info.js';

const synthesized = new Map<string, ExtractedTemplate>();
const templates = new WeakMap<ExtractedTemplate, { template: CfnTemplate; stackName: string }>();
const enforcements = new Map<string, Promise<IamEnforcement>>();

/** The synthesized template `extracted` came from (for tests that change a policy and run it). */
export function synthesizedTemplate(extracted: ExtractedTemplate): {
  template: CfnTemplate;
  stackName: string;
} {
  const source = templates.get(extracted);
  if (!source) throw new Error('template not synthesized by synthesizeLocal');
  return source;
}

/**
 * IAM enforcement for `extracted` against `stack`, kept for the process (its proxy does not keep the
 * process alive), so the functions' credentials and endpoints stay the same and their containers warm.
 */
function iamEnforcement(extracted: ExtractedTemplate, stack: StackInfo): Promise<IamEnforcement> {
  const source = templates.get(extracted);
  if (!source) throw new Error('runLocal: template not synthesized by synthesizeLocal');
  // The vault endpoint is part of the key: a fault test runs the same stack behind the fault harness.
  const key = `${stack.stackDir}\n${stack.vault.endpoint}\n${JSON.stringify(source.template)}`;
  let enforcement = enforcements.get(key);
  if (!enforcement) {
    enforcement = IamEnforcement.start(source.template, stack, { stackName: source.stackName });
    enforcements.set(key, enforcement);
  }
  return enforcement;
}

const putEventsResource = 'arn:aws:states:::events:putEvents';

/**
 * EventBridge is AWS control plane, not runnable here: the local stand-in appends each PutEvents
 * entry to `<stackDir>/events.jsonl` and answers like the service integration does.
 */
function localEventBus(stack: StackInfo) {
  return (input: JsonValue): JsonValue => {
    const entries = ((input as { Entries?: JsonValue[] }).Entries ?? []) as JsonValue[];
    for (const entry of entries)
      appendFileSync(
        join(stack.stackDir, 'events.jsonl'),
        `${JSON.stringify({ time: new Date().toISOString(), ...(entry as object) })}\n`,
      );
    return { Entries: entries.map((_, i) => ({ EventId: `local-${Date.now()}-${i}` })), FailedEntryCount: 0 };
  };
}

/**
 * Synthesizes the stack with its Lambda bundles, as `cdk deploy` would, and extracts what the runner
 * needs; the runner runs those bundles. The cloud assembly is cached on disk by a hash of the sources
 * and the configuration (`local/runner/cloud-assembly.ts`), and memoized here per configuration.
 */
export function synthesizeLocal(config: WireBackupConfig): ExtractedTemplate {
  const cacheKey = JSON.stringify(config);
  const cached = synthesized.get(cacheKey);
  if (cached) return cached;
  const stackName = 'WireBackup';
  const assembly = synthesizeCloudAssembly({
    context: featureFlags,
    key: { config, stackName },
    build: (app) => new WireBackupStack(app, stackName, { config }),
  });
  const extracted = extractTemplate(assembly.template, { stackName, assets: assembly.assets });
  synthesized.set(cacheKey, extracted);
  templates.set(extracted, { template: assembly.template, stackName });
  return extracted;
}

/** Options of {@link runLocal}. */
export interface RunLocalOptions {
  /** `StateMachineName` in the stack (`wire-backup`, `wire-restore`). */
  readonly stateMachine: string;
  readonly input: JsonValue;
  readonly onEvent?: RunnerEventListener;
  /** Local stack. @default readStackInfo() */
  readonly stack?: StackInfo;
  /** Configuration. @default localConfig(stack) */
  readonly config?: WireBackupConfig;
  readonly executionName?: string;
  /** Extra milliseconds a host command of a document reports InProgress after its script ended (see `LocalSsmExecutor`). @default - none */
  readonly ssmCompletionDelayMs?: (documentName: string) => number;
  /**
   * Evaluate every AWS call against the synthesized IAM policies (`runner/iam/`): the Lambdas reach
   * the vault and Secrets Manager through the IAM proxy with their roles' credentials; the state
   * machine's Lambda invokes, SSM, EventBridge and Distributed Map calls are checked against its role.
   * @default true
   */
  readonly enforceIam?: boolean;
  /** Aborts the execution (StopExecution: it ends ABORTED, and no Catch runs). @default - none */
  readonly signal?: AbortSignal;
}

/**
 * Runs one of the stack's state machines — the definition CDK synthesizes — against the local
 * stack: Lambda states run the functions' bundles, SSM states run the real document scripts with bash.
 */
export async function runLocal(options: RunLocalOptions): Promise<RunResult> {
  const stack = options.stack ?? readStackInfo();
  const config = options.config ?? localConfig(stack);
  const extracted = synthesizeLocal(config);
  const machine = extracted.stateMachines.find((m) => m.name === options.stateMachine);
  if (!machine) {
    throw new Error(
      `no state machine ${options.stateMachine} in the stack (have: ${extracted.stateMachines.map((m) => m.name).join(', ')})`,
    );
  }
  // Secrets Manager is AWS control plane: its local stand-in is the secrets file (local-secrets.ts),
  // served by the IAM proxy (or, without IAM, read by functions/core/secrets.ts from the file).
  const secretsFile = writeLocalSecrets(stack);
  const executionName =
    options.executionName ?? `local-${new Date().toISOString().replace(/[-:.]/g, '')}-${process.pid}`;
  const enforcement = options.enforceIam === false ? undefined : await iamEnforcement(extracted, stack);
  const functions = extracted.functions.map((f) => ({
    ...f,
    environment: {
      ...f.environment,
      ...(enforcement
        ? enforcement.functionEnvironment(f)
        : { ...localFunctionEnvironment(stack), WIRE_BACKUP_LOCAL_SECRETS_FILE: secretsFile }),
    },
  }));
  // The runner forwards the executor's command events to onEvent itself.
  // Host profiles from the stack given (a fault test's point the hosts at the proxied vault).
  const executor = new LocalSsmExecutor({
    documents: extracted.documents,
    stackDir: stack.stackDir,
    // With IAM enforced, host scripts reach the vault as the stack's host role (its synthesized policy).
    ...(enforcement ? { hostCredentials: (id: string) => enforcement.hostCredentials(id) } : {}),
    ...(options.ssmCompletionDelayMs ? { completionDelayMs: options.ssmCompletionDelayMs } : {}),
    ...(options.stack ? { hosts: options.stack.hosts } : {}),
  });
  const ssm = enforcement ? enforcement.guardSsm(machine.name, executionName, executor) : executor;
  const s3 = enforcement
    ? enforcement.stateMachineS3Client(machine.name, executionName)
    : createStackS3Client(stack.vault);
  const putEvents = enforcement
    ? enforcement.guardPutEvents(machine.name, executionName, localEventBus(stack))
    : localEventBus(stack);
  try {
    return await runStateMachine({
      definition: machine.definition,
      input: options.input,
      bindings: {
        functions,
        ssm,
        s3,
        resources: { [putEventsResource]: putEvents },
        eventRules: extracted.eventRules,
        parameters: extracted.parameters,
        // The functions' SSM and SendTask* calls, checked against each calling function's role.
        controlPlaneSsm: executor,
        ...(enforcement
          ? {
              authorize: enforcement.authorizer(machine.name, executionName),
              authorizeControlPlane: enforcement.controlPlaneAuthorizer(),
            }
          : {}),
      },
      stateMachineName: machine.name,
      executionName,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    // Kills host scripts still running after an abort or a crash.
    await executor.close();
    s3.destroy();
  }
}
