import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AslDefinition, JsonObject, JsonValue } from '../../local/runner/asl.js';
import { localControlPlane } from '../../local/runner/control-plane.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';

/**
 * `.waitForTaskToken` Tasks in the local runner: the token reaches the integration, and the Task
 * ends when SendTaskSuccess/Failure arrives through the local control plane (called with the real
 * Step Functions SDK client, as a Lambda would), or with States.Timeout / States.HeartbeatTimeout.
 */
describe('runner: .waitForTaskToken tasks', () => {
  let sfn: SFNClient;
  beforeAll(async () => {
    const plane = await localControlPlane();
    sfn = new SFNClient({
      endpoint: plane.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(() => sfn?.destroy());

  const callback = (extra: JsonObject = {}): AslDefinition => ({
    StartAt: 'Run',
    States: {
      Run: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: { FunctionName: 'Sender', Payload: { 'token.$': '$$.Task.Token', 'job.$': '$.job' } },
        ResultPath: '$.result',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
        End: true,
        ...extra,
      },
      Caught: { Type: 'Pass', End: true },
    },
  });

  /** Binds the Task's integration: receives the token, then does `then` with it (the "host"). */
  const sender = (then: (token: string) => Promise<void>) => {
    const seen: JsonValue[] = [];
    return {
      seen,
      states: {
        Run: (input: JsonValue) => {
          seen.push(input);
          const token = String((input as { Payload: { token: string } }).Payload.token);
          setTimeout(() => void then(token).catch(() => undefined), 50);
          return { StatusCode: 202 };
        },
      },
    };
  };

  it('gives the integration the token and takes SendTaskSuccess output as the result', async () => {
    const bound = sender(async (token) => {
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ ok: 1 }) }));
    });

    const result = await runStateMachine({
      definition: callback(),
      input: { job: 'snapshot' },
      bindings: { states: bound.states },
    });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(result.output).toEqual({ job: 'snapshot', result: { ok: 1 } });
    const payload = (bound.seen[0] as { Payload: { token: string; job: string } }).Payload;
    expect(payload.job).toBe('snapshot');
    expect(payload.token.length).toBeGreaterThan(100);
    // Started, TaskStateEntered, Scheduled, Started, Submitted, Succeeded, TaskStateExited, Succeeded.
    expect(result.historyEvents).toBe(8);
  });

  it('fails the Task with SendTaskFailure error and cause, which Catch sees', async () => {
    const bound = sender(async (token) => {
      await sfn.send(
        new SendTaskFailureCommand({
          taskToken: token,
          error: 'HostCommandError',
          cause: 'mi-1: disk full — free space',
        }),
      );
    });

    const result = await runStateMachine({
      definition: callback(),
      input: { job: 'x' },
      bindings: { states: bound.states },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({
      error: { Error: 'HostCommandError', Cause: 'mi-1: disk full — free space' },
    });
  });

  it('times out with States.Timeout when nobody answers, and refuses a late answer with TaskTimedOut', async () => {
    let late: unknown;
    const bound = sender(async (token) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      late = await sfn
        .send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))
        .then(() => 'accepted')
        .catch((error: Error) => error.name);
    });

    const result = await runStateMachine({
      definition: callback({ TimeoutSeconds: 1 }),
      input: { job: 'x' },
      bindings: { states: bound.states },
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    expect(result.output).toMatchObject({ error: { Error: 'States.Timeout' } });
    expect(late).toBe('TaskTimedOut');
  });

  it('ends with States.HeartbeatTimeout without heartbeats, and keeps waiting while they come', async () => {
    const silent = sender(async () => undefined);
    const beating = sender(async (token) => {
      for (let i = 0; i < 6; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
      }
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '"done"' }));
    });
    const definition = callback({ HeartbeatSeconds: 1, TimeoutSeconds: 30 });

    const dead = await runStateMachine({
      definition,
      input: { job: 'x' },
      bindings: { states: silent.states },
    });
    const alive = await runStateMachine({
      definition,
      input: { job: 'x' },
      bindings: { states: beating.states },
    });

    expect(dead.output).toMatchObject({ error: { Error: 'States.HeartbeatTimeout' } });
    expect(alive.status).toBe('SUCCEEDED');
    expect(alive.output).toMatchObject({ result: 'done' });
  });

  it('rejects a token it never issued with InvalidToken', async () => {
    const error = await sfn
      .send(new SendTaskSuccessCommand({ taskToken: 'made-up', output: '{}' }))
      .catch((e: Error) => e.name);
    expect(['InvalidToken', 'TaskTimedOut']).toContain(error);
  });
});
