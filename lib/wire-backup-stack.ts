import { Arn, ArnFormat, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { envNames, type FunctionEnvironment } from '../functions/core/env.js';
import {
  cassandraBackupPrefix,
  failedKey,
  manifestKey,
  minioBackupPrefix,
  startedKey,
  vaultPrefixes,
  wireServerArchiveKey,
} from '../functions/core/vault-layout.js';
import { backupDefinition } from '../statemachines/backup.js';
import { ssmOutputLogGroupName } from '../statemachines/host-command.js';
import { restoreDefinition } from '../statemachines/restore.js';
import type { WireBackupConfig } from './config.js';
import { HostDocuments } from './constructs/host-documents.js';
import { Monitoring } from './constructs/monitoring.js';
import { Vault } from './constructs/vault.js';
import { WireFunction } from './constructs/wire-function.js';
import { hostDocuments } from './host-documents.js';

/** Props of {@link WireBackupStack}. */
export interface WireBackupStackProps extends StackProps {
  /** Validated configuration (see `lib/config.ts`). */
  readonly config: WireBackupConfig;
  /** Seconds between SSM polls in the state machine. @default 5 */
  readonly pollSeconds?: number;
}

/**
 * wire-backup in one stack: the vault, the SSM documents run on the Wire hosts, the Lambdas, the
 * backup state machine, its hourly schedule and a failure alarm.
 */
export class WireBackupStack extends Stack {
  /** The vault. */
  public readonly vault: Vault;
  /** The backup state machine. */
  public readonly backupStateMachine: StateMachine;
  /** The restore state machine (started from the console or `wire-backup restore`). */
  public readonly restoreStateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: WireBackupStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.vault = new Vault(this, 'Vault', {
      ...(config.vault.bucketName ? { bucketName: config.vault.bucketName } : {}),
      objectLockMode: config.vault.objectLockMode,
      objectLockDays: config.vault.objectLockDays,
    });
    const bucket = this.vault.bucket;
    const documents = new HostDocuments(this, 'HostDocuments', { documents: hostDocuments });
    const minioSecret = Secret.fromSecretNameV2(this, 'MinioSecret', config.minio.secretName);

    const common: FunctionEnvironment = {
      [envNames.vaultBucket]: bucket.bucketName,
      [envNames.vaultDeepVerify]: String(config.vault.deepVerify),
      [envNames.verifySampleDivisor]: String(config.vault.verifySampleDivisor),
    };
    const minioEnv: FunctionEnvironment = {
      ...common,
      [envNames.minioEndpoint]: config.minio.endpoint,
      [envNames.minioRegion]: config.minio.region,
      [envNames.minioSecretName]: config.minio.secretName,
      [envNames.minioLegacyChecksums]: String(config.minio.legacyChecksums),
      [envNames.minioMultipartThreshold]: String(config.minio.multipartThresholdBytes),
    };
    const fn = (
      handlerName: string,
      description: string,
      environment: FunctionEnvironment,
      timeout = Duration.minutes(5),
      memorySize = 512,
    ) =>
      new WireFunction(this, pascal(handlerName), {
        handlerName,
        description,
        environment,
        timeout,
        memorySize,
      });

    const functions = {
      prepare: fn('prepare', 'Validates input, allocates the backup id, writes the started marker', {
        ...common,
        [envNames.config]: JSON.stringify(config),
      }),
      commandResult: fn('command-result', 'Parses a host command result or raises HostCommandError', {}),
      evaluatePreflight: fn(
        'evaluate-preflight',
        'Decides from nodetool status whether the backup may go on',
        {},
      ),
      checkMinio: fn(
        'check-minio',
        'HeadBucket on every configured MinIO bucket',
        minioEnv,
        Duration.minutes(1),
      ),
      verifyArchive: fn(
        'verify-archive',
        'Streams and verifies the wire-server archive',
        common,
        Duration.minutes(15),
        1024,
      ),
      finalizeNode: fn(
        'finalize-node',
        'Verifies a node’s uploaded SSTables and writes its manifest',
        common,
        Duration.minutes(15),
        1024,
      ),
      planMinio: fn(
        'plan-minio',
        'Lists MinIO buckets, diffs with the last backup, writes batch files',
        minioEnv,
        Duration.minutes(15),
        2048,
      ),
      copyBatch: fn(
        'copy-batch',
        'Copies one batch of MinIO objects into the vault, streamed',
        minioEnv,
        Duration.minutes(15),
        1024,
      ),
      finalizeMinio: fn(
        'finalize-minio',
        'Writes and verifies the bucket manifests',
        minioEnv,
        Duration.minutes(15),
        2048,
      ),
      commit: fn('commit', 'Checks completeness and writes the manifest, last', common),
      markFailed: fn('mark-failed', 'Writes the failed marker with the cause', common),
    };
    const restoreFunctions = {
      restorePrepare: fn(
        'restore-prepare',
        'Validates restore input, resolves the backup, plans the restore',
        {
          ...common,
          [envNames.config]: JSON.stringify(config),
        },
      ),
      commandResult: functions.commandResult,
      restoreCheckTargets: fn(
        'restore-check-targets',
        'Refuses non-empty target buckets; writes nothing',
        minioEnv,
      ),
      restorePlanMinio: fn(
        'restore-plan-minio',
        'Creates target buckets and writes restore batch files',
        minioEnv,
        Duration.minutes(15),
        1024,
      ),
      restoreCopyBatch: fn(
        'restore-copy-batch',
        'Writes one batch of exact object versions back to MinIO',
        minioEnv,
        Duration.minutes(15),
        1024,
      ),
      restoreVerify: fn(
        'restore-verify',
        'Checks target nodes and restored objects',
        minioEnv,
        Duration.minutes(15),
        1024,
      ),
      restoreReport: fn('restore-report', 'Writes the restore report', common),
    };

    // --- vault access (security: least privilege) --------------------------------------------------
    // Each role gets the keys its code reads and writes, as vault-layout.ts names them (a `*` in place
    // of an id), written-out actions, and `s3:DeleteObject` only where the code deletes (its own working
    // folder). Nobody here gets `s3:DeleteObjectVersion`. Only Verify wire-server Archive reads the
    // archive holding Wire's secrets; Commit only HEADs it (no kms:Decrypt).
    const any = '*';
    const keys = {
      manifests: manifestKey(any),
      markers: [startedKey(any), failedKey(any)],
      archive: wireServerArchiveKey(any),
      backupCassandra: `${cassandraBackupPrefix(any)}*`,
      backupMinio: `${minioBackupPrefix(any)}*`,
      sstables: `${vaultPrefixes.cassandra}*`,
      minioObjects: `${vaultPrefixes.minio}*`,
      restores: `${vaultPrefixes.restores}*`,
      mapRuns: `${vaultPrefixes.mapRuns}*`,
    };
    const vault = this.vault;
    vault.grantObjects(functions.prepare, {
      read: [keys.manifests, ...keys.markers],
      write: [startedKey(any)],
    });
    vault.grantObjects(functions.verifyArchive, { read: [keys.archive] });
    vault.grantObjects(functions.finalizeNode, {
      read: [keys.backupCassandra, keys.sstables],
      write: [keys.backupCassandra],
    });
    vault.grantObjects(functions.planMinio, {
      read: [keys.backupMinio],
      write: [keys.backupMinio],
      delete: [keys.backupMinio],
    });
    vault.grantObjects(functions.copyBatch, {
      // Reads back (HEAD) a version it wrote when the vault's answer cannot vouch for it.
      read: [keys.backupMinio, keys.minioObjects],
      write: [keys.backupMinio, keys.minioObjects],
    });
    vault.grantObjects(functions.finalizeMinio, {
      read: [keys.backupMinio, keys.minioObjects],
      write: [keys.backupMinio],
    });
    vault.grantObjects(functions.commit, {
      read: [keys.archive, keys.backupCassandra, keys.backupMinio],
      write: [keys.manifests],
      decrypts: false,
    });
    vault.grantObjects(functions.markFailed, { write: [failedKey(any)] });
    for (const f of [functions.planMinio, functions.copyBatch, functions.finalizeMinio, functions.checkMinio])
      minioSecret.grantRead(f);
    vault.grantObjects(restoreFunctions.restorePrepare, { read: [keys.manifests, ...keys.markers] });
    vault.grantObjects(restoreFunctions.restoreCheckTargets, { read: [keys.backupMinio] });
    vault.grantObjects(restoreFunctions.restorePlanMinio, {
      read: [keys.backupMinio, keys.restores],
      write: [keys.restores],
      delete: [keys.restores],
    });
    vault.grantObjects(restoreFunctions.restoreCopyBatch, {
      read: [keys.restores, keys.minioObjects],
      write: [keys.restores],
    });
    vault.grantObjects(restoreFunctions.restoreVerify, {
      read: [keys.backupCassandra, keys.backupMinio, keys.restores],
    });
    vault.grantObjects(restoreFunctions.restoreReport, { write: [keys.restores] });
    for (const f of [
      restoreFunctions.restoreCheckTargets,
      restoreFunctions.restorePlanMinio,
      restoreFunctions.restoreCopyBatch,
      restoreFunctions.restoreVerify,
    ])
      minioSecret.grantRead(f);
    // --- end of vault access ---------------------------------------------------------------------------

    // Host command output (SSM CloudWatchOutputConfig) goes to a group of ours, kept for a month.
    new LogGroup(this, 'HostCommandLogs', {
      logGroupName: ssmOutputLogGroupName,
      retention: RetentionDays.ONE_MONTH,
    });

    const instanceArns = [
      ...config.cassandra.nodes.map((n) => n.instanceId),
      config.wireServer.instanceId,
    ].map((id) =>
      Arn.format(
        {
          service: id.startsWith('mi-') ? 'ssm' : 'ec2',
          resource: id.startsWith('mi-') ? 'managed-instance' : 'instance',
          resourceName: id,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        },
        this,
      ),
    );
    const documentArns = Object.values(documents.names).map((name) =>
      Arn.format(
        {
          service: 'ssm',
          resource: 'document',
          resourceName: name,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        },
        this,
      ),
    );

    this.backupStateMachine = new StateMachine(this, 'BackupStateMachine', {
      stateMachineName: 'wire-backup',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: backupDefinition(new Construct(this, 'BackupStates'), {
        functions,
        documents: {
          preflight: hostDocuments.preflight.name,
          cassandraSnapshot: hostDocuments.cassandraSnapshot.name,
          cassandraClearSnapshot: hostDocuments.cassandraClearSnapshot.name,
          wireServerArchive: hostDocuments.wireServerArchive.name,
        },
        vault: bucket,
        sendCommandResources: [...documentArns, ...instanceArns],
        ...(props.pollSeconds === undefined ? {} : { pollSeconds: props.pollSeconds }),
      }),
      timeout: Duration.hours(12),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'BackupStateMachineLogs', { retention: RetentionDays.THREE_MONTHS }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    this.restoreStateMachine = new StateMachine(this, 'RestoreStateMachine', {
      stateMachineName: 'wire-restore',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: restoreDefinition(new Construct(this, 'RestoreStates'), {
        functions: restoreFunctions,
        documents: {
          preflight: hostDocuments.preflight.name,
          restoreWireServer: hostDocuments.restoreWireServer.name,
          restoreCassandraSchema: hostDocuments.restoreCassandraSchema.name,
          restoreCassandraNode: hostDocuments.restoreCassandraNode.name,
          cassandraCountRows: hostDocuments.cassandraCountRows.name,
        },
        vault: bucket,
        sendCommandResources: [...documentArns, ...instanceArns],
        ...(props.pollSeconds === undefined ? {} : { pollSeconds: props.pollSeconds }),
      }),
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'RestoreStateMachineLogs', { retention: RetentionDays.THREE_MONTHS }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    // The Distributed Maps read their items (JSONL batch indexes) and write run reports (ResultWriter).
    // CDK grants both the whole vault for them: the Deny keeps them to these keys.
    vault.grantObjects(this.restoreStateMachine, { read: [keys.restores], write: [keys.mapRuns] });
    vault.limitObjectAccess(this.restoreStateMachine, [keys.restores, keys.mapRuns]);
    vault.grantObjects(this.backupStateMachine, { read: [keys.backupMinio], write: [keys.mapRuns] });
    vault.limitObjectAccess(this.backupStateMachine, [keys.backupMinio, keys.mapRuns]);

    new Rule(this, 'BackupSchedule', {
      description: 'Starts the wire-backup state machine',
      schedule: Schedule.expression(config.schedule),
      targets: [
        new SfnStateMachine(this.backupStateMachine, {
          input: RuleTargetInput.fromObject({ trigger: 'schedule' }),
        }),
      ],
    });

    const alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'wire-backup alarms', enforceSSL: true });
    if (config.alarmEmail) alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    new Monitoring(this, 'Monitoring', {
      clusterName: config.clusterName,
      stateMachines: { Backup: this.backupStateMachine, Restore: this.restoreStateMachine },
      alarmTopic,
    });
  }
}

function pascal(kebab: string): string {
  return kebab.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
