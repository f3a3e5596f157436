import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JsonPath,
  Pass,
  Succeed,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { ArchiveState } from '../functions/core/contract/archive.js';
import { pathsOf } from '../functions/core/contract/json-path.js';
import { lambdaStep } from './steps.js';

/** Typed paths into the archive's state. */
const $ = pathsOf<ArchiveState>();

/** The Lambdas the archive state machine drives. */
export interface ArchiveFunctions {
  readonly archivePlan: IFunction;
  readonly archiveCopy: IFunction;
  readonly archiveCommit: IFunction;
}

/**
 * The archive state machine (README, "Archive"), started by the "Backup Completed" event: Plan Archive
 * (exactly that backup's objects, listed in the archive) → Copy To Archive, looped until done (hashed in
 * flight; already-archived objects referenced; an interrupted run resumes) → Commit Archive (the
 * archive manifest, last). Any failure ends in Archive Failed (alarmed); the primary vault is only read.
 */
export function archiveDefinition(
  scope: Construct,
  props: { readonly functions: ArchiveFunctions },
): DefinitionBody {
  const fns = props.functions;
  const catchAll = { errors: ['States.ALL'], resultPath: $('error') };
  const failed = new Fail(scope, 'Archive Failed', {
    errorPath: $('error', 'Error'),
    causePath: $('error', 'Cause'),
  });

  const plan = lambdaStep(
    scope,
    'Plan Archive',
    fns.archivePlan,
    { backupId: JsonPath.stringAt($('detail', 'backupId')) },
    $('plan'),
  );
  plan.addCatch(failed, catchAll);
  const start = new Pass(scope, 'Start Copy', {
    result: { value: { cursor: 0, done: false, copiedObjects: 0, copiedBytes: 0, referencedObjects: 0 } },
    resultPath: $('progress'),
  });
  const copy = lambdaStep(
    scope,
    'Copy To Archive',
    fns.archiveCopy,
    { plan: JsonPath.objectAt($('plan')), progress: JsonPath.objectAt($('progress')) },
    $('progress'),
  );
  copy.addCatch(failed, catchAll);
  const commit = lambdaStep(
    scope,
    'Commit Archive',
    fns.archiveCommit,
    {
      plan: JsonPath.objectAt($('plan')),
      progress: JsonPath.objectAt($('progress')),
      clusterName: JsonPath.stringAt($('detail', 'clusterName')),
    },
    $('manifest'),
  );
  commit.addCatch(failed, catchAll);
  commit.next(new Succeed(scope, 'Archived', { outputPath: $('manifest') }));
  copy.next(
    new Choice(scope, 'All Copied?')
      .when(Condition.booleanEquals($('progress', 'done'), true), commit)
      .otherwise(copy),
  );
  const already = new Choice(scope, 'Already Archived?')
    .when(
      Condition.booleanEquals($('plan', 'alreadyArchived'), true),
      new Succeed(scope, 'Was Archived', { outputPath: $('plan') }),
    )
    .otherwise(start.next(copy));
  return DefinitionBody.fromChainable(plan.next(already));
}
