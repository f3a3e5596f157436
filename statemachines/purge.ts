import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Choice, Condition, DefinitionBody, Fail, JsonPath, Succeed } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { pathsOf } from '../functions/core/contract/json-path.js';
import type { PurgeState } from '../functions/core/contract/purge.js';
import { lambdaStep } from './steps.js';

/** Typed paths into the purge's state. */
const $ = pathsOf<PurgeState>();

/** The Lambdas the purge state machine drives. */
export interface PurgeFunctions {
  readonly purgePlan: IFunction;
  readonly purgeDelete: IFunction;
  readonly purgeReport: IFunction;
}

/** What {@link purgeDefinition} is built from. */
export interface PurgeDefinitionProps {
  readonly functions: PurgeFunctions;
}

/**
 * The purge state machine (README, "Retention"): Plan Purge (retention decisions, references read
 * from the kept backups' manifests, deletion list written; nothing deleted) → stop on a dry run or
 * an empty list → Delete Expired (manifests first, exact versions, Object Lock never bypassed) →
 * Purge Report. Any failure writes a failed report; nothing is deleted after a failed plan.
 */
export function purgeDefinition(scope: Construct, props: PurgeDefinitionProps): DefinitionBody {
  const fns = props.functions;
  const catchAll = { errors: ['States.ALL'], resultPath: $('error') };
  const failed = new Fail(scope, 'Purge Failed', {
    errorPath: $('error', 'Error'),
    causePath: $('error', 'Cause'),
  });

  const plan = lambdaStep(scope, 'Plan Purge', fns.purgePlan, { input: JsonPath.objectAt('$') }, $('plan'));
  const planFailed = lambdaStep(
    scope,
    'Report Failed Plan',
    fns.purgeReport,
    { error: JsonPath.objectAt($('error')) },
    $('report'),
  );
  planFailed.next(failed);
  plan.addCatch(planFailed, catchAll);

  const remove = lambdaStep(
    scope,
    'Delete Expired',
    fns.purgeDelete,
    { planKey: JsonPath.stringAt($('plan', 'planKey')) },
    $('deleted'),
  );
  // PurgeConflictError (a restore started meanwhile) deleted nothing; the next purge tries again.
  const deleteFailed = lambdaStep(
    scope,
    'Report Failed Delete',
    fns.purgeReport,
    { plan: JsonPath.objectAt($('plan')), error: JsonPath.objectAt($('error')) },
    $('report'),
  );
  deleteFailed.next(failed);
  remove.addCatch(deleteFailed, catchAll);

  const done = new Succeed(scope, 'Purge Done', { outputPath: $('report') });
  const reportDeleted = lambdaStep(
    scope,
    'Purge Report',
    fns.purgeReport,
    { plan: JsonPath.objectAt($('plan')), deleted: JsonPath.objectAt($('deleted')) },
    $('report'),
  );
  const reportPlanned = lambdaStep(
    scope,
    'Report Without Deleting',
    fns.purgeReport,
    { plan: JsonPath.objectAt($('plan')) },
    $('report'),
  );
  reportDeleted.next(done);
  reportPlanned.next(done);
  reportDeleted.addCatch(failed, catchAll);
  reportPlanned.addCatch(failed, catchAll);

  const anything = new Choice(scope, 'Anything To Delete?')
    .when(Condition.booleanEquals($('plan', 'dryRun'), true), reportPlanned)
    .when(Condition.numberEquals($('plan', 'deletions'), 0), reportPlanned)
    .otherwise(remove.next(reportDeleted));
  return DefinitionBody.fromChainable(plan.next(anything));
}
