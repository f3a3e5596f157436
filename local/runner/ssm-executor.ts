/**
 * Local SSM Run Command executor.
 *
 * THIS IS THE ONLY MOCK OF THE AWS CONTROL PLANE in wire-backup's local runtime (together with the
 * Secrets Manager stand-in in `local-secrets.ts`). Everything else the state machine touches locally
 * is real: Lambda handlers, S3 (MinIO), Cassandra, the host scripts.
 *
 * It serves the Step Functions tasks `arn:aws:states:::aws-sdk:ssm:sendCommand` and
 * `…:getCommandInvocation` the way SSM and its agent do:
 * - `sendCommand` validates each parameter against the document (unknown names rejected, defaults
 *   applied, required ones enforced, `type`, `allowedValues`, `allowedPattern`, `minChars`/`maxChars`,
 *   `minItems`/`maxItems`) before anything runs, then per instance runs the document's single
 *   `aws:runShellScript` step with bash: `runCommand` lines joined, `{{ name }}` references replaced
 *   by the value (as the agent does), and every parameter declared `interpolationType: ENV_VAR`
 *   exported as the environment variable `SSM_<name>`. The instance's host profile
 *   (`$WIRE_STACK_DIR/hosts/<id>/host.env`, from `stack.json` `hosts`) is sourced first; the rest of
 *   the environment is a plain system PATH, HOME and locale, as an agent would have.
 * - The step's `timeoutSeconds` input (default 3600, may reference a parameter such as
 *   `{{ executionTimeout }}`) is the execution timeout: on expiry the process group is killed and the
 *   invocation ends `TimedOut` with ResponseCode 137, as the Linux agent reports it. `SendCommand`'s
 *   own `TimeoutSeconds` is SSM's delivery timeout (how long to wait for an offline instance); local
 *   instances receive commands at once, so it never fires.
 * - `getCommandInvocation` reports `InProgress` until the script ends, then `Success`/`Failed`/
 *   `TimedOut` with the exit code, the first 24,000 characters of stdout and the first 8,000 of
 *   stderr. Full logs stay in `$WIRE_STACK_DIR/ssm/<commandId>/<instanceId>.{stdout,stderr}` (the
 *   script that ran is `<commandId>/<instanceId>/_script.sh`); stderr lines stream as progress.
 * - Every status change of an invocation (`InProgress` at start, the final status at the end) is
 *   reported to status listeners (`addStatusListener`): the runner turns them into SSM's EventBridge
 *   events ("EC2 Command Invocation Status-change Notification", `event-bus.ts`).
 * - `completionDelayMs` (tests of long runs): an invocation stays `InProgress` that much longer after
 *   its script ended, as if the script had run longer; nothing else changes.
 * - Errors carry the names the Step Functions SDK integration gives them
 *   (`Ssm.InvalidInstanceIdException`, `Ssm.InvalidParametersException`,
 *   `Ssm.InvalidDocumentException`, `Ssm.InvocationDoesNotExistException`,
 *   `Ssm.InvalidPluginNameException`), so `Retry`/`Catch` behave as in AWS.
 *
 * Not modelled (rejected with a message): `Targets`, documents other than schema 2.2 with exactly one
 * Linux `aws:runShellScript` step, `StringMap`/`MapList` parameters, `{{ssm:…}}` Parameter Store
 * references.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, type WriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { stackDir as defaultStackDir, readStackInfo } from '../stack-info.js';
import { isJsonObject, type JsonObject, type JsonValue } from './asl.js';
import { StatesError, statesErrorNames } from './errors.js';
import { emitSafely, type RunnerEvent, type RunnerEventListener } from './events.js';

/** Characters of stdout SSM returns in `StandardOutputContent`. */
export const maxStandardOutputChars = 24_000;
/** Characters of stderr SSM returns in `StandardErrorContent`. */
export const maxStandardErrorChars = 8_000;
/** Exit code the Linux SSM agent reports for a command it killed (128 + SIGKILL). */
export const killedExitCode = 137;

/** Error names of the Step Functions SDK integration for SSM. */
export const ssmErrorNames = {
  invalidInstanceId: 'Ssm.InvalidInstanceIdException',
  invalidParameters: 'Ssm.InvalidParametersException',
  invalidDocument: 'Ssm.InvalidDocumentException',
  invocationDoesNotExist: 'Ssm.InvocationDoesNotExistException',
  invalidPluginName: 'Ssm.InvalidPluginNameException',
} as const;

/** An SSM document the executor can run. */
export interface LocalSsmDocument {
  readonly name: string;
  readonly content: JsonObject;
}

/** Options of {@link LocalSsmExecutor}. */
export interface LocalSsmExecutorOptions {
  /** The documents (from `extractTemplate(...).documents`). */
  readonly documents: readonly LocalSsmDocument[];
  /** Local stack directory (logs go to `<stackDir>/ssm`). @default `$WIRE_STACK_DIR` or `<repo>/.local-stack` */
  readonly stackDir?: string;
  /** Host profile per managed instance id. @default `hosts` of `<stackDir>/stack.json`, read at each SendCommand */
  readonly hosts?: Readonly<Record<string, { readonly envFile: string }>>;
  /** Receives command progress (started, stderr lines, finished). @default - none */
  readonly onEvent?: RunnerEventListener;
  /** Account in error messages. @default '000000000000' */
  readonly accountId?: string;
  /** PATH before the host profile extends it. @default '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' */
  readonly basePath?: string;
  /** The vault credentials of each host (IAM enforcement). @default the host profile's own */
  readonly hostCredentials?: (instanceId: string) => HostCredentials;
  /** Extra milliseconds an invocation of a document reports `InProgress` after its script ended. @default - none */
  readonly completionDelayMs?: (documentName: string) => number;
}

/** An invocation's status changed. */
export interface InvocationStatusChange {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly requestedDateTime: Date;
  readonly status: InvocationStatus;
}

/** The `SendCommand` request fields the executor reads (others of the SSM API are accepted and ignored). */
export interface SendCommandInput {
  readonly DocumentName: string;
  readonly InstanceIds?: readonly string[];
  readonly Parameters?: Readonly<Record<string, readonly string[]>>;
  readonly TimeoutSeconds?: number;
  readonly Comment?: string;
  readonly [field: string]: unknown;
}

/** `SendCommand` response, as the SDK integration returns it. */
export interface SendCommandOutput {
  readonly Command: {
    readonly CommandId: string;
    readonly DocumentName: string;
    readonly DocumentVersion: string;
    readonly Comment: string;
    readonly Parameters: Readonly<Record<string, readonly string[]>>;
    readonly InstanceIds: readonly string[];
    readonly Targets: readonly never[];
    readonly RequestedDateTime: string;
    readonly ExpiresAfter: string;
    readonly Status: 'Pending';
    readonly StatusDetails: 'Pending';
    readonly TimeoutSeconds: number;
    readonly TargetCount: number;
    readonly CompletedCount: 0;
    readonly ErrorCount: 0;
    readonly DeliveryTimedOutCount: 0;
    readonly MaxConcurrency: string;
    readonly MaxErrors: string;
    readonly OutputS3BucketName: string;
    readonly OutputS3KeyPrefix: string;
    readonly ServiceRole: string;
    readonly CloudWatchOutputConfig: {
      readonly CloudWatchLogGroupName: string;
      readonly CloudWatchOutputEnabled: boolean;
    };
  };
}

/** The `GetCommandInvocation` request. */
export interface GetCommandInvocationInput {
  readonly CommandId: string;
  readonly InstanceId: string;
  readonly PluginName?: string;
}

/** Status of one invocation. */
export type InvocationStatus = 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

/** `GetCommandInvocation` response, as the SDK integration returns it. */
export interface GetCommandInvocationOutput {
  readonly CommandId: string;
  readonly InstanceId: string;
  readonly Comment: string;
  readonly DocumentName: string;
  readonly DocumentVersion: string;
  readonly PluginName: string;
  /** Exit code; -1 while running. */
  readonly ResponseCode: number;
  readonly ExecutionStartDateTime: string;
  readonly ExecutionElapsedTime: string;
  readonly ExecutionEndDateTime: string;
  readonly Status: InvocationStatus;
  readonly StatusDetails: string;
  readonly StandardOutputContent: string;
  readonly StandardOutputUrl: string;
  readonly StandardErrorContent: string;
  readonly StandardErrorUrl: string;
  readonly CloudWatchOutputConfig: {
    readonly CloudWatchLogGroupName: string;
    readonly CloudWatchOutputEnabled: boolean;
  };
}

/** A document parameter, as schema 2.2 declares it. */
interface ParameterSpec {
  readonly type?: string;
  readonly default?: JsonValue;
  readonly allowedValues?: readonly string[];
  readonly allowedPattern?: string;
  readonly minChars?: number | string;
  readonly maxChars?: number | string;
  readonly minItems?: number | string;
  readonly maxItems?: number | string;
  readonly interpolationType?: string;
}

/** The step the executor runs. */
interface ShellStep {
  readonly name: string;
  readonly runCommand: readonly string[];
  readonly timeoutSeconds?: string | number;
  readonly workingDirectory?: string;
}

/** One command on one instance. */
interface Invocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly pluginName: string;
  readonly comment: string;
  readonly started: Date;
  ended?: Date;
  status: InvocationStatus;
  responseCode: number;
  readonly stdout: CappedText;
  readonly stderr: CappedText;
  child?: ChildProcess;
  cancelled: boolean;
  done: Promise<void>;
}

const sendCommandFields = new Set([
  'DocumentName',
  'DocumentVersion',
  'DocumentHash',
  'DocumentHashType',
  'InstanceIds',
  'Targets',
  'Parameters',
  'TimeoutSeconds',
  'Comment',
  'OutputS3Region',
  'OutputS3BucketName',
  'OutputS3KeyPrefix',
  'MaxConcurrency',
  'MaxErrors',
  'ServiceRoleArn',
  'NotificationConfig',
  'CloudWatchOutputConfig',
  'AlarmConfiguration',
]);

/** Bash program that sources the host profile, then runs the document script as a new program. */
/**
 * Sources the host profile, then, when the runner enforces IAM, replaces its vault credentials with
 * the host role's (`WIRE_BACKUP_HOST_AWS_*`, see {@link HostCredentials}), and runs the script.
 */
const hostWrapper = [
  '. "$1" || { echo "wire-backup local SSM: cannot source the host profile $1" >&2; exit 1; }',
  'if [[ -v WIRE_BACKUP_HOST_AWS_ACCESS_KEY_ID ]]; then export AWS_ACCESS_KEY_ID=$WIRE_BACKUP_HOST_AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$WIRE_BACKUP_HOST_AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL=$WIRE_BACKUP_HOST_AWS_ENDPOINT_URL; fi',
  'unset WIRE_BACKUP_HOST_AWS_ACCESS_KEY_ID WIRE_BACKUP_HOST_AWS_SECRET_ACCESS_KEY WIRE_BACKUP_HOST_AWS_ENDPOINT_URL',
  'exec bash "$2"',
].join('; ');

/**
 * The AWS identity a managed instance has in AWS: its hybrid activation's role. With IAM enforcement
 * the runner gives each host credentials of the stack's host role at the IAM proxy, so every vault
 * call of a host script is evaluated against that role's synthesized policy.
 */
export interface HostCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The vault endpoint the host reaches (the IAM proxy). */
  readonly endpoint: string;
}

/**
 * Runs SSM command documents on the local "managed instances" (see the module comment). One
 * executor per run; {@link close} kills what is still running.
 */
export class LocalSsmExecutor {
  private readonly documents = new Map<string, JsonObject>();
  private readonly invocations = new Map<string, Map<string, Invocation>>();
  private readonly listeners = new Set<RunnerEventListener>();
  private readonly statusListeners = new Set<(change: InvocationStatusChange) => void>();
  private readonly stackDir: string;

  constructor(private readonly options: LocalSsmExecutorOptions) {
    for (const document of options.documents) this.documents.set(document.name, document.content);
    this.stackDir = options.stackDir ?? defaultStackDir();
    if (options.onEvent) this.listeners.add(options.onEvent);
  }

  /** Adds a progress listener; returns the function that removes it. */
  addListener(listener: RunnerEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a listener of invocation status changes; returns the function that removes it. */
  addStatusListener(listener: (change: InvocationStatusChange) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** `ssm:SendCommand`: validates, starts the document's script on each instance, returns at once. */
  async sendCommand(input: SendCommandInput): Promise<SendCommandOutput> {
    for (const field of Object.keys(input)) {
      if (!sendCommandFields.has(field)) {
        throw new StatesError(
          statesErrorNames.runtime,
          `SendCommand has no field ${field} (SSM API fields are PascalCase: DocumentName, InstanceIds, Parameters, TimeoutSeconds …)`,
          { terminal: true },
        );
      }
    }
    if (input.Targets !== undefined) {
      throw new StatesError(
        statesErrorNames.runtime,
        'local SSM executor: SendCommand Targets is not supported; address hosts by InstanceIds',
        { terminal: true },
      );
    }
    const documentName = documentNameOf(input.DocumentName);
    const content = this.documents.get(documentName);
    if (!content) {
      throw new StatesError(
        ssmErrorNames.invalidDocument,
        `Document with name ${documentName} does not exist (local documents: ${[...this.documents.keys()].join(', ') || 'none'})`,
      );
    }
    const instanceIds = this.validateInstances(input.InstanceIds);
    const values = validateParameters(documentName, content, input.Parameters);
    const step = shellStep(documentName, content);
    const specs = parameterSpecs(content);
    const script = substitute(step.runCommand.join('\n'), values);
    const timeoutSeconds = executionTimeout(documentName, step, values);
    const environment: Record<string, string> = {};
    for (const [name, spec] of Object.entries(specs)) {
      const value = values[name];
      if (spec.interpolationType === 'ENV_VAR' && value) environment[`SSM_${name}`] = value.join(',');
    }

    const commandId = randomUUID();
    const requested = new Date();
    const perInstance = new Map<string, Invocation>();
    this.invocations.set(commandId, perInstance);
    const hosts = this.hosts();
    for (const instanceId of instanceIds) {
      const envFile = hosts[instanceId]?.envFile as string;
      perInstance.set(
        instanceId,
        this.start({
          commandId,
          instanceId,
          documentName,
          pluginName: step.name,
          comment: input.Comment ?? '',
          script,
          envFile,
          environment,
          timeoutSeconds,
          workingDirectory: step.workingDirectory,
        }),
      );
    }
    return {
      Command: {
        CommandId: commandId,
        DocumentName: documentName,
        DocumentVersion: '$DEFAULT',
        Comment: input.Comment ?? '',
        Parameters: values,
        InstanceIds: instanceIds,
        Targets: [],
        RequestedDateTime: requested.toISOString(),
        ExpiresAfter: new Date(
          requested.getTime() + ((input.TimeoutSeconds ?? 3600) + timeoutSeconds) * 1000,
        ).toISOString(),
        Status: 'Pending',
        StatusDetails: 'Pending',
        TimeoutSeconds: input.TimeoutSeconds ?? 3600,
        TargetCount: instanceIds.length,
        CompletedCount: 0,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
        MaxConcurrency: '50',
        MaxErrors: '0',
        OutputS3BucketName: '',
        OutputS3KeyPrefix: '',
        ServiceRole: '',
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      },
    };
  }

  /** `ssm:GetCommandInvocation`: the state of one command on one instance. */
  /** Whether this executor sent the command. */
  hasCommand(commandId: string): boolean {
    return this.invocations.has(commandId);
  }

  async getCommandInvocation(input: GetCommandInvocationInput): Promise<GetCommandInvocationOutput> {
    const invocation = this.invocations.get(input.CommandId)?.get(input.InstanceId);
    if (!invocation) {
      throw new StatesError(
        ssmErrorNames.invocationDoesNotExist,
        `Invocation does not exist for command ${input.CommandId} on instance ${input.InstanceId}`,
      );
    }
    if (input.PluginName !== undefined && input.PluginName !== invocation.pluginName) {
      throw new StatesError(
        ssmErrorNames.invalidPluginName,
        `Plugin ${input.PluginName} is not a step of document ${invocation.documentName} (its step is ${invocation.pluginName})`,
      );
    }
    const running = invocation.status === 'InProgress';
    const end = invocation.ended ?? new Date();
    return {
      CommandId: invocation.commandId,
      InstanceId: invocation.instanceId,
      Comment: invocation.comment,
      DocumentName: invocation.documentName,
      DocumentVersion: '1',
      PluginName: invocation.pluginName,
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: invocation.started.toISOString(),
      ExecutionElapsedTime: `PT${((end.getTime() - invocation.started.getTime()) / 1000).toFixed(3)}S`,
      ExecutionEndDateTime: invocation.ended?.toISOString() ?? '',
      Status: invocation.status,
      StatusDetails: invocation.status === 'TimedOut' ? 'ExecutionTimedOut' : invocation.status,
      StandardOutputContent: running ? '' : invocation.stdout.text(),
      StandardOutputUrl: '',
      StandardErrorContent: running ? '' : invocation.stderr.text(),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  /** Resolves when every invocation of `commandId` has ended. */
  async waitForCommand(commandId: string): Promise<void> {
    await Promise.all(
      [...(this.invocations.get(commandId)?.values() ?? [])].map((invocation) => invocation.done),
    );
  }

  /** Kills every command still running (status `Cancelled`) and waits for them to end. */
  async close(): Promise<void> {
    const all = [...this.invocations.values()].flatMap((perInstance) => [...perInstance.values()]);
    for (const invocation of all) {
      if (invocation.status === 'InProgress') {
        invocation.cancelled = true;
        killGroup(invocation.child);
      }
    }
    await Promise.all(all.map((invocation) => invocation.done));
  }

  /** The tags a managed instance carries in SSM (`tags` of its host in `stack.json`). */
  instanceTags(instanceId: string): Readonly<Record<string, string>> {
    return (this.hosts()[instanceId] as { readonly tags?: Record<string, string> } | undefined)?.tags ?? {};
  }

  private hosts(): Readonly<Record<string, { readonly envFile: string }>> {
    return this.options.hosts ?? readStackInfo(this.stackDir).hosts;
  }

  private validateInstances(instanceIds: readonly string[] | undefined): string[] {
    const account = this.options.accountId ?? '000000000000';
    if (!Array.isArray(instanceIds) || instanceIds.length === 0) {
      throw new StatesError(
        ssmErrorNames.invalidInstanceId,
        'SendCommand needs at least one instance id in InstanceIds',
      );
    }
    const hosts = this.hosts();
    const unknown = instanceIds.filter(
      (id) => typeof id !== 'string' || !hosts[id] || !existsSync(hosts[id]?.envFile ?? ''),
    );
    if (unknown.length > 0) {
      throw new StatesError(
        ssmErrorNames.invalidInstanceId,
        `Instances [${unknown.map((id) => `[${String(id)}]`).join(', ')}] not in a valid state for account ${account} (local managed instances: ${Object.keys(hosts).join(', ') || 'none'})`,
      );
    }
    return [...instanceIds];
  }

  private statusChanged(invocation: Invocation): void {
    const change: InvocationStatusChange = {
      commandId: invocation.commandId,
      instanceId: invocation.instanceId,
      documentName: invocation.documentName,
      requestedDateTime: invocation.started,
      status: invocation.status,
    };
    for (const listener of this.statusListeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not break the command.
      }
    }
  }

  private emit(event: Omit<RunnerEvent, 'timestamp'>): void {
    const stamped = { timestamp: Date.now(), ...event };
    for (const listener of this.listeners) emitSafely(listener, stamped);
  }

  private start(run: {
    commandId: string;
    instanceId: string;
    documentName: string;
    pluginName: string;
    comment: string;
    script: string;
    envFile: string;
    environment: Record<string, string>;
    timeoutSeconds: number;
    workingDirectory: string | undefined;
  }): Invocation {
    const commandDir = join(this.stackDir, 'ssm', run.commandId);
    const workDir = join(commandDir, run.instanceId);
    mkdirSync(workDir, { recursive: true });
    const scriptFile = join(workDir, '_script.sh');
    writeFileSync(scriptFile, `${run.script}\n`, { mode: 0o700 });
    const stdoutFile = createWriteStream(join(commandDir, `${run.instanceId}.stdout`));
    const stderrFile = createWriteStream(join(commandDir, `${run.instanceId}.stderr`));
    const invocation: Invocation = {
      commandId: run.commandId,
      instanceId: run.instanceId,
      documentName: run.documentName,
      pluginName: run.pluginName,
      comment: run.comment,
      started: new Date(),
      status: 'InProgress',
      responseCode: -1,
      stdout: new CappedText(maxStandardOutputChars),
      stderr: new CappedText(maxStandardErrorChars),
      cancelled: false,
      done: Promise.resolve(),
    };
    const base = { commandId: run.commandId, instanceId: run.instanceId };
    this.emit({
      ...base,
      type: 'CommandStarted',
      message: `${run.documentName} started on ${run.instanceId} (command ${run.commandId}, logs ${commandDir})`,
    });
    queueMicrotask(() => this.statusChanged(invocation));
    const environment: Record<string, string> = {
      PATH: this.options.basePath ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: process.env.HOME ?? '/root',
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      ...run.environment,
    };
    const credentials = this.options.hostCredentials?.(run.instanceId);
    if (credentials) {
      environment.WIRE_BACKUP_HOST_AWS_ACCESS_KEY_ID = credentials.accessKeyId;
      environment.WIRE_BACKUP_HOST_AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
      environment.WIRE_BACKUP_HOST_AWS_ENDPOINT_URL = credentials.endpoint;
    }
    let timedOut = false;
    invocation.done = new Promise<void>((resolve) => {
      const child = spawn('bash', ['-c', hostWrapper, 'wire-backup-ssm', run.envFile, scriptFile], {
        cwd: run.workingDirectory || workDir,
        env: environment,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      invocation.child = child;
      const stderrLines = new LineSplitter((line) =>
        this.emit({ ...base, type: 'CommandOutput', message: `${run.instanceId}: ${line}` }),
      );
      const outDecoder = new StringDecoder('utf8');
      const errDecoder = new StringDecoder('utf8');
      child.stdout.on('data', (chunk: Buffer) => {
        stdoutFile.write(chunk);
        invocation.stdout.append(outDecoder.write(chunk));
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderrFile.write(chunk);
        const text = errDecoder.write(chunk);
        invocation.stderr.append(text);
        stderrLines.push(text);
      });
      const timer = setTimeout(
        () => {
          timedOut = true;
          killGroup(child);
        },
        Math.min(run.timeoutSeconds * 1000, 2 ** 31 - 1),
      );
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        invocation.stdout.append(outDecoder.end());
        const tail =
          errDecoder.end() +
          (spawnError ? `wire-backup local SSM: cannot run bash: ${spawnError.message}\n` : '');
        invocation.stderr.append(tail);
        stderrLines.push(tail);
        stderrLines.flush();
        if (timedOut) {
          invocation.status = 'TimedOut';
          invocation.responseCode = killedExitCode;
        } else if (invocation.cancelled) {
          invocation.status = 'Cancelled';
          invocation.responseCode = killedExitCode;
        } else {
          invocation.responseCode = spawnError ? 127 : (code ?? (signal ? 128 + signalNumber(signal) : 1));
          invocation.status = invocation.responseCode === 0 ? 'Success' : 'Failed';
        }
        invocation.ended = new Date();
        let open = 2;
        const closed = () => {
          open -= 1;
          if (open > 0) return;
          this.emit({
            ...base,
            type: 'CommandFinished',
            message: `${run.documentName} on ${run.instanceId}: ${invocation.status} (exit ${invocation.responseCode}) in ${(
              (invocation.ended as Date).getTime() - invocation.started.getTime()
            ).toFixed(0)} ms`,
          });
          this.statusChanged(invocation);
          resolve();
        };
        endStream(stdoutFile, closed);
        endStream(stderrFile, closed);
      };
      const delay = invocation.cancelled ? 0 : (this.options.completionDelayMs?.(run.documentName) ?? 0);
      const later = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (delay <= 0 || invocation.cancelled) finish(code, signal, spawnError);
        else setTimeout(() => finish(code, signal, spawnError), delay);
      };
      child.on('error', (error) => later(null, null, error));
      child.on('close', (code, signal) => later(code, signal));
    });
    return invocation;
  }
}

function endStream(stream: WriteStream, then: () => void): void {
  stream.end(() => then());
}

function killGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    // The script runs as the leader of its own process group: kill it and everything it started.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 0;
}

/** Accepts a document name or ARN (`arn:aws:ssm:<region>:<account>:document/<name>`). */
function documentNameOf(nameOrArn: unknown): string {
  if (typeof nameOrArn !== 'string' || nameOrArn === '') {
    throw new StatesError(ssmErrorNames.invalidDocument, 'SendCommand needs a DocumentName');
  }
  const match = /^arn:[^:]+:ssm:[^:]*:[^:]*:document\/(.+)$/.exec(nameOrArn);
  return match?.[1] ?? nameOrArn;
}

function parameterSpecs(content: JsonObject): Record<string, ParameterSpec> {
  return isJsonObject(content.parameters) ? (content.parameters as Record<string, ParameterSpec>) : {};
}

function invalidParameters(message: string): StatesError {
  return new StatesError(ssmErrorNames.invalidParameters, message);
}

function show(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…"` : text;
}

/** Validates `given` against the document's parameters as SSM does; returns every value, defaults applied. */
function validateParameters(
  documentName: string,
  content: JsonObject,
  given: Readonly<Record<string, readonly string[]>> | undefined,
): Record<string, string[]> {
  const specs = parameterSpecs(content);
  const values: Record<string, string[]> = {};
  if (given !== undefined && !isJsonObject(given)) {
    throw invalidParameters(`Parameters of ${documentName} must be an object of string lists`);
  }
  for (const name of Object.keys(given ?? {})) {
    if (!(name in specs)) {
      throw invalidParameters(
        `Parameter "${name}" is not defined in document ${documentName} (it defines: ${Object.keys(specs).join(', ') || 'none'})`,
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const type = spec.type ?? 'String';
    if (type === 'StringMap' || type === 'MapList') {
      throw new StatesError(
        statesErrorNames.runtime,
        `local SSM executor: parameter ${name} of ${documentName} has type ${type}, which is not supported locally`,
        { terminal: true },
      );
    }
    const provided = given?.[name];
    let list: string[];
    let origin = 'value';
    if (provided !== undefined) {
      if (!Array.isArray(provided) || provided.some((item) => typeof item !== 'string')) {
        throw invalidParameters(
          `Parameter "${name}" of ${documentName} must be a list of strings, got ${JSON.stringify(provided)}`,
        );
      }
      list = [...provided];
    } else if (spec.default !== undefined) {
      origin = 'default';
      list = Array.isArray(spec.default) ? spec.default.map((item) => String(item)) : [String(spec.default)];
    } else {
      throw invalidParameters(`Parameter "${name}" of ${documentName} is required and has no default`);
    }
    if (type !== 'StringList' && list.length !== 1) {
      throw invalidParameters(
        `Parameter "${name}" of ${documentName} is a ${type}: give exactly one value, got ${list.length}`,
      );
    }
    if (type === 'StringList') {
      const min = Number(spec.minItems ?? 0);
      const max = Number(spec.maxItems ?? Number.POSITIVE_INFINITY);
      if (list.length < min || list.length > max) {
        throw invalidParameters(
          `Parameter "${name}" of ${documentName} needs ${min}..${max} items, got ${list.length}`,
        );
      }
    }
    for (const value of list) {
      if (type === 'Integer' && !/^-?[0-9]+$/.test(value)) {
        throw invalidParameters(
          `Parameter "${name}" ${origin} ${show(value)} of ${documentName} is not an Integer`,
        );
      }
      if (type === 'Boolean' && value !== 'true' && value !== 'false') {
        throw invalidParameters(
          `Parameter "${name}" ${origin} ${show(value)} of ${documentName} is not a Boolean (true or false)`,
        );
      }
      if (spec.allowedValues && !spec.allowedValues.includes(value)) {
        throw invalidParameters(
          `Parameter "${name}" ${origin} ${show(value)} of ${documentName} is not one of the allowed values ${spec.allowedValues.join(', ')}`,
        );
      }
      if (spec.allowedPattern !== undefined && !new RegExp(spec.allowedPattern).test(value)) {
        throw invalidParameters(
          `Parameter "${name}" ${origin} ${show(value)} of ${documentName} failed to satisfy constraint: must match the allowedPattern ${spec.allowedPattern}`,
        );
      }
      const minChars = Number(spec.minChars ?? 0);
      const maxChars = Number(spec.maxChars ?? Number.POSITIVE_INFINITY);
      if (value.length < minChars || value.length > maxChars) {
        throw invalidParameters(
          `Parameter "${name}" ${origin} of ${documentName} must have ${minChars}..${maxChars} characters, got ${value.length}`,
        );
      }
      if (/\{\{\s*ssm(-secure)?:/.test(value)) {
        throw new StatesError(
          statesErrorNames.runtime,
          `local SSM executor: parameter ${name} of ${documentName} references Parameter Store, which is not modelled locally`,
          { terminal: true },
        );
      }
    }
    values[name] = list;
  }
  return values;
}

/** The single Linux `aws:runShellScript` step of a schema 2.2 document. */
function shellStep(documentName: string, content: JsonObject): ShellStep {
  const unsupported = (why: string) =>
    new StatesError(statesErrorNames.runtime, `local SSM executor cannot run ${documentName}: ${why}`, {
      terminal: true,
    });
  if (content.schemaVersion !== '2.2' || !Array.isArray(content.mainSteps)) {
    throw unsupported('only schemaVersion 2.2 documents with mainSteps are supported');
  }
  const steps = content.mainSteps.filter((step): step is JsonObject => {
    if (!isJsonObject(step)) return false;
    const condition = step.precondition;
    if (condition === undefined) return true;
    const equals = isJsonObject(condition) ? condition.StringEquals : undefined;
    if (!Array.isArray(equals) || equals[0] !== 'platformType') {
      throw unsupported(`step ${String(step.name)} has a precondition other than StringEquals platformType`);
    }
    return equals[1] === 'Linux';
  });
  const [step] = steps;
  if (steps.length !== 1 || !step || step.action !== 'aws:runShellScript' || !isJsonObject(step.inputs)) {
    throw unsupported('it must have exactly one aws:runShellScript step for Linux');
  }
  const inputs = step.inputs;
  const runCommand = typeof inputs.runCommand === 'string' ? [inputs.runCommand] : inputs.runCommand;
  if (!Array.isArray(runCommand) || runCommand.some((line) => typeof line !== 'string')) {
    throw unsupported('inputs.runCommand must be a string or a list of strings');
  }
  return {
    name: String(step.name),
    runCommand: runCommand as string[],
    timeoutSeconds: inputs.timeoutSeconds as string | number | undefined,
    workingDirectory: typeof inputs.workingDirectory === 'string' ? inputs.workingDirectory : undefined,
  };
}

/** Replaces `{{ name }}` with the parameter's value (lists one per line), as the agent does. */
function substitute(text: string, values: Readonly<Record<string, readonly string[]>>): string {
  return text.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (whole, name: string) => {
    const value = values[name];
    return value ? value.join('\n') : whole;
  });
}

function executionTimeout(
  documentName: string,
  step: ShellStep,
  values: Readonly<Record<string, readonly string[]>>,
): number {
  if (step.timeoutSeconds === undefined) return 3600;
  const text = substitute(String(step.timeoutSeconds), values).trim();
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 172_800) {
    throw invalidParameters(
      `timeoutSeconds of ${documentName} resolved to ${show(text)}: give an integer from 1 to 172800`,
    );
  }
  return seconds;
}

/** Keeps the first `limit` characters of a stream (what SSM returns inline). */
class CappedText {
  private value = '';

  constructor(private readonly limit: number) {}

  append(chunk: string): void {
    if (this.value.length < this.limit) this.value += chunk.slice(0, this.limit - this.value.length);
  }

  text(): string {
    return this.value;
  }
}

/** Splits a text stream into lines. */
class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(text: string): void {
    this.pending += text;
    let at = this.pending.indexOf('\n');
    while (at >= 0) {
      this.onLine(this.pending.slice(0, at));
      this.pending = this.pending.slice(at + 1);
      at = this.pending.indexOf('\n');
    }
  }

  flush(): void {
    if (this.pending) this.onLine(this.pending);
    this.pending = '';
  }
}
