import { Arn, ArnFormat, Aws, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { envNames, type FunctionEnvironment } from '../functions/core/env.js';
import { archivePrefixes, type VaultPrefix, vaultPrefixes } from '../functions/core/vault-layout.js';
import { archiveDefinition } from '../statemachines/archive.js';
import { backupDefinition } from '../statemachines/backup.js';
import { purgeDefinition } from '../statemachines/purge.js';
import { restoreDefinition } from '../statemachines/restore.js';
import { archiveBucketName, archiveKeyAlias } from './archive-stack.js';
import type { WireBackupConfig } from './config.js';
import { HostDocuments } from './constructs/host-documents.js';
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
  /** The purge state machine (retention; scheduled, and `wire-backup purge`). */
  public readonly purgeStateMachine: StateMachine;
  /** The archive state machine (started by "Backup Completed"), when `archive` is configured. */
  public readonly archiveStateMachine: StateMachine | undefined;

  constructor(scope: Construct, id: string, props: WireBackupStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.vault = new Vault(this, 'Vault', {
      ...(config.vault.bucketName ? { bucketName: config.vault.bucketName } : {}),
      ...(config.vault.objectLockDays ? { objectLockDays: config.vault.objectLockDays } : {}),
    });
    const bucket = this.vault.bucket;
    const documents = new HostDocuments(this, 'HostDocuments', { documents: hostDocuments });
    const minioSecret = Secret.fromSecretNameV2(this, 'MinioSecret', config.minio.secretName);

    const common: FunctionEnvironment = {
      [envNames.vaultBucket]: bucket.bucketName,
      [envNames.vaultDeepVerify]: String(config.vault.deepVerify),
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

    // Least privilege, scoped to the vault's top-level folders as vault-layout.ts names them.
    const all = (prefix: VaultPrefix): string => `${prefix}*`;
    bucket.grantReadWrite(functions.prepare, all(vaultPrefixes.backups));
    bucket.grantRead(functions.prepare);
    bucket.grantRead(functions.verifyArchive, all(vaultPrefixes.backups));
    bucket.grantRead(functions.finalizeNode, all(vaultPrefixes.cassandra));
    bucket.grantReadWrite(functions.finalizeNode, all(vaultPrefixes.backups));
    for (const f of [functions.planMinio, functions.copyBatch, functions.finalizeMinio]) {
      bucket.grantReadWrite(f, all(vaultPrefixes.backups));
      minioSecret.grantRead(f);
    }
    bucket.grantRead(functions.planMinio, all(vaultPrefixes.minio));
    bucket.grantReadWrite(functions.copyBatch, all(vaultPrefixes.minio));
    bucket.grantRead(functions.finalizeMinio, all(vaultPrefixes.minio));
    minioSecret.grantRead(functions.checkMinio);
    bucket.grantReadWrite(functions.commit, all(vaultPrefixes.backups));
    bucket.grantRead(functions.commit, all(vaultPrefixes.cassandra));
    bucket.grantWrite(functions.markFailed, all(vaultPrefixes.backups));
    bucket.grantRead(restoreFunctions.restorePrepare, all(vaultPrefixes.backups));
    bucket.grantRead(restoreFunctions.restorePrepare);
    bucket.grantWrite(restoreFunctions.restorePrepare, all(vaultPrefixes.restores));
    for (const f of [
      restoreFunctions.restoreCheckTargets,
      restoreFunctions.restorePlanMinio,
      restoreFunctions.restoreCopyBatch,
      restoreFunctions.restoreVerify,
    ]) {
      bucket.grantRead(f, all(vaultPrefixes.backups));
      bucket.grantRead(f, all(vaultPrefixes.minio));
      minioSecret.grantRead(f);
    }
    bucket.grantReadWrite(restoreFunctions.restorePlanMinio, all(vaultPrefixes.restores));
    bucket.grantReadWrite(restoreFunctions.restoreCopyBatch, all(vaultPrefixes.restores));
    bucket.grantWrite(restoreFunctions.restoreReport, all(vaultPrefixes.restores));

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
    bucket.grantReadWrite(this.restoreStateMachine, all(vaultPrefixes.mapRuns));
    bucket.grantRead(this.restoreStateMachine, all(vaultPrefixes.restores));
    // The Distributed Map's ResultWriter writes its run reports here.
    bucket.grantReadWrite(this.backupStateMachine, all(vaultPrefixes.mapRuns));
    bucket.grantRead(this.backupStateMachine, all(vaultPrefixes.backups));

    new Rule(this, 'BackupSchedule', {
      description: 'Starts the wire-backup state machine',
      schedule: Schedule.expression(config.schedule),
      targets: [
        new SfnStateMachine(this.backupStateMachine, {
          input: RuleTargetInput.fromObject({ trigger: 'schedule' }),
        }),
      ],
    });

    // ---- Retention: the purge state machine, its Lambdas and schedule (README, "Retention").
    // Each Lambda gets exactly the prefixes it reads, writes or deletes (vault-layout.ts names them).
    const purgeEnv: FunctionEnvironment = { ...common, [envNames.config]: JSON.stringify(config) };
    const purgeFunctions = {
      purgePlan: fn(
        'purge-plan',
        'Decides what retention lets go from the kept backups’ manifests; writes the plan, deletes nothing',
        purgeEnv,
        Duration.minutes(15),
        3008,
      ),
      purgeDelete: fn(
        'purge-delete',
        'Deletes the exact object versions of a purge plan, manifests first; never bypasses Object Lock',
        common,
        Duration.minutes(15),
        1024,
      ),
      purgeReport: fn('purge-report', 'Writes the purge report', common),
    };
    for (const prefix of [
      vaultPrefixes.backups,
      vaultPrefixes.cassandra,
      vaultPrefixes.minio,
      vaultPrefixes.restores,
    ])
      bucket.grantRead(purgeFunctions.purgePlan, all(prefix));
    // Plan and report write their own documents and never delete.
    bucket.grantRead(purgeFunctions.purgePlan, all(vaultPrefixes.purges));
    bucket.grantPut(purgeFunctions.purgePlan, all(vaultPrefixes.purges));
    bucket.grantRead(purgeFunctions.purgeDelete, all(vaultPrefixes.purges));
    bucket.grantRead(purgeFunctions.purgeDelete, all(vaultPrefixes.restores));
    for (const prefix of [vaultPrefixes.backups, vaultPrefixes.cassandra, vaultPrefixes.minio])
      bucket.grantDelete(purgeFunctions.purgeDelete, all(prefix));
    bucket.grantRead(purgeFunctions.purgeReport, all(vaultPrefixes.purges));
    // Evaluate Targets marks a restore that is about to write as running (restores/<id>/started.json).
    bucket.grantPut(restoreFunctions.restoreVerify, all(vaultPrefixes.restores));
    bucket.grantPut(purgeFunctions.purgeReport, all(vaultPrefixes.purges));
    this.purgeStateMachine = new StateMachine(this, 'PurgeStateMachine', {
      stateMachineName: 'wire-purge',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: purgeDefinition(new Construct(this, 'PurgeStates'), { functions: purgeFunctions }),
      timeout: Duration.hours(2),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'PurgeStateMachineLogs', { retention: RetentionDays.THREE_MONTHS }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    new Rule(this, 'PurgeSchedule', {
      description: 'Starts the wire-backup purge (retention)',
      schedule: Schedule.expression(config.vault.retention.purgeSchedule),
      targets: [
        new SfnStateMachine(this.purgeStateMachine, {
          input: RuleTargetInput.fromObject({ trigger: 'schedule' }),
        }),
      ],
    });

    // ---- Cross-region archive copies (README, "Archive"): started by the backup's "Backup Completed"
    // event. The Lambdas read the vault (backups/, cassandra/, minio/ only) and write the archive bucket
    // in archive.region (deployed by WireBackupArchiveStack) under its two prefixes.
    this.archiveStateMachine = undefined;
    if (config.archive) {
      const archiveEnv: FunctionEnvironment = {
        ...common,
        [envNames.archiveBucket]: archiveBucketName(config.archive),
        [envNames.archiveRegion]: config.archive.region,
        [envNames.archiveStorageClass]: config.archive.storageClass,
      };
      const archiveFunctions = {
        archivePlan: fn(
          'archive-plan',
          'Lists exactly one backup’s objects for the archive',
          archiveEnv,
          Duration.minutes(15),
          2048,
        ),
        archiveCopy: fn(
          'archive-copy',
          'Copies objects into the archive region, hashed in flight',
          archiveEnv,
          Duration.minutes(15),
          1024,
        ),
        archiveCommit: fn('archive-commit', 'Writes the archive manifest, last', archiveEnv),
      };
      const archiveBucket = Bucket.fromBucketAttributes(this, 'ArchiveBucket', {
        bucketName: archiveBucketName(config.archive),
        region: config.archive.region,
      });
      for (const f of Object.values(archiveFunctions)) {
        for (const prefix of [vaultPrefixes.backups, vaultPrefixes.cassandra, vaultPrefixes.minio])
          bucket.grantRead(f, all(prefix));
        for (const prefix of Object.values(archivePrefixes)) archiveBucket.grantReadWrite(f, `${prefix}*`);
        // The archive key lives in archive.region: named by its alias, used only through S3 there.
        f.addToRolePolicy(
          new PolicyStatement({
            effect: Effect.ALLOW,
            actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
            resources: [`arn:${Aws.PARTITION}:kms:${config.archive.region}:${Aws.ACCOUNT_ID}:key/*`],
            conditions: {
              'ForAnyValue:StringEquals': { 'kms:ResourceAliases': archiveKeyAlias },
              StringEquals: { 'kms:ViaService': `s3.${config.archive.region}.amazonaws.com` },
            },
          }),
        );
      }
      const archiveMachine = new StateMachine(this, 'ArchiveStateMachine', {
        stateMachineName: 'wire-archive',
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: archiveDefinition(new Construct(this, 'ArchiveStates'), {
          functions: archiveFunctions,
        }),
        timeout: Duration.hours(24),
        tracingEnabled: true,
        logs: {
          destination: new LogGroup(this, 'ArchiveStateMachineLogs', {
            retention: RetentionDays.THREE_MONTHS,
          }),
          level: LogLevel.ALL,
          includeExecutionData: false,
        },
      });
      new Rule(this, 'ArchiveOnBackupCompleted', {
        description: 'Starts the cross-region archive copy of each completed backup',
        eventPattern: { source: ['wire-backup'], detailType: ['Backup Completed'] },
        targets: [new SfnStateMachine(archiveMachine)],
      });
      this.archiveStateMachine = archiveMachine;
    }

    // ---- Outputs the CLI reads (`wire-backup … --outputs cdk-outputs.json`).
    new CfnOutput(this, 'VaultBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'BackupStateMachineArn', { value: this.backupStateMachine.stateMachineArn });
    new CfnOutput(this, 'RestoreStateMachineArn', { value: this.restoreStateMachine.stateMachineArn });
    new CfnOutput(this, 'PurgeStateMachineArn', { value: this.purgeStateMachine.stateMachineArn });
    if (this.archiveStateMachine)
      new CfnOutput(this, 'ArchiveStateMachineArn', { value: this.archiveStateMachine.stateMachineArn });

    const alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'wire-backup alarms', enforceSSL: true });
    if (config.alarmEmail) alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    const failedAlarm = new Alarm(this, 'BackupFailedAlarm', {
      alarmDescription:
        'A wire-backup execution failed: see the failed marker in the vault and the execution in the console',
      metric: this.backupStateMachine.metricFailed({ period: Duration.hours(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    failedAlarm.addAlarmAction(new SnsAction(alarmTopic));
    // What the manual procedure did with Nagios: alert when the newest backup is too old.
    const staleAlarm = new Alarm(this, 'BackupStaleAlarm', {
      alarmDescription: 'No wire-backup succeeded in the last 2 hours',
      metric: new Metric({
        namespace: 'WireBackup',
        metricName: 'BackupSucceeded',
        dimensionsMap: { Cluster: config.clusterName },
        statistic: 'Sum',
        period: Duration.hours(2),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
    });
    staleAlarm.addAlarmAction(new SnsAction(alarmTopic));

    // ---- Purge and archive failures alarm too (an unreachable archive region, a purge that refused).
    for (const [id, machine, what] of [
      [
        'PurgeFailedAlarm',
        this.purgeStateMachine,
        'A wire-backup purge failed: see purges/<id>/report.json in the vault',
      ],
      ...(this.archiveStateMachine
        ? [
            [
              'ArchiveFailedAlarm',
              this.archiveStateMachine,
              'A cross-region archive copy failed: the execution names the cause; the primary vault is untouched',
            ] as const,
          ]
        : []),
    ] as const) {
      new Alarm(this, id, {
        alarmDescription: what,
        metric: machine.metricFailed({ period: Duration.hours(1) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new SnsAction(alarmTopic));
    }
  }
}

function pascal(kebab: string): string {
  return kebab.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
