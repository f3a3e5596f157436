import { describe, expect, it } from 'vitest';
import type { AslDefinition } from '../../local/runner/asl.js';
import { maxHistoryEvents } from '../../local/runner/history.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';

/** The runner counts the history as Step Functions does and enforces its 25,000-event limit. */
describe('runner: execution history', () => {
  it('counts each state’s events as Step Functions records them', async () => {
    const definition: AslDefinition = {
      StartAt: 'Work',
      States: {
        Work: { Type: 'Task', Resource: 'arn:aws:states:::local:work', ResultPath: '$.work', Next: 'Each' },
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemProcessor: { StartAt: 'Item', States: { Item: { Type: 'Pass', End: true } } },
          ResultPath: '$.each',
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };

    const result = await runStateMachine({
      definition,
      input: { items: [1, 2] },
      bindings: { resources: { 'arn:aws:states:::local:work': () => ({ ok: true }) } },
    });

    expect(result.status).toBe('SUCCEEDED');
    // ExecutionStarted 1; Task: Entered, Scheduled, Started, Succeeded, Exited 5; Map: Entered,
    // Started 2 + per item (IterationStarted, PassEntered, PassExited, IterationSucceeded) 8 +
    // Succeeded, Exited 2; Succeed: Entered, Exited 2; ExecutionSucceeded 1.
    expect(result.historyEvents).toBe(21);
  });

  it('costs a polling loop (Wait → Task → Choice) 9 events per poll', async () => {
    let polls = 0;
    const definition: AslDefinition = {
      StartAt: 'Wait',
      States: {
        Wait: { Type: 'Wait', Seconds: 5, Next: 'Poll' },
        Poll: {
          Type: 'Task',
          Resource: 'arn:aws:states:::local:poll',
          ResultPath: '$.status',
          Next: 'Done?',
        },
        'Done?': {
          Type: 'Choice',
          Choices: [{ Variable: '$.status', StringEquals: 'InProgress', Next: 'Wait' }],
          Default: 'Finished',
        },
        Finished: { Type: 'Succeed' },
      },
    };
    const run = (times: number) => {
      polls = 0;
      return runStateMachine({
        definition,
        maxWaitSeconds: 0,
        bindings: {
          resources: {
            'arn:aws:states:::local:poll': () => {
              polls += 1;
              return polls < times ? 'InProgress' : 'Success';
            },
          },
        },
      });
    };

    const ten = await run(10);
    const twenty = await run(20);

    expect(twenty.historyEvents - ten.historyEvents).toBe(10 * 9);
  });

  it('fails an execution past 25,000 events with States.Runtime, which no Catch sees', async () => {
    const definition: AslDefinition = {
      StartAt: 'Guarded',
      States: {
        Guarded: {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'Spin',
              States: {
                Spin: { Type: 'Pass', Result: true, ResultPath: '$.spin', Next: 'Again?' },
                'Again?': {
                  Type: 'Choice',
                  Choices: [{ Variable: '$.spin', BooleanEquals: true, Next: 'Spin' }],
                  Default: 'Stop',
                },
                Stop: { Type: 'Succeed' },
              },
            },
          ],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    };

    const result = await runStateMachine({ definition, bindings: {} });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toBe('The execution reached the maximum number of history events (25000).');
    expect(result.historyEvents).toBe(maxHistoryEvents);
    expect(result.events.some((e) => e.state === 'Caught')).toBe(false);
  }, 120_000);
});
