import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JsonPath,
  Map as MapState,
  Pass,
  Result,
  Succeed,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { mapItem, pathsOf, selectFields } from '../functions/core/contract/json-path.js';
import type {
  RestoreChecks,
  RestoreNodeAssignment,
  RestoreResults,
} from '../functions/core/contract/restore.js';
import type {
  RestoreNodeItem,
  RestoreNodeItemState,
  RestoreState,
  RestoreTarget,
  TargetItem,
  TargetItemState,
} from '../functions/core/contract/states.js';
import { errorNames } from '../functions/core/errors.js';
import { hostCommandFactory, hostParam } from './host-command.js';
import { batchFanOut, componentBranch, lambdaStep, namedParallel } from './steps.js';

/** Typed paths into the restore's state and its Map iterations. */
const $ = pathsOf<RestoreState>();
const $target = pathsOf<TargetItemState>();
const $node = pathsOf<RestoreNodeItemState>();

/** The Lambdas the restore state machine drives. */
export interface RestoreFunctions {
  readonly restorePrepare: IFunction;
  /** `host-command-send` (the `.waitForTaskToken` Lambda of every host command). */
  readonly hostCommand: IFunction;
  readonly restoreCheckTargets: IFunction;
  readonly restorePlanMinio: IFunction;
  readonly restoreCopyBatch: IFunction;
  readonly restoreVerify: IFunction;
  readonly restoreReport: IFunction;
}

/** What {@link restoreDefinition} is built from. */
export interface RestoreDefinitionProps {
  readonly functions: RestoreFunctions;
  readonly documents: {
    readonly preflight: string;
    readonly restoreWireServer: string;
    readonly restoreCassandraSchema: string;
    readonly restoreCassandraNode: string;
    readonly cassandraCountRows: string;
    readonly postgresqlRestore: string;
  };
  readonly vault: IBucket;
  readonly copyConcurrency?: number;
}

/**
 * The restore state machine: validate and plan (incomplete backups, a wrong confirmation refused) →
 * check every target with dry runs (nothing written; a non-empty target or a node down refuses) →
 * stop on dryRun → wire-server ∥ Cassandra (schema, then each node's files) ∥ MinIO (exact versions)
 * → verify → report.
 */
export function restoreDefinition(scope: Construct, props: RestoreDefinitionProps): DefinitionBody {
  const fns = props.functions;
  const command = hostCommandFactory(scope, { sendFn: fns.hostCommand });
  const catchAll = { errors: ['States.ALL'], resultPath: $('error') };
  const refused = new Fail(scope, 'Restore Refused', {
    errorPath: $('error', 'Error'),
    causePath: $('error', 'Cause'),
  });
  const failed = new Fail(scope, 'Restore Failed', {
    errorPath: $('error', 'Error'),
    causePath: $('error', 'Cause'),
  });

  // ---- 1. Validate, resolve the backup, plan.
  const prepare = lambdaStep(
    scope,
    'Plan Restore',
    fns.restorePrepare,
    { input: JsonPath.objectAt('$'), execution: JsonPath.stringAt('$$.Execution.Id') },
    $('plan'),
  );
  prepare.addCatch(refused, catchAll);

  // ---- 2. Check every target before anything is written.
  const targetPreflight = (id: string) =>
    command(
      id,
      props.documents.preflight,
      $target('target', 'instanceId'),
      {
        role: hostParam.literal('cassandra'),
        dataDir: hostParam.text($target('target', 'dataDir')),
        vaultBucket: hostParam.text($target('vaultBucket')),
      },
      $target('result'),
    );
  const targetItems = selectFields<TargetItem>({
    target: mapItem<RestoreTarget>(),
    vaultBucket: $('plan', 'vaultBucket'),
  });
  const checkedTarget = { 'target.$': $target('target'), 'result.$': $target('result') };
  const nodeCheck = targetPreflight('Check Target Node');
  nodeCheck.end.next(new Pass(scope, 'Target Node Checked', { parameters: checkedTarget }));
  const nodeChecks = new MapState(scope, 'Check Target Nodes', {
    itemsPath: $('plan', 'cassandra', 'targets'),
    itemSelector: targetItems,
    resultPath: $('nodeChecks'),
  });
  nodeChecks.itemProcessor(nodeCheck.start);
  // The same documents check (dry run: writes nothing) and then restore.
  // The host scripts download the backup from where the plan reads it (the vault, or the archive).
  const schemaParameters = (dryRun: boolean) => ({
    vaultBucket: hostParam.text($('plan', 'sourceBucket')),
    schemaKey: hostParam.text($('plan', 'cassandra', 'schemaKey')),
    keyspaces: hostParam.text($('plan', 'cassandra', 'keyspaces')),
    overwrite: hostParam.value($('plan', 'overwrite')),
    dryRun: hostParam.literal(String(dryRun)),
  });
  const folderParameters = (dryRun: boolean) => ({
    vaultBucket: hostParam.text($('plan', 'sourceBucket')),
    archiveKey: hostParam.text($('plan', 'wireServer', 'archiveKey')),
    versionId: hostParam.text($('plan', 'wireServer', 'versionId')),
    readFrom: hostParam.text($('plan', 'source')),
    sha256: hostParam.text($('plan', 'wireServer', 'sha256')),
    targetPath: hostParam.text($('plan', 'wireServer', 'targetPath')),
    overwrite: hostParam.value($('plan', 'overwrite')),
    restoreOwnership: hostParam.value($('plan', 'wireServer', 'restoreOwnership')),
    dryRun: hostParam.literal(String(dryRun)),
  });
  const schemaCheck = command(
    'Check Schema Target',
    props.documents.restoreCassandraSchema,
    $('plan', 'cassandra', 'schemaInstanceId'),
    schemaParameters(true),
    $('schemaCheck'),
  );
  nodeChecks.next(schemaCheck.start);
  schemaCheck.end.next(
    new Pass(scope, 'Cassandra Targets Checked', {
      parameters: { 'nodes.$': $('nodeChecks'), 'schema.$': $('schemaCheck') },
    }),
  );
  const folderCheck = command(
    'Check wire-server Target',
    props.documents.restoreWireServer,
    $('plan', 'wireServer', 'instanceId'),
    folderParameters(true),
    $('folderCheck'),
  );
  folderCheck.end.next(new Pass(scope, 'wire-server Target Checked', { outputPath: $('folderCheck') }));
  const bucketCheck = lambdaStep(
    scope,
    'Check Target Buckets',
    fns.restoreCheckTargets,
    { plan: JsonPath.objectAt($('plan')) },
    $('bucketCheck'),
  );
  bucketCheck.next(new Pass(scope, 'Buckets Checked', { outputPath: $('bucketCheck') }));
  // PostgreSQL: the archive covers the backup's start to its target without a gap, the target data
  // directory is empty (or overwrite): the restore script with checkOnly writes nothing.
  const postgresqlParameters = (checkOnly: boolean) => ({
    restoreId: hostParam.text($('plan', 'restoreId')),
    vaultBucket: hostParam.text($('plan', 'vaultBucket')),
    baseKey: hostParam.text($('plan', 'postgresql', 'baseKey')),
    baseSha256: hostParam.text($('plan', 'postgresql', 'baseSha256')),
    labelKey: hostParam.text($('plan', 'postgresql', 'labelKey')),
    rowCountsKey: hostParam.text($('plan', 'postgresql', 'rowCountsKey')),
    walPrefix: hostParam.text($('plan', 'postgresql', 'walPrefix')),
    timeline: hostParam.value($('plan', 'postgresql', 'timeline')),
    startWalFile: hostParam.text($('plan', 'postgresql', 'startWalFile')),
    countsLsn: hostParam.text($('plan', 'postgresql', 'countsLsn')),
    stopTime: hostParam.text($('plan', 'postgresql', 'stopTime')),
    targetTime: hostParam.text($('plan', 'postgresql', 'targetTime')),
    dataDir: hostParam.text($('plan', 'postgresql', 'dataDir')),
    port: hostParam.value($('plan', 'postgresql', 'port')),
    socketDir: hostParam.text($('plan', 'postgresql', 'socketDir')),
    osUser: hostParam.text($('plan', 'postgresql', 'osUser')),
    binDir: hostParam.text($('plan', 'postgresql', 'binDir')),
    overwrite: hostParam.value($('plan', 'overwrite')),
    archive: hostParam.value($('plan', 'postgresql', 'archive')),
    checkOnly: hostParam.literal(String(checkOnly)),
    verifyRowCounts: hostParam.text($('plan', 'postgresql', 'verifyRowCounts')),
  });
  const postgresqlCheck = command(
    'Check PostgreSQL Target',
    props.documents.postgresqlRestore,
    $('plan', 'postgresql', 'instanceId'),
    postgresqlParameters(true),
    $('postgresqlCheck'),
  );
  postgresqlCheck.end.next(
    new Pass(scope, 'PostgreSQL Target Checked', { outputPath: $('postgresqlCheck') }),
  );
  const checks = namedParallel<RestoreChecks>(
    scope,
    'Check Targets',
    {
      wireServer: componentBranch(scope, 'wireServer', 'Check wire-server', folderCheck.start),
      cassandra: componentBranch(scope, 'cassandra', 'Check Cassandra', nodeChecks),
      minio: componentBranch(scope, 'minio', 'Check MinIO', bucketCheck),
      postgresql: componentBranch(scope, 'postgresql', 'Check PostgreSQL', postgresqlCheck.start),
    },
    $('checks'),
  );
  checks.addCatch(refused, catchAll);
  const verifyTargets = lambdaStep(
    scope,
    'Evaluate Targets',
    fns.restoreVerify,
    { phase: 'targets', plan: JsonPath.objectAt($('plan')), checks: JsonPath.objectAt($('checks')) },
    $('targets'),
  );
  verifyTargets.addCatch(refused, catchAll);

  // ---- 3. Dry run stops here, having written nothing.
  const dryReport = lambdaStep(
    scope,
    'Dry Run Report',
    fns.restoreReport,
    { plan: JsonPath.objectAt($('plan')), checks: JsonPath.objectAt($('checks')) },
    $('report'),
  );
  dryReport.next(new Succeed(scope, 'Dry Run Complete', { outputPath: $('report') }));

  // ---- 4. Restore.
  const folder = command(
    'Restore wire-server',
    props.documents.restoreWireServer,
    $('plan', 'wireServer', 'instanceId'),
    folderParameters(false),
    $('folder'),
  );
  folder.end.next(new Pass(scope, 'wire-server Restored', { outputPath: $('folder') }));

  const schema = command(
    'Restore Schema',
    props.documents.restoreCassandraSchema,
    $('plan', 'cassandra', 'schemaInstanceId'),
    schemaParameters(false),
    $('schema'),
  );
  const node = command(
    'Restore Node',
    props.documents.restoreCassandraNode,
    $node('node', 'instanceId'),
    {
      vaultBucket: hostParam.text($node('sourceBucket')),
      readFrom: hostParam.text($node('source')),
      sourceHostId: hostParam.text($node('node', 'sourceHostId')),
      sstablePrefix: hostParam.text($node('node', 'sstablePrefix')),
      filesKey: hostParam.text($node('node', 'filesKey')),
      keyspaces: hostParam.text($node('keyspaces')),
      mode: hostParam.text($node('mode')),
      loadTargets: hostParam.text($node('loadTargets')),
      stagingDir: hostParam.text($node('node', 'stagingDir')),
      dataDir: hostParam.text($node('node', 'dataDir')),
      dryRun: hostParam.literal('false'),
    },
    $node('loaded'),
  );
  node.end.next(
    new Pass(scope, 'Node Restored', {
      parameters: {
        'sourceName.$': $node('node', 'sourceName'),
        'instanceId.$': $node('node', 'instanceId'),
        'loaded.$': $node('loaded'),
      },
    }),
  );
  // sstableloader streams to the whole cluster: load one source node at a time.
  const nodes = new MapState(scope, 'Restore Nodes', {
    itemsPath: $('plan', 'cassandra', 'nodes'),
    itemSelector: selectFields<RestoreNodeItem>({
      node: mapItem<RestoreNodeAssignment>(),
      source: $('plan', 'source'),
      sourceBucket: $('plan', 'sourceBucket'),
      clusterName: $('plan', 'clusterName'),
      keyspaces: $('plan', 'cassandra', 'keyspaces'),
      mode: $('plan', 'cassandra', 'mode'),
      loadTargets: $('plan', 'cassandra', 'loadTargets'),
    }),
    maxConcurrency: 1,
    resultPath: $('nodes'),
  });
  nodes.itemProcessor(node.start);
  schema.end.next(nodes);
  nodes.next(
    new Pass(scope, 'Cassandra Restored', { parameters: { 'schema.$': $('schema'), 'nodes.$': $('nodes') } }),
  );

  const planMinio = lambdaStep(
    scope,
    'Plan Object Restore',
    fns.restorePlanMinio,
    { plan: JsonPath.objectAt($('plan')) },
    $('minioPlan'),
  );
  const copyAll = batchFanOut(scope, {
    id: 'Restore Objects',
    batchStep: 'Restore Batch',
    fn: fns.restoreCopyBatch,
    idField: 'restoreId',
    vault: props.vault,
    ...(props.copyConcurrency === undefined ? {} : { maxConcurrency: props.copyConcurrency }),
  });
  const objectsDone = new Pass(scope, 'Objects Restored', { outputPath: $('minioPlan') });
  planMinio.next(
    new Choice(scope, 'Objects To Restore?')
      .when(Condition.numberGreaterThan($('minioPlan', 'batches'), 0), copyAll.next(objectsDone))
      .otherwise(objectsDone),
  );

  const postgresqlRestore = command(
    'Restore PostgreSQL',
    props.documents.postgresqlRestore,
    $('plan', 'postgresql', 'instanceId'),
    postgresqlParameters(false),
    $('postgresqlRestore'),
  );
  postgresqlRestore.end.next(new Pass(scope, 'PostgreSQL Restored', { outputPath: $('postgresqlRestore') }));

  const work = namedParallel<RestoreResults>(
    scope,
    'Restore',
    {
      wireServer: componentBranch(scope, 'wireServer', 'Restore wire-server?', folder.start),
      cassandra: componentBranch(scope, 'cassandra', 'Restore Cassandra?', schema.start),
      minio: componentBranch(scope, 'minio', 'Restore MinIO?', planMinio),
      postgresql: componentBranch(scope, 'postgresql', 'Restore PostgreSQL?', postgresqlRestore.start),
    },
    $('results'),
  );
  const report = lambdaStep(
    scope,
    'Restore Report',
    fns.restoreReport,
    {
      plan: JsonPath.objectAt($('plan')),
      results: JsonPath.objectAt($('results')),
      verified: JsonPath.objectAt($('verified')),
    },
    $('report'),
  );
  const failureReport = lambdaStep(
    scope,
    'Failure Report',
    fns.restoreReport,
    { plan: JsonPath.objectAt($('plan')), error: JsonPath.objectAt($('error')) },
    $('report'),
  );
  failureReport.next(failed);
  work.addCatch(failureReport, catchAll);

  // ---- 5. Verify: target nodes UN again, objects and checksums, then the report.
  const recheck = targetPreflight('Recheck Node');
  recheck.end.next(new Pass(scope, 'Node Rechecked', { parameters: checkedTarget }));
  const rechecks = new MapState(scope, 'Recheck Nodes', {
    itemsPath: $('plan', 'cassandra', 'targets'),
    itemSelector: targetItems,
    resultPath: $('rechecks'),
  });
  rechecks.itemProcessor(recheck.start);
  rechecks.addCatch(failureReport, catchAll);
  // Row counts of the tables the backup counted, compared with the backup's by Verify Restore.
  const countRows = command(
    'Count Restored Rows',
    props.documents.cassandraCountRows,
    $('plan', 'cassandra', 'schemaInstanceId'),
    {
      vaultBucket: hostParam.text($('plan', 'vaultBucket')),
      countsKey: hostParam.text($('plan', 'cassandra', 'rowCounts', 'backupKey')),
      countsBucket: hostParam.text($('plan', 'sourceBucket')),
      keyspaces: hostParam.text($('plan', 'cassandra', 'keyspaces')),
      outputKey: hostParam.text($('plan', 'cassandra', 'rowCounts', 'restoredKey')),
      consistency: hostParam.text($('plan', 'cassandra', 'rowCounts', 'consistency')),
    },
    $('rowCounts'),
  );
  countRows.addCatch(failureReport, catchAll);
  const verify = lambdaStep(
    scope,
    'Verify Restore',
    fns.restoreVerify,
    {
      phase: 'restored',
      plan: JsonPath.objectAt($('plan')),
      results: JsonPath.objectAt($('results')),
      rechecks: JsonPath.objectAt($('rechecks')),
      rowCounts: JsonPath.objectAt($('rowCounts')),
    },
    $('verified'),
  );
  verify.addCatch(failureReport, catchAll);
  countRows.end.next(verify);
  const noRowCounts = new Pass(scope, 'No Row Counts', {
    result: Result.fromObject({ skipped: true }),
    resultPath: $('rowCounts'),
  });
  noRowCounts.next(verify);
  const needRowCounts = new Choice(scope, 'Count Rows?')
    .when(Condition.isNotNull($('plan', 'cassandra', 'rowCounts')), countRows.start)
    .otherwise(noRowCounts);
  const noRecheck = new Pass(scope, 'No Cassandra To Recheck', {
    result: { value: [] },
    resultPath: $('rechecks'),
  });
  const needRecheck = new Choice(scope, 'Recheck Cassandra?')
    .when(Condition.booleanEquals($('plan', 'components', 'cassandra'), true), rechecks.next(needRowCounts))
    .otherwise(noRecheck.next(noRowCounts));
  report.next(new Succeed(scope, 'Restore Complete', { outputPath: $('report') }));
  verify.next(report);

  const isDryRun = new Choice(scope, 'Dry Run?')
    .when(Condition.booleanEquals($('plan', 'dryRun'), true), dryReport)
    .otherwise(work);
  work.next(needRecheck);
  return DefinitionBody.fromChainable(prepare.next(checks).next(verifyTargets).next(isDryRun));
}

/** Error names that refuse a restore before anything is written. */
export const refusalErrors = [errorNames.invalidInput, errorNames.backupNotFound, errorNames.restoreRefused];
