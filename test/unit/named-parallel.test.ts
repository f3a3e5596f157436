import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DefinitionBody, type IChainable, Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { pathsOf } from '../../functions/core/contract/json-path.js';
import type { AslDefinition } from '../../local/runner/asl.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { namedParallel } from '../../statemachines/steps.js';

interface Results {
  readonly wireServer: string;
  readonly cassandra: string;
  readonly minio: string;
}
interface State {
  readonly results: Results;
}

/** Synthesizes a Parallel of three Pass branches added in `order`, returns its ASL. */
function definitionWithBranchOrder(order: readonly (keyof Results)[]): AslDefinition {
  const stack = new Stack(new App(), 'Test');
  const branch = (name: keyof Results): IChainable =>
    new Pass(stack, name, { result: { value: `${name} result` } });
  const branches = Object.fromEntries(order.map((name) => [name, branch(name)])) as Record<
    keyof Results,
    IChainable
  >;
  const parallel = namedParallel<Results>(stack, 'Work', branches, pathsOf<State>()('results'));
  new StateMachine(stack, 'Machine', { definitionBody: DefinitionBody.fromChainable(parallel) });
  const [machine] = Object.values(
    Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'),
  );
  return JSON.parse(machine?.Properties.DefinitionString) as AslDefinition;
}

describe('namedParallel', () => {
  it('keys each branch result by name, whatever the order the branches are added in', async () => {
    // Arrange
    const forward = definitionWithBranchOrder(['wireServer', 'cassandra', 'minio']);
    const swapped = definitionWithBranchOrder(['minio', 'wireServer', 'cassandra']);
    const firstBranch = (d: AslDefinition) =>
      JSON.stringify(d).match(/"Branches":\[\{"StartAt":"(\w+)"/)?.[1];

    // Act
    const runs = await Promise.all(
      [forward, swapped].map((definition) =>
        runStateMachine({ definition, input: {}, bindings: { functions: [] } }),
      ),
    );

    // Assert: the branches really are in other orders, and the results are the same by name.
    expect([firstBranch(forward), firstBranch(swapped)]).toEqual(['wireServer', 'minio']);
    for (const run of runs) {
      expect(run.status).toBe('SUCCEEDED');
      expect(run.output).toEqual({
        results: { wireServer: 'wireServer result', cassandra: 'cassandra result', minio: 'minio result' },
      });
    }
  });
});
