import { Duration } from 'aws-cdk-lib';
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
  Pass,
  Result,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { EventBridgePutEvents } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type {
  BackupResults,
  MinioBucketFinalizeInput,
  MinioBucketPlanInput,
  PlannedNode,
  PlanPartItem,
} from '../functions/core/contract/backup.js';
import { mapItem, mapItemFieldsOf, pathsOf, selectFields } from '../functions/core/contract/json-path.js';
import type {
  BackupState,
  ClearSnapshotItem,
  ClearSnapshotItemState,
  NodePreflightItem,
  NodePreflightItemState,
  SnapshotItem,
  SnapshotItemState,
} from '../functions/core/contract/states.js';
import { errorNames } from '../functions/core/errors.js';
import { defaultSdkRetryPolicy, sdkRetryWindowMs } from '../functions/core/storage-retry.js';
import { hostCommandFactory, hostParam } from './host-command.js';
import {
  batchFanOut,
  componentBranch,
  lambdaStep,
  namedParallel,
  outageRetry,
  type TransientRetry,
} from './steps.js';

/** Typed paths into the backup's state and its Map iterations. */
const $ = pathsOf<BackupState>();
const $node = pathsOf<NodePreflightItemState>();
const $snap = pathsOf<SnapshotItemState>();
const $clear = pathsOf<ClearSnapshotItemState>();

/** The Lambdas the backup state machine drives. */
export interface BackupFunctions {
  readonly prepare: IFunction;
  /** `host-command-send` (the `.waitForTaskToken` Lambda of every host command). */
  readonly hostCommand: IFunction;
  readonly evaluatePreflight: IFunction;
  readonly checkMinio: IFunction;
  readonly verifyArchive: IFunction;
  readonly finalizeNode: IFunction;
  /** Plans one bucket (an iteration of the Plan MinIO Map). */
  readonly planMinio: IFunction;
  /** Writes the copy Distributed Map's index of every bucket's batch files. */
  readonly indexMinioBatches: IFunction;
  readonly copyBatch: IFunction;
  /** Writes one bucket's manifest (an iteration of the Finalize MinIO Map). */
  readonly finalizeMinio: IFunction;
  /** Gathers the buckets' results; fails naming the objects that could not be copied. */
  readonly checkMinioCopies: IFunction;
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
    readonly postgresqlPreflight: string;
    readonly postgresqlBackup: string;
  };
  readonly vault: IBucket;
  /** ARN of the KMS key the wire-server archive is uploaded under (`Vault.archiveKey`). */
  readonly wireServerArchiveKeyArn: string;
  /** Parallel MinIO batch copies. @default 20 */
  readonly copyConcurrency?: number;
  /** Buckets planned (and finalized) at the same time, each by its own Lambda invocation. @default 10 */
  readonly bucketConcurrency?: number;
  /**
   * How long a vault or MinIO outage is ridden out: each Lambda step retries transient storage errors
   * for at least this long (`outageRetry`). @default 5 minutes
   */
  readonly outageBudget?: Duration;
  /**
   * The state machine's timeout: Mark Failed waits for the vault to come back for nearly as long, so
   * the failure is recorded as soon as it can be. @default 12 hours
   */
  readonly runTimeout?: Duration;
}

/**
 * The backup state machine: Prepare → Preflight → (wire-server ∥ Cassandra ∥ MinIO) → clear
 * snapshots → Commit (manifest written last). Any failure clears the snapshots and writes a
 * `failed` marker; no manifest means no backup.
 */
export function backupDefinition(scope: Construct, props: BackupDefinitionProps): DefinitionBody {
  const fns = props.functions;
  const sdkWindowSeconds = sdkRetryWindowMs(defaultSdkRetryPolicy) / 1000;
  const storageRetry = outageRetry((props.outageBudget ?? Duration.minutes(5)).toSeconds(), sdkWindowSeconds);
  // Mark Failed keeps trying until shortly before the execution's timeout; after that, the next run's
  // Prepare marks the run (core/abandoned-runs.ts).
  const markFailedRetry = outageRetry(
    (props.runTimeout ?? Duration.hours(12)).toSeconds() - 1800,
    sdkWindowSeconds,
  );
  /** A Lambda step of the backup: transient storage errors are retried for the outage budget. */
  const step = (
    id: string,
    fn: IFunction,
    payload: Record<string, unknown> | undefined,
    resultPath: string,
    retry: TransientRetry = storageRetry,
  ) => lambdaStep(scope, id, fn, payload, resultPath, retry);
  const command = hostCommandFactory(scope, { sendFn: fns.hostCommand, storageRetry });

  // ---- failure path: clear snapshots (best effort on every node), failed marker, Fail.
  const failed = new Fail(scope, 'Backup Failed', {
    errorPath: $('failure', 'error'),
    causePath: $('failure', 'cause'),
  });
  const markFailed = step(
    'Mark Failed',
    fns.markFailed,
    {
      plan: JsonPath.objectAt($('plan')),
      error: JsonPath.objectAt($('error')),
      outageBudgetSeconds: (props.outageBudget ?? Duration.minutes(5)).toSeconds(),
    },
    $('failure'),
    markFailedRetry,
  );
  markFailed.next(failed);
  // The marker could not be written (the vault stayed unreachable, or refused it): the execution
  // still fails with the step's own error; the next backup's Prepare writes the marker.
  markFailed.addCatch(
    new Fail(scope, 'Backup Failed (Not Marked)', {
      errorPath: $('error', 'Error'),
      causePath: $('error', 'Cause'),
    }),
    { errors: ['States.ALL'], resultPath: JsonPath.DISCARD },
  );
  const clearOnFailure = clearSnapshots('On Failure', command);
  clearOnFailure.next(markFailed);
  const catchAll = { errors: ['States.ALL'], resultPath: $('error') };

  // ---- 1. Prepare
  const prepare = step(
    'Prepare',
    fns.prepare,
    { input: JsonPath.objectAt('$'), execution: JsonPath.stringAt('$$.Execution.Id') },
    $('plan'),
  );
  // Nothing to clean before a plan exists: a bad input fails straight away.
  const rejected = new Fail(scope, 'Input Rejected', {
    error: errorNames.invalidInput,
    causePath: $('error', 'Cause'),
  });
  prepare.addCatch(rejected, { errors: [errorNames.invalidInput], resultPath: $('error') });
  // No plan, so no backup id to mark failed: the execution fails with Prepare's own error.
  const prepareFailed = new Fail(scope, 'Prepare Failed', {
    errorPath: $('error', 'Error'),
    causePath: $('error', 'Cause'),
  });
  prepare.addCatch(prepareFailed, catchAll);

  // ---- 2. Preflight: every Cassandra node, the deploy host, MinIO buckets.
  const nodePreflight = command(
    'Node Preflight',
    props.documents.preflight,
    $node('node', 'instanceId'),
    {
      role: hostParam.literal('cassandra'),
      dataDir: hostParam.text($node('node', 'dataDir')),
      vaultBucket: hostParam.text($node('vaultBucket')),
    },
    $node('result'),
  );
  const nodeUnreachable = new Pass(scope, 'Node Preflight Failed', {
    parameters: { 'node.$': $node('node'), 'error.$': $node('error') },
  });
  nodePreflight.addCatch(nodeUnreachable, catchAll);
  nodePreflight.end.next(
    new Pass(scope, 'Node Preflight Ok', {
      parameters: { 'node.$': $node('node'), 'result.$': $node('result') },
    }),
  );
  const nodesPreflight = new MapState(scope, 'Preflight Nodes', {
    itemsPath: $('plan', 'cassandra', 'nodes'),
    itemSelector: selectFields<NodePreflightItem>({
      node: mapItem<PlannedNode>(),
      vaultBucket: $('plan', 'vaultBucket'),
    }),
  });
  nodesPreflight.itemProcessor(nodePreflight.start);

  const hostPreflight = command(
    'Deploy Host Preflight',
    props.documents.preflight,
    $('plan', 'wireServer', 'instanceId'),
    {
      role: hostParam.literal('wireServer'),
      wireServerPath: hostParam.text($('plan', 'wireServer', 'path')),
      vaultBucket: hostParam.text($('plan', 'vaultBucket')),
    },
    $('deployHost'),
  );
  const minioPreflight = step(
    'Check MinIO',
    fns.checkMinio,
    { plan: JsonPath.objectAt($('plan')) },
    $('minio'),
  );
  // On the primary: archiving on and wire-backup's (else refused), where to read the base backup.
  const postgresqlPreflight = command(
    'PostgreSQL Preflight',
    props.documents.postgresqlPreflight,
    $('plan', 'postgresql', 'primary', 'instanceId'),
    {
      secretName: hostParam.text($('plan', 'postgresql', 'secretName')),
      database: hostParam.text($('plan', 'postgresql', 'database')),
      primary: hostParam.text($('plan', 'postgresql', 'primarySpec')),
      standbys: hostParam.text($('plan', 'postgresql', 'standbySpecs')),
      maxLagBytes: hostParam.value($('plan', 'postgresql', 'maxLagBytes')),
    },
    $('postgresqlPreflight'),
  );
  postgresqlPreflight.end.next(
    new Pass(scope, 'PostgreSQL Preflight Done', { outputPath: $('postgresqlPreflight') }),
  );
  const preflight = namedParallel(
    scope,
    'Preflight',
    {
      // A run without Cassandra (components) contacts no node: its preflight result is an empty list.
      cassandra: componentBranch(scope, 'cassandra', 'Cassandra Nodes', nodesPreflight, Result.fromArray([])),
      wireServer: componentBranch(scope, 'wireServer', 'Deploy Host', hostPreflight.start),
      minio: componentBranch(scope, 'minio', 'MinIO', minioPreflight),
      postgresql: componentBranch(scope, 'postgresql', 'PostgreSQL Server', postgresqlPreflight.start),
    },
    $('preflight'),
  );
  preflight.addCatch(markFailed, catchAll);
  const evaluate = step(
    'Evaluate Preflight',
    fns.evaluatePreflight,
    { plan: JsonPath.objectAt($('plan')), preflight: JsonPath.objectAt($('preflight')) },
    $('plan'),
  );
  evaluate.addCatch(markFailed, catchAll);

  // ---- 3a. wire-server folder
  const archive = command(
    'Archive wire-server',
    props.documents.wireServerArchive,
    $('plan', 'wireServer', 'instanceId'),
    {
      wireServerPath: hostParam.text($('plan', 'wireServer', 'path')),
      vaultBucket: hostParam.text($('plan', 'vaultBucket')),
      archiveKey: hostParam.text($('plan', 'wireServer', 'archiveKey')),
      kmsKeyArn: hostParam.literal(props.wireServerArchiveKeyArn),
      compressionLevel: hostParam.value($('plan', 'wireServer', 'compressionLevel')),
    },
    $('archive'),
  );
  const verifyArchive = step(
    'Verify wire-server Archive',
    fns.verifyArchive,
    { plan: JsonPath.objectAt($('plan')), archive: JsonPath.objectAt($('archive')) },
    $('wireServer'),
  );
  archive.end.next(verifyArchive);
  verifyArchive.next(new Pass(scope, 'wire-server Done', { outputPath: $('wireServer') }));

  // ---- 3b. Cassandra: snapshot + differential upload on every node, then its manifest.
  const snapshot = command(
    'Snapshot Node',
    props.documents.cassandraSnapshot,
    $snap('node', 'instanceId'),
    {
      backupId: hostParam.text($snap('backupId')),
      keyspaces: hostParam.text($snap('keyspaces')),
      dataDir: hostParam.text($snap('node', 'dataDir')),
      vaultBucket: hostParam.text($snap('vaultBucket')),
      clusterName: hostParam.text($snap('clusterName')),
      instanceId: hostParam.text($snap('node', 'instanceId')),
      previousFilesKey: hostParam.text($snap('node', 'previousFilesKey')),
      previousHostId: hostParam.text($snap('node', 'previousHostId')),
      sstablePrefix: hostParam.text($snap('sstableClusterPrefix')),
      inventoryKey: hostParam.text($snap('node', 'inventoryKey')),
      nodeInfoKey: hostParam.text($snap('node', 'nodeInfoKey')),
      schemaKey: hostParam.text($snap('schemaKey')),
      rowCountsKey: hostParam.text($snap('rowCountsKey')),
      captureSchema: hostParam.value($snap('node', 'captureSchema')),
      countRows: hostParam.value($snap('node', 'countRows')),
      uploadMaxBandwidthMBps: hostParam.value($snap('node', 'uploadMaxBandwidthMBps')),
    },
    $snap('snapshot'),
  );
  const finalizeNode = step(
    'Finalize Node',
    fns.finalizeNode,
    {
      backupId: JsonPath.stringAt($snap('backupId')),
      vaultBucket: JsonPath.stringAt($snap('vaultBucket')),
      clusterName: JsonPath.stringAt($snap('clusterName')),
      node: JsonPath.objectAt($snap('node')),
      snapshot: JsonPath.objectAt($snap('snapshot')),
    },
    $snap('manifest'),
  );
  snapshot.end.next(finalizeNode);
  finalizeNode.next(new Pass(scope, 'Node Done', { outputPath: $snap('manifest') }));
  const nodes = new MapState(scope, 'Back Up Nodes', {
    itemsPath: $('plan', 'cassandra', 'nodes'),
    itemSelector: selectFields<SnapshotItem>({
      node: mapItem<PlannedNode>(),
      backupId: $('plan', 'backupId'),
      keyspaces: $('plan', 'cassandra', 'keyspaces'),
      vaultBucket: $('plan', 'vaultBucket'),
      clusterName: $('plan', 'clusterName'),
      sstableClusterPrefix: $('plan', 'cassandra', 'sstableClusterPrefix'),
      schemaKey: $('plan', 'cassandra', 'schemaKey'),
      rowCountsKey: $('plan', 'cassandra', 'rowCountsKey'),
    }),
    maxConcurrency: 0,
  });
  nodes.itemProcessor(snapshot.start);

  // ---- 3c. MinIO: plan each bucket (list + diff + batch files), index every bucket's batches,
  // Distributed Map over them, then each bucket's manifest; the lists stay in the vault.
  const planBucket = step('Plan MinIO', fns.planMinio, undefined, '$');
  const planPartItem = mapItemFieldsOf<PlanPartItem>();
  const planBuckets = new MapState(scope, 'Plan MinIO Buckets', {
    itemsPath: $('plan', 'minio', 'parts'),
    itemSelector: selectFields<MinioBucketPlanInput>({
      bucket: planPartItem('bucket'),
      part: planPartItem('part'),
      parts: planPartItem('parts'),
      backupId: $('plan', 'backupId'),
      previousManifestKeys: $('plan', 'minio', 'previousManifestKeys'),
      batchMaxObjects: $('plan', 'minio', 'batchMaxObjects'),
      resumeCandidates: $('plan', 'minio', 'resumeCandidates'),
    }),
    maxConcurrency: props.bucketConcurrency ?? 10,
    resultPath: $('minioBucketPlans'),
  });
  planBuckets.itemProcessor(planBucket);
  const indexBatches = step(
    'Index MinIO Batches',
    fns.indexMinioBatches,
    { backupId: JsonPath.stringAt($('plan', 'backupId')), buckets: JsonPath.listAt($('minioBucketPlans')) },
    $('minioPlan'),
  );
  const copyAll = batchFanOut(scope, {
    id: 'Copy Objects',
    batchStep: 'Copy Batch',
    fn: fns.copyBatch,
    idField: 'backupId',
    vault: props.vault,
    retry: storageRetry,
    ...(props.copyConcurrency === undefined ? {} : { maxConcurrency: props.copyConcurrency }),
  });
  const finalizeBucket = step('Finalize MinIO', fns.finalizeMinio, undefined, '$');
  const finalizeBuckets = new MapState(scope, 'Finalize MinIO Buckets', {
    itemsPath: $('plan', 'minio', 'buckets'),
    itemSelector: selectFields<MinioBucketFinalizeInput>({
      bucket: mapItem<string>(),
      backupId: $('plan', 'backupId'),
      startedAt: $('plan', 'startedAt'),
      planPartObjects: $('plan', 'minio', 'planPartObjects'),
    }),
    maxConcurrency: props.bucketConcurrency ?? 10,
    resultPath: $('minioBuckets'),
  });
  finalizeBuckets.itemProcessor(finalizeBucket);
  const checkCopies = step(
    'Check MinIO Copies',
    fns.checkMinioCopies,
    { buckets: JsonPath.listAt($('minioBuckets')) },
    $('minioResult'),
  );
  const anyBatches = new Choice(scope, 'Anything To Copy?')
    .when(Condition.numberGreaterThan($('minioPlan', 'batches'), 0), copyAll.next(finalizeBuckets))
    .otherwise(finalizeBuckets);
  planBuckets.next(indexBatches).next(anyBatches);
  finalizeBuckets.next(checkCopies);
  checkCopies.next(new Pass(scope, 'MinIO Done', { outputPath: $('minioResult') }));

  // ---- 3d. PostgreSQL: base backup on the server the preflight picked; its WAL is archived continuously.
  const baseBackup = command(
    'PostgreSQL Base Backup',
    props.documents.postgresqlBackup,
    $('plan', 'postgresqlSource', 'source', 'instanceId'),
    {
      backupId: hostParam.text($('plan', 'backupId')),
      vaultBucket: hostParam.text($('plan', 'vaultBucket')),
      baseKey: hostParam.text($('plan', 'postgresql', 'baseKey')),
      labelKey: hostParam.text($('plan', 'postgresql', 'labelKey')),
      rowCountsKey: hostParam.text($('plan', 'postgresql', 'rowCountsKey')),
      walPrefix: hostParam.text($('plan', 'postgresql', 'walPrefix')),
      secretName: hostParam.text($('plan', 'postgresql', 'secretName')),
      database: hostParam.text($('plan', 'postgresql', 'database')),
      host: hostParam.text($('plan', 'postgresqlSource', 'source', 'host')),
      port: hostParam.value($('plan', 'postgresqlSource', 'source', 'port')),
      dataDir: hostParam.text($('plan', 'postgresqlSource', 'source', 'dataDir')),
      primaryHost: hostParam.text($('plan', 'postgresql', 'primary', 'host')),
      primaryPort: hostParam.value($('plan', 'postgresql', 'primary', 'port')),
      walWaitSeconds: hostParam.value($('plan', 'postgresql', 'walWaitSeconds')),
    },
    $('postgresqlBackup'),
  );
  baseBackup.end.next(new Pass(scope, 'PostgreSQL Done', { outputPath: $('postgresqlBackup') }));

  const work = namedParallel<BackupResults>(
    scope,
    'Back Up',
    {
      wireServer: componentBranch(scope, 'wireServer', 'wire-server', archive.start),
      cassandra: componentBranch(scope, 'cassandra', 'Cassandra', nodes),
      minio: componentBranch(scope, 'minio', 'MinIO Copy', planBuckets),
      postgresql: componentBranch(scope, 'postgresql', 'PostgreSQL', baseBackup.start),
    },
    $('results'),
  );
  work.addCatch(clearOnFailure.start, catchAll);

  // ---- 4. Clear snapshots, verify and commit (manifest last).
  const clearOnSuccess = clearSnapshots('After Backup', command);
  const commit = step(
    'Commit',
    fns.commit,
    { plan: JsonPath.objectAt($('plan')), results: JsonPath.objectAt($('results')) },
    $('summary'),
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
          backupId: JsonPath.stringAt($('summary', 'backupId')),
          manifestKey: JsonPath.stringAt($('summary', 'manifestKey')),
          vaultBucket: JsonPath.stringAt($('plan', 'vaultBucket')),
          clusterName: JsonPath.stringAt($('plan', 'clusterName')),
        }),
      },
    ],
    resultPath: JsonPath.DISCARD,
  });
  announce.addRetry({ errors: ['EventBridge.EventBridgeException', 'States.TaskFailed'], maxAttempts: 3 });
  // The backup is committed: a lost announcement must not turn it into a failure.
  const announced = new Succeed(scope, 'Backup Complete', { outputPath: $('summary') });
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
      $clear('node', 'instanceId'),
      {
        backupId: hostParam.text($clear('backupId')),
        dataDir: hostParam.text($clear('node', 'dataDir')),
      },
      $clear('cleared'),
    );
    const notCleared = new Pass(scope, `Snapshot Not Cleared ${label}`, {
      parameters: { 'instanceId.$': $clear('node', 'instanceId'), 'error.$': $clear('clearError') },
    });
    clear.addCatch(notCleared, { errors: ['States.ALL'], resultPath: $clear('clearError') });
    clear.end.next(
      new Pass(scope, `Snapshot Cleared ${label}`, {
        parameters: { 'instanceId.$': $clear('node', 'instanceId'), cleared: true },
      }),
    );
    const map = new MapState(scope, `Clear Snapshots ${label}`, {
      itemsPath: $('plan', 'cassandra', 'nodes'),
      itemSelector: selectFields<ClearSnapshotItem>({
        node: mapItem<PlannedNode>(),
        backupId: $('plan', 'backupId'),
      }),
      resultPath: $('snapshotsCleared'),
    });
    map.itemProcessor(clear.start);
    const selected = new Choice(scope, `Clear Snapshots ${label}?`);
    const next = new Pass(scope, `Snapshots Handled ${label}`);
    selected
      .when(Condition.booleanEquals($('plan', 'components', 'cassandra'), true), map.next(next))
      .otherwise(next);
    return { start: selected, next: (s: IChainable) => next.next(s) };
  }
}
