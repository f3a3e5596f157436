import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  type IChainable,
  JsonPath,
  Map as MapState,
  Parallel,
  Pass,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { EventBridgePutEvents } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { errorNames } from '../functions/core/errors.js';
import { hostCommandFactory } from './host-command.js';
import { batchFanOut, componentBranch, lambdaStep } from './steps.js';

/** The Lambdas the backup state machine drives. */
export interface BackupFunctions {
  readonly prepare: IFunction;
  readonly commandResult: IFunction;
  readonly evaluatePreflight: IFunction;
  readonly checkMinio: IFunction;
  readonly verifyArchive: IFunction;
  readonly finalizeNode: IFunction;
  readonly planMinio: IFunction;
  readonly copyBatch: IFunction;
  readonly finalizeMinio: IFunction;
  readonly commit: IFunction;
  readonly markFailed: IFunction;
}

/** What {@link backupDefinition} is built from. */
export interface BackupDefinitionProps {
  readonly functions: BackupFunctions;
  readonly documents: {
    readonly preflight: string;
    readonly cassandraSnapshot: string;
    readonly cassandraClearSnapshot: string;
    readonly wireServerArchive: string;
  };
  readonly vault: IBucket;
  /** ARNs the state machine may send documents to (documents and managed instances). */
  readonly sendCommandResources: string[];
  /** Seconds between SSM polls. @default 5 */
  readonly pollSeconds?: number;
  /** Parallel MinIO batch copies. @default 20 */
  readonly copyConcurrency?: number;
}

/**
 * The backup state machine: Prepare → Preflight → (wire-server ∥ Cassandra ∥ MinIO) → clear
 * snapshots → Commit (manifest written last). Any failure clears the snapshots and writes a
 * `failed` marker; no manifest means no backup.
 */
export function backupDefinition(scope: Construct, props: BackupDefinitionProps): DefinitionBody {
  const fns = props.functions;
  const command = hostCommandFactory(scope, {
    commandResultFn: fns.commandResult,
    sendCommandResources: props.sendCommandResources,
    pollSeconds: props.pollSeconds,
  });

  // ---- failure path: clear snapshots (best effort on every node), failed marker, Fail.
  const failed = new Fail(scope, 'Backup Failed', {
    errorPath: '$.failure.error',
    causePath: '$.failure.cause',
  });
  const markFailed = lambdaStep(
    scope,
    'Mark Failed',
    fns.markFailed,
    { plan: JsonPath.objectAt('$.plan'), error: JsonPath.objectAt('$.error') },
    '$.failure',
  );
  markFailed.next(failed);
  const clearOnFailure = clearSnapshots('On Failure', command);
  clearOnFailure.next(markFailed);
  const catchAll = { errors: ['States.ALL'], resultPath: '$.error' };

  // ---- 1. Prepare
  const prepare = lambdaStep(
    scope,
    'Prepare',
    fns.prepare,
    { input: JsonPath.objectAt('$'), execution: JsonPath.stringAt('$$.Execution.Id') },
    '$.plan',
  );
  // Nothing to clean before a plan exists: a bad input fails straight away.
  const rejected = new Fail(scope, 'Input Rejected', {
    error: errorNames.invalidInput,
    causePath: '$.error.Cause',
  });
  prepare.addCatch(rejected, { errors: [errorNames.invalidInput], resultPath: '$.error' });
  prepare.addCatch(markFailed, catchAll);

  // ---- 2. Preflight: every Cassandra node, the deploy host, MinIO buckets.
  const nodePreflight = command(
    'Node Preflight',
    props.documents.preflight,
    '$.node.instanceId',
    { role: 'cassandra', dataDir: '$.node.dataDir', vaultBucket: '$.vaultBucket' },
    '$.result',
  );
  const nodeUnreachable = new Pass(scope, 'Node Preflight Failed', {
    parameters: { 'node.$': '$.node', 'error.$': '$.error' },
  });
  nodePreflight.addCatch(nodeUnreachable, catchAll);
  nodePreflight.end.next(
    new Pass(scope, 'Node Preflight Ok', { parameters: { 'node.$': '$.node', 'result.$': '$.result' } }),
  );
  const nodesPreflight = new MapState(scope, 'Preflight Nodes', {
    itemsPath: '$.plan.cassandra.nodes',
    itemSelector: {
      'node.$': '$$.Map.Item.Value',
      'vaultBucket.$': '$.plan.vaultBucket',
    },
  });
  nodesPreflight.itemProcessor(nodePreflight.start);

  const hostPreflight = command(
    'Deploy Host Preflight',
    props.documents.preflight,
    '$.plan.wireServer.instanceId',
    { role: 'wireServer', wireServerPath: '$.plan.wireServer.path', vaultBucket: '$.plan.vaultBucket' },
    '$.deployHost',
  );
  const minioPreflight = lambdaStep(
    scope,
    'Check MinIO',
    fns.checkMinio,
    { plan: JsonPath.objectAt('$.plan') },
    '$.minio',
  );
  const preflight = new Parallel(scope, 'Preflight', { resultPath: '$.preflight' })
    .branch(nodesPreflight)
    .branch(componentBranch(scope, 'wireServer', 'Deploy Host', hostPreflight.start))
    .branch(componentBranch(scope, 'minio', 'MinIO', minioPreflight));
  preflight.addCatch(markFailed, catchAll);
  const evaluate = lambdaStep(
    scope,
    'Evaluate Preflight',
    fns.evaluatePreflight,
    { plan: JsonPath.objectAt('$.plan'), preflight: JsonPath.objectAt('$.preflight') },
    '$.plan',
  );
  evaluate.addCatch(markFailed, catchAll);

  // ---- 3a. wire-server folder
  const archive = command(
    'Archive wire-server',
    props.documents.wireServerArchive,
    '$.plan.wireServer.instanceId',
    {
      wireServerPath: '$.plan.wireServer.path',
      vaultBucket: '$.plan.vaultBucket',
      archiveKey: '$.plan.wireServer.archiveKey',
      compressionLevel: '$.plan.wireServer.compressionLevel',
    },
    '$.archive',
  );
  const verifyArchive = lambdaStep(
    scope,
    'Verify wire-server Archive',
    fns.verifyArchive,
    { plan: JsonPath.objectAt('$.plan'), archive: JsonPath.objectAt('$.archive') },
    '$.wireServer',
  );
  archive.end.next(verifyArchive);
  verifyArchive.next(new Pass(scope, 'wire-server Done', { outputPath: '$.wireServer' }));

  // ---- 3b. Cassandra: snapshot + differential upload on every node, then its manifest.
  const snapshot = command(
    'Snapshot Node',
    props.documents.cassandraSnapshot,
    '$.node.instanceId',
    {
      backupId: '$.backupId',
      keyspaces: '$.keyspaces',
      dataDir: '$.node.dataDir',
      vaultBucket: '$.vaultBucket',
      clusterName: '$.clusterName',
      instanceId: '$.node.instanceId',
      previousFilesKey: '$.node.previousFilesKey',
      previousHostId: '$.node.previousHostId',
      captureSchema: '$.node.captureSchema',
      countRows: '$.node.countRows',
    },
    '$.snapshot',
  );
  const finalizeNode = lambdaStep(
    scope,
    'Finalize Node',
    fns.finalizeNode,
    {
      backupId: JsonPath.stringAt('$.backupId'),
      vaultBucket: JsonPath.stringAt('$.vaultBucket'),
      clusterName: JsonPath.stringAt('$.clusterName'),
      node: JsonPath.objectAt('$.node'),
      snapshot: JsonPath.objectAt('$.snapshot'),
    },
    '$.manifest',
  );
  snapshot.end.next(finalizeNode);
  finalizeNode.next(new Pass(scope, 'Node Done', { outputPath: '$.manifest' }));
  const nodes = new MapState(scope, 'Back Up Nodes', {
    itemsPath: '$.plan.cassandra.nodes',
    itemSelector: {
      'node.$': '$$.Map.Item.Value',
      'backupId.$': '$.plan.backupId',
      'keyspaces.$': '$.plan.cassandra.keyspaces',
      'vaultBucket.$': '$.plan.vaultBucket',
      'clusterName.$': '$.plan.clusterName',
    },
    maxConcurrency: 0,
  });
  nodes.itemProcessor(snapshot.start);

  // ---- 3c. MinIO: plan (list + diff + batch files), Distributed Map over the batches, manifests.
  const planMinio = lambdaStep(
    scope,
    'Plan MinIO',
    fns.planMinio,
    { plan: JsonPath.objectAt('$.plan') },
    '$.minioPlan',
  );
  const copyAll = batchFanOut(scope, {
    id: 'Copy Objects',
    batchStep: 'Copy Batch',
    fn: fns.copyBatch,
    idField: 'backupId',
    vault: props.vault,
    ...(props.copyConcurrency === undefined ? {} : { maxConcurrency: props.copyConcurrency }),
  });
  const finalizeMinio = lambdaStep(
    scope,
    'Finalize MinIO',
    fns.finalizeMinio,
    { plan: JsonPath.objectAt('$.plan'), minioPlan: JsonPath.objectAt('$.minioPlan') },
    '$.minioResult',
  );
  const anyBatches = new Choice(scope, 'Anything To Copy?')
    .when(Condition.numberGreaterThan('$.minioPlan.batches', 0), copyAll.next(finalizeMinio))
    .otherwise(finalizeMinio);
  planMinio.next(anyBatches);
  finalizeMinio.next(new Pass(scope, 'MinIO Done', { outputPath: '$.minioResult' }));

  const work = new Parallel(scope, 'Back Up', { resultPath: '$.results' })
    .branch(componentBranch(scope, 'wireServer', 'wire-server', archive.start))
    .branch(componentBranch(scope, 'cassandra', 'Cassandra', nodes))
    .branch(componentBranch(scope, 'minio', 'MinIO Copy', planMinio));
  work.addCatch(clearOnFailure.start, catchAll);

  // ---- 4. Clear snapshots, verify and commit (manifest last).
  const clearOnSuccess = clearSnapshots('After Backup', command);
  const commit = lambdaStep(
    scope,
    'Commit',
    fns.commit,
    { plan: JsonPath.objectAt('$.plan'), results: JsonPath.objectAt('$.results') },
    '$.summary',
  );
  commit.addCatch(markFailed, catchAll);
  clearOnSuccess.next(commit);
  // Other workflows (the cross-region archive copy) and alerting start from this event.
  const announce = new EventBridgePutEvents(scope, 'Announce Backup', {
    entries: [
      {
        source: 'wire-backup',
        detailType: 'Backup Completed',
        detail: TaskInput.fromObject({
          backupId: JsonPath.stringAt('$.summary.backupId'),
          manifestKey: JsonPath.stringAt('$.summary.manifestKey'),
          vaultBucket: JsonPath.stringAt('$.plan.vaultBucket'),
          clusterName: JsonPath.stringAt('$.plan.clusterName'),
        }),
      },
    ],
    resultPath: JsonPath.DISCARD,
  });
  announce.addRetry({ errors: ['EventBridge.EventBridgeException', 'States.TaskFailed'], maxAttempts: 3 });
  // The backup is committed: a lost announcement must not turn it into a failure.
  const announced = new Succeed(scope, 'Backup Complete', { outputPath: '$.summary' });
  announce.addCatch(announced, { errors: ['States.ALL'], resultPath: JsonPath.DISCARD });
  commit.next(announce).next(announced);

  const definition = prepare.next(preflight).next(evaluate).next(work);
  work.next(clearOnSuccess.start);
  return DefinitionBody.fromChainable(definition);

  /** Map over every node running clearsnapshot; a node that fails to clear is reported, not fatal. */
  function clearSnapshots(label: string, run: typeof command) {
    const clear = run(
      `Clear Snapshot ${label}`,
      props.documents.cassandraClearSnapshot,
      '$.node.instanceId',
      { backupId: '$.backupId', dataDir: '$.node.dataDir' },
      '$.cleared',
    );
    const notCleared = new Pass(scope, `Snapshot Not Cleared ${label}`, {
      parameters: { 'instanceId.$': '$.node.instanceId', 'error.$': '$.clearError' },
    });
    clear.addCatch(notCleared, { errors: ['States.ALL'], resultPath: '$.clearError' });
    clear.end.next(
      new Pass(scope, `Snapshot Cleared ${label}`, {
        parameters: { 'instanceId.$': '$.node.instanceId', cleared: true },
      }),
    );
    const map = new MapState(scope, `Clear Snapshots ${label}`, {
      itemsPath: '$.plan.cassandra.nodes',
      itemSelector: {
        'node.$': '$$.Map.Item.Value',
        'backupId.$': '$.plan.backupId',
      },
      resultPath: '$.snapshotsCleared',
    });
    map.itemProcessor(clear.start);
    const selected = new Choice(scope, `Clear Snapshots ${label}?`);
    const next = new Pass(scope, `Snapshots Handled ${label}`);
    selected
      .when(Condition.booleanEquals('$.plan.components.cassandra', true), map.next(next))
      .otherwise(next);
    return { start: selected, next: (s: IChainable) => next.next(s) };
  }
}
