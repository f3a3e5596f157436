import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WireBackupConfig } from '../lib/config.js';
import { runLocal } from './local-run.js';
import type { JsonValue } from './runner/asl.js';
import type { RunnerEvent } from './runner/events.js';
import type { StackInfo } from './stack-info.js';

/**
 * MOCK of the AWS control plane: the Step Functions API (JSON 1.0 protocol, `X-Amz-Target:
 * AWSStepFunctions.<Operation>`) served over HTTP in-process, in front of the local runner. The CLI's
 * deployed path talks to it through the real `@aws-sdk/client-sfn` with the endpoint overridden
 * (`AWS_ENDPOINT_URL_SFN`), so what is tested is the CLI's own AWS code: StartExecution,
 * DescribeExecution, GetExecutionHistory (paged), ListExecutions. Executions run the synthesized
 * definitions with `runLocal`; the runner's progress events become history events.
 */

interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  readonly history: Record<string, unknown>[];
}

/** Options of {@link startLocalSfnApi}. */
export interface LocalSfnApiOptions {
  readonly stack: StackInfo;
  readonly config?: WireBackupConfig;
  /** Region in the ARNs. @default the vault's region */
  readonly region?: string;
}

/** A running local Step Functions API. */
export interface LocalSfnApi {
  readonly endpoint: string;
  /** The ARN the API gives a state machine of the stack (`wire-backup`, `wire-restore`, …). */
  stateMachineArn(name: string): string;
  close(): Promise<void>;
}

const account = '000000000000';

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function historyEvent(execution: Execution, event: RunnerEvent): Record<string, unknown> | undefined {
  const base = {
    timestamp: event.timestamp / 1000,
    id: execution.history.length + 1,
    previousEventId: execution.history.length,
  };
  const prefix = event.stateType ?? 'Task';
  switch (event.type) {
    case 'StateEntered':
      return {
        ...base,
        type: `${prefix}StateEntered`,
        stateEnteredEventDetails: { name: event.state ?? '' },
      };
    case 'StateExited':
      return { ...base, type: `${prefix}StateExited`, stateExitedEventDetails: { name: event.state ?? '' } };
    case 'StateFailed':
      return {
        ...base,
        type: 'TaskFailed',
        taskFailedEventDetails: { error: event.error ?? '', cause: event.cause ?? '' },
      };
    default:
      return undefined;
  }
}

/** Starts the API on 127.0.0.1 (a free port). */
export async function startLocalSfnApi(options: LocalSfnApiOptions): Promise<LocalSfnApi> {
  const region = options.region ?? options.stack.vault.region;
  const arnOf = (name: string) => `arn:aws:states:${region}:${account}:stateMachine:${name}`;
  const nameOf = (arn: string) => {
    const match = /^arn:aws:states:[^:]+:\d+:stateMachine:([A-Za-z0-9_-]+)$/.exec(arn);
    if (!match?.[1]) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    return match[1];
  };
  const executions = new Map<string, Execution>();
  const running = new Set<Promise<void>>();

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution(body) {
      const stateMachineArn = String(body.stateMachineArn ?? '');
      const machine = nameOf(stateMachineArn);
      const name = String(body.name ?? randomUUID());
      const executionArn = `arn:aws:states:${region}:${account}:execution:${machine}:${name}`;
      if (executions.has(executionArn))
        throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      const input = String(body.input ?? '{}');
      const execution: Execution = {
        executionArn,
        stateMachineArn,
        name,
        input,
        startDate: Date.now() / 1000,
        status: 'RUNNING',
        history: [],
      };
      execution.history.push({ id: 1, timestamp: execution.startDate, type: 'ExecutionStarted' });
      executions.set(executionArn, execution);
      const run = runLocal({
        stateMachine: machine,
        input: JSON.parse(input) as JsonValue,
        stack: options.stack,
        ...(options.config ? { config: options.config } : {}),
        executionName: name,
        onEvent: (event) => {
          const h = historyEvent(execution, event);
          if (h) execution.history.push(h);
        },
      }).then(
        (result) => {
          execution.status =
            result.status === 'SUCCEEDED'
              ? 'SUCCEEDED'
              : result.status === 'TIMED_OUT'
                ? 'TIMED_OUT'
                : result.status === 'ABORTED'
                  ? 'ABORTED'
                  : 'FAILED';
          if (result.output !== undefined) execution.output = JSON.stringify(result.output);
          if (result.error) execution.error = result.error;
          if (result.cause) execution.cause = result.cause;
          execution.stopDate = Date.now() / 1000;
          execution.history.push({
            id: execution.history.length + 1,
            timestamp: execution.stopDate,
            type: `Execution${execution.status === 'SUCCEEDED' ? 'Succeeded' : 'Failed'}`,
          });
        },
        (error: unknown) => {
          execution.status = 'FAILED';
          execution.error = 'States.Runtime';
          execution.cause = (error as Error).message;
          execution.stopDate = Date.now() / 1000;
        },
      );
      const tracked = run.finally(() => running.delete(tracked));
      running.add(tracked);
      return { executionArn, startDate: execution.startDate };
    },
    DescribeExecution(body) {
      const e = executions.get(String(body.executionArn));
      if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${body.executionArn}'`);
      return {
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        input: e.input,
        ...(e.stopDate ? { stopDate: e.stopDate } : {}),
        ...(e.output !== undefined ? { output: e.output } : {}),
        ...(e.error ? { error: e.error } : {}),
        ...(e.cause ? { cause: e.cause } : {}),
      };
    },
    GetExecutionHistory(body) {
      const e = executions.get(String(body.executionArn));
      if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${body.executionArn}'`);
      const max = Math.min(Number(body.maxResults ?? 100) || 100, 1000);
      const from = body.nextToken ? Number(body.nextToken) : 0;
      const events = e.history.slice(from, from + max);
      const next = from + events.length;
      return { events, ...(next < e.history.length ? { nextToken: String(next) } : {}) };
    },
    ListExecutions(body) {
      const arn = String(body.stateMachineArn ?? '');
      const list = [...executions.values()]
        .filter((e) => e.stateMachineArn === arn && (!body.statusFilter || e.status === body.statusFilter))
        .map((e) => ({
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate,
        }));
      return { executions: list };
    },
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.replace(/^AWSStepFunctions\./, '');
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(body));
      };
      try {
        const handler = operations[operation];
        if (!handler)
          throw new ApiError(
            'UnknownOperationException',
            `the local Step Functions API does not serve ${operation}`,
          );
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        reply(200, handler(body));
      } catch (error) {
        const type = error instanceof ApiError ? error.type : 'InternalFailure';
        reply(400, { __type: `com.amazonaws.sfn#${type}`, message: (error as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stateMachineArn: arnOf,
    async close() {
      await Promise.allSettled([...running]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
