/**
 * MOCK OF THE AWS CONTROL PLANE for Lambda code: a local HTTP endpoint speaking the AWS JSON
 * protocol of two services, so a function's bundle calls them with its real AWS SDK clients:
 * - Systems Manager (`AmazonSSM.SendCommand`, `AmazonSSM.GetCommandInvocation`) → the run's
 *   {@link SsmApi} (the local SSM executor, itself the mock of SSM's control plane);
 *   `AmazonSSM.GetParameter` → the template's SSM parameters (`extract.ts`), as deployed;
 * - Step Functions (`AWSStepFunctions.SendTaskSuccess`, `SendTaskFailure`, `SendTaskHeartbeat`) →
 *   the run's task tokens (`task-tokens.ts`); `DescribeExecution` → the process's registry of
 *   executions ({@link recordExecution}: every run of `runStateMachine`, RUNNING until it ends).
 * The runner gives every function `AWS_ENDPOINT_URL_SSM` and `AWS_ENDPOINT_URL_SFN` pointing here
 * (the SDK's own variables). With IAM enforced (`ControlPlaneRun.authorize`, from `iam/index.ts`),
 * each call is evaluated against the calling function's role, named by the access key id of its
 * credentials, as AWS would: `ssm:SendCommand` on the document and each instance,
 * `ssm:GetCommandInvocation` on `*`, `states:SendTask*` on the token's state machine,
 * `states:DescribeExecution` on the execution, `ssm:GetParameter` on the parameter; a denied call
 * gets `AccessDeniedException`. Signatures are not verified; nothing else of AWS is served.
 *
 * One server per process, on one port for the process's life (so warm Lambda containers keep their
 * environment between runs); runs attach while they run. SSM requests go to the attached run that
 * has an SSM executor; with several (a second run started while one runs), GetCommandInvocation goes
 * to the run whose executor sent the command, and SendCommand to the one run with a task waiting for
 * its token (the send function runs inside a `.waitForTaskToken` task; two such runs at once are
 * refused with a clear error). Task-token requests go to the run that issued the token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonValue } from './asl.js';
import type { ExtractedParameter } from './extract.js';
import type { SsmApi } from './run-state-machine.js';
import type { GetCommandInvocationInput, SendCommandInput } from './ssm-executor.js';
import { TaskTokenApiError, type TaskTokenRegistry } from './task-tokens.js';

/**
 * IAM of a control-plane call: the caller is named by the access key id of its SigV4 credentials
 * (undefined when the request is unsigned). Returns AWS's error for a call the caller may not make.
 */
export type ControlPlaneAuthorizer = (
  accessKeyId: string | undefined,
  action: string,
  resource: string,
  /** Condition keys of the request (a SendCommand target's `ssm:resourceTag/<key>`). */
  context?: Readonly<Record<string, string>>,
) => { readonly code: string; readonly message: string } | undefined;

/** What a run serves through the control plane. */
export interface ControlPlaneRun {
  readonly ssm?: SsmApi | undefined;
  readonly tokens: TaskTokenRegistry;
  /** ARN of the run's state machine: the resource of SendTask* calls for its tokens. */
  readonly stateMachineArn: string;
  /** Checks every call this run serves. @default - no IAM checks */
  readonly authorize?: ControlPlaneAuthorizer;
  /** The template's SSM parameters, by name. @default - none */
  readonly parameters?: Readonly<Record<string, ExtractedParameter>>;
}

/** An execution as `DescribeExecution` reports it. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  readonly startDate: Date;
  stopDate?: Date;
}

/** Every execution `runStateMachine` ran in this process, by ARN (Step Functions keeps them 90 days). */
const executions = new Map<string, ExecutionRecord>();

/** Records an execution (RUNNING when it starts; the same object is updated when it ends). */
export function recordExecution(record: ExecutionRecord): void {
  executions.set(record.executionArn, record);
}

/** The process's control plane endpoint. */
export interface LocalControlPlane {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The environment variables that point a function's SDK clients here. */
  readonly environment: Readonly<Record<string, string>>;
  /** Serves `run` until the returned function is called. */
  attach(run: ControlPlaneRun): () => void;
}

/** An AWS API error: HTTP 400 with `__type`. */
class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let started: Promise<LocalControlPlane> | undefined;

/** The process's control plane (started at the first call). */
export function localControlPlane(): Promise<LocalControlPlane> {
  started ??= start();
  return started;
}

async function start(): Promise<LocalControlPlane> {
  const runs = new Set<ControlPlaneRun>();
  const server: Server = createServer((request, response) => {
    void serve(runs, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // The server must not keep the process alive once the tests or the CLI are done.
  server.unref();
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    environment: { AWS_ENDPOINT_URL_SSM: url, AWS_ENDPOINT_URL_SFN: url },
    attach(run) {
      runs.add(run);
      return () => runs.delete(run);
    },
  };
}

async function serve(runs: Set<ControlPlaneRun>, request: IncomingMessage, response: ServerResponse) {
  const target = String(request.headers['x-amz-target'] ?? '');
  const contentType = target.startsWith('AmazonSSM.')
    ? 'application/x-amz-json-1.1'
    : 'application/x-amz-json-1.0';
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown>;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new ApiError('SerializationException', `request body of ${target} is not JSON`);
    }
    const accessKeyId = /Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1];
    const result = await dispatch(runs, target, body, accessKeyId);
    response.writeHead(200, { 'content-type': contentType });
    response.end(JSON.stringify(result));
  } catch (error) {
    const { code, message } = toApiError(error);
    response.writeHead(400, { 'content-type': contentType });
    response.end(JSON.stringify({ __type: code, message }));
  }
}

async function dispatch(
  runs: Set<ControlPlaneRun>,
  target: string,
  body: Record<string, unknown>,
  accessKeyId: string | undefined,
): Promise<JsonValue> {
  switch (target) {
    case 'AmazonSSM.SendCommand': {
      const run = ssmRunOf(runs, (r) => r.tokens.waiting > 0);
      const input = body as unknown as SendCommandInput;
      for (const { resource, tags } of sendCommandResources(run.stateMachineArn, input, run.ssm))
        authorize(run, accessKeyId, 'ssm:SendCommand', resource, tags);
      const output = await run.ssm.sendCommand(input);
      // SendCommand's dates are timestamps (epoch seconds in the JSON protocol).
      const command = output.Command;
      return {
        Command: {
          ...command,
          RequestedDateTime: Date.parse(command.RequestedDateTime) / 1000,
          ExpiresAfter: Date.parse(command.ExpiresAfter) / 1000,
        },
      } as unknown as JsonValue;
    }
    case 'AmazonSSM.GetCommandInvocation': {
      const commandId = String(body.CommandId ?? '');
      const run = ssmRunOf(runs, (r) => r.ssm?.hasCommand?.(commandId) ?? true);
      // GetCommandInvocation has no resource-level permissions: IAM matches it on "*".
      authorize(run, accessKeyId, 'ssm:GetCommandInvocation', `${arnBase('ssm', run.stateMachineArn)}:*`);
      return (await run.ssm.getCommandInvocation(
        body as unknown as GetCommandInvocationInput,
      )) as unknown as JsonValue;
    }
    case 'AmazonSSM.GetParameter': {
      const name = typeof body.Name === 'string' ? body.Name : '';
      const run = [...runs].find((r) => r.parameters && name in r.parameters) ?? [...runs][0];
      if (!run) throw new ApiError('InternalServerError', 'no local run is running');
      // IAM names a parameter `parameter/<name without its leading slash>`.
      const arn = `${arnBase('ssm', run.stateMachineArn)}:parameter/${name.replace(/^\//, '')}`;
      authorize(run, accessKeyId, 'ssm:GetParameter', arn);
      const parameter = run.parameters?.[name];
      if (!parameter) throw new ApiError('ParameterNotFound', `Parameter ${name} not found.`);
      return {
        Parameter: {
          Name: name,
          Type: parameter.type,
          Value: parameter.value,
          Version: 1,
          ARN: arn,
          DataType: 'text',
        },
      };
    }
    case 'AWSStepFunctions.DescribeExecution': {
      const executionArn = typeof body.executionArn === 'string' ? body.executionArn : '';
      if (!/^arn:aws:states:[^:]+:[0-9]{12}:execution:[^:]+:[^:]+$/.test(executionArn))
        throw new ApiError('InvalidArn', `Invalid Arn: '${executionArn}'`);
      // Any attached run's authorizer: they all evaluate the caller's own role.
      const run = [...runs][0];
      if (!run) throw new ApiError('InternalServerError', 'no local run is running');
      authorize(run, accessKeyId, 'states:DescribeExecution', executionArn);
      const record = executions.get(executionArn);
      if (!record) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: record.status,
        // Timestamps are epoch seconds in the JSON protocol.
        startDate: record.startDate.getTime() / 1000,
        ...(record.stopDate ? { stopDate: record.stopDate.getTime() / 1000 } : {}),
      };
    }
    case 'AWSStepFunctions.SendTaskSuccess':
      tokenRunOf(runs, body.taskToken, accessKeyId, 'states:SendTaskSuccess').tokens.succeed(
        String(body.taskToken),
        String(body.output ?? ''),
      );
      return {};
    case 'AWSStepFunctions.SendTaskFailure':
      tokenRunOf(runs, body.taskToken, accessKeyId, 'states:SendTaskFailure').tokens.fail(
        String(body.taskToken),
        typeof body.error === 'string' ? body.error : undefined,
        typeof body.cause === 'string' ? body.cause : undefined,
      );
      return {};
    case 'AWSStepFunctions.SendTaskHeartbeat':
      tokenRunOf(runs, body.taskToken, accessKeyId, 'states:SendTaskHeartbeat').tokens.heartbeat(
        String(body.taskToken),
      );
      return {};
    default:
      throw new ApiError(
        'UnknownOperationException',
        `the local control plane serves SSM SendCommand/GetCommandInvocation/GetParameter and Step Functions SendTask*/DescribeExecution; not ${target || 'a request without X-Amz-Target'}`,
      );
  }
}

/** The run an SSM request goes to: the only one with an executor, else the only one `mine` picks. */
function ssmRunOf(
  runs: Set<ControlPlaneRun>,
  mine: (run: ControlPlaneRun) => boolean,
): ControlPlaneRun & { readonly ssm: SsmApi } {
  const withExecutor = [...runs].filter((run) => run.ssm);
  const serving = withExecutor.length > 1 ? withExecutor.filter(mine) : withExecutor;
  const [only] = serving;
  if (serving.length === 1 && only?.ssm) return { ...only, ssm: only.ssm };
  throw new ApiError(
    'InternalServerError',
    serving.length === 0
      ? 'no local run with an SSM executor is running (bindings.ssm)'
      : 'more than one local run with an SSM executor runs in this process: run them one after the other',
  );
}

/** The run that issued `token`, once `action` on its state machine is authorized for the caller. */
function tokenRunOf(
  runs: Set<ControlPlaneRun>,
  token: unknown,
  accessKeyId: string | undefined,
  action: string,
): ControlPlaneRun {
  if (typeof token !== 'string' || token === '') throw new ApiError('InvalidToken', 'taskToken is required');
  for (const run of runs) {
    if (!run.tokens.owns(token)) continue;
    authorize(run, accessKeyId, action, run.stateMachineArn);
    return run;
  }
  // A token of a run that ended: AWS says the task no longer exists.
  throw new ApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
}

function authorize(
  run: ControlPlaneRun,
  accessKeyId: string | undefined,
  action: string,
  resource: string,
  context?: Readonly<Record<string, string>>,
) {
  const denied = run.authorize?.(accessKeyId, action, resource, context);
  if (denied) throw new ApiError(denied.code, denied.message);
}

/** `arn:aws:<service>:<region>:<account>` of the run's region and account. */
function arnBase(service: string, stateMachineArn: string): string {
  const [, , , region, account] = stateMachineArn.split(':');
  return `arn:aws:${service}:${region}:${account}`;
}

/**
 * The resources IAM authorizes a SendCommand on: the document and each target instance, with the
 * instance's tags as `ssm:resourceTag/<key>` condition keys.
 */
function sendCommandResources(
  stateMachineArn: string,
  input: SendCommandInput,
  executor: SsmApi,
): { resource: string; tags?: Record<string, string> }[] {
  const ssm = arnBase('ssm', stateMachineArn);
  const ec2 = arnBase('ec2', stateMachineArn);
  return [
    { resource: `${ssm}:document/${input.DocumentName}` },
    ...(input.InstanceIds ?? []).map((id) => ({
      resource: id.startsWith('mi-') ? `${ssm}:managed-instance/${id}` : `${ec2}:instance/${id}`,
      tags: Object.fromEntries(
        Object.entries(executor.instanceTags?.(id) ?? {}).map(([key, value]) => [
          `ssm:resourceTag/${key}`,
          value,
        ]),
      ),
    })),
  ];
}

/** SSM errors carry Step Functions' names (`Ssm.InvalidInstanceIdException`); the API's code is `InvalidInstanceId`. */
function toApiError(error: unknown): { code: string; message: string } {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  if (error instanceof TaskTokenApiError) return { code: error.name, message: error.message };
  const name = (error as { name?: string }).name ?? 'InternalServerError';
  const message = (error as { message?: string }).message ?? String(error);
  const ssm = /^Ssm\.(.+?)(Exception)?$/.exec(name);
  return { code: ssm?.[1] ?? name, message };
}
