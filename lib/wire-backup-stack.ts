import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Arn, ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SecurityGroup, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { ParameterTier, StringParameter } from 'aws-cdk-lib/aws-ssm';
import { LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { backupRunTimeoutHours } from '../functions/core/abandoned-runs.js';
import {
  commandInvocationDetailType,
  finalInvocationStatuses,
} from '../functions/core/contract/host-command.js';
import { envNames, type FunctionEnvironment } from '../functions/core/env.js';
import {
  archivePrefixes,
  cassandraBackupPrefix,
  failedKey,
  hostCommandTokenKey,
  manifestKey,
  minioBackupPrefix,
  planPartsKey,
  postgresqlBackupPrefix,
  postgresqlWalPrefix,
  restoreFailedKey,
  restoreReportKey,
  restoreRowCountsKey,
  restoreStartedKey,
  startedKey,
  vaultPrefixes,
  wireServerArchiveKey,
} from '../functions/core/vault-layout.js';
import { archiveDefinition } from '../statemachines/archive.js';
import { backupDefinition } from '../statemachines/backup.js';
import { purgeDefinition } from '../statemachines/purge.js';
import { restoreDefinition } from '../statemachines/restore.js';
import { ArchiveGrants, archiveBucketName } from './archive-stack.js';
import type { WireBackupConfig } from './config.js';
import { HostAccess } from './constructs/host-access.js';
import { HostDocuments } from './constructs/host-documents.js';
import { Monitoring } from './constructs/monitoring.js';
import { Vault } from './constructs/vault.js';
import { WireFunction } from './constructs/wire-function.js';
import { hostDocuments } from './host-documents.js';
import { resourceNames } from './names.js';

/** Most characters a Standard SSM parameter holds (4 KB); above it the stack makes it Advanced (8 KB). */
const standardParameterMaxChars = 4096;
/** Most characters an Advanced SSM parameter holds (8 KB). */
const advancedParameterMaxChars = 8192;

/** The SSM tag (on a managed instance) that lets a restore send our documents to it. */
export const installationTagKey = 'wire-backup:installation';

/** Props of {@link WireBackupStack}. */
export interface WireBackupStackProps extends StackProps {
  /** Validated configuration (see `lib/config.ts`). */
  readonly config: WireBackupConfig;
}

/**
 * wire-backup in one stack: the vault, the SSM documents run on the Wire hosts, the Lambdas, the
 * backup, restore, purge (retention) and, with `archive`, archive state machines, their schedules and
 * rules, alarms and a dashboard (`Monitoring`), and the outputs the CLI reads.
 */
export class WireBackupStack extends Stack {
  /** The vault. */
  public readonly vault: Vault;
  /** The backup state machine. */
  public readonly backupStateMachine: StateMachine;
  /** The restore state machine (started from the console or `wire-backup restore`). */
  public readonly restoreStateMachine: StateMachine;
  /** The role of the hosts' hybrid activation (SSM agent and the host scripts' vault keys). */
  public readonly hostRole: HostAccess['role'];
  /** The purge state machine (retention; scheduled, and `wire-backup purge`). */
  public readonly purgeStateMachine: StateMachine;
  /** The archive state machine (started by "Backup Completed"), when `archive` is configured. */
  public readonly archiveStateMachine: StateMachine | undefined;

  constructor(scope: Construct, id: string, props: WireBackupStackProps) {
    super(scope, id, props);
    const { config } = props;
    const names = resourceNames(config);

    this.vault = new Vault(this, 'Vault', {
      ...(config.vault.bucketName ? { bucketName: config.vault.bucketName } : {}),
      ...(config.vault.existing
        ? {
            existing: {
              bucketName: config.vault.existing.bucketName,
              keyArn: config.vault.existing.kmsKeyArn,
              ...(config.vault.existing.archiveKmsKeyArn
                ? { archiveKeyArn: config.vault.existing.archiveKmsKeyArn }
                : {}),
            },
          }
        : {}),
      objectLockMode: config.vault.objectLockMode,
      objectLockDays: config.vault.objectLockDays,
    });
    const bucket = this.vault.bucket;
    // The documents' names come from hostDocuments (the state machines reference them by ARN).
    const documents = new HostDocuments(this, 'HostDocuments', {
      documents: hostDocuments,
      nameOf: names.document,
    });
    const documentName = (key: keyof typeof hostDocuments): string => {
      const name = documents.names[key];
      if (!name) throw new Error(`no host document ${key}`);
      return name;
    };
    const minioSecret = Secret.fromSecretNameV2(this, 'MinioSecret', config.minio.secretName);

    // The configuration lives in an SSM parameter, not in a function's environment (Lambda allows 4 KB
    // of environment in all; a config of ~26 nodes passes it). Advanced tier (8 KB) only when needed.
    const configJson = JSON.stringify(config);
    if (configJson.length > advancedParameterMaxChars)
      throw new Error(
        `the configuration takes ${configJson.length} characters as JSON; its SSM parameter holds at most ${advancedParameterMaxChars} (Advanced tier): shorten node names or leave out optional settings at their defaults`,
      );
    const configParameter = new StringParameter(this, 'ConfigParameter', {
      parameterName: names.configParameter,
      description:
        'wire-backup configuration (validated at synth); read by Prepare, Restore Prepare and Plan Purge',
      stringValue: configJson,
      tier: configJson.length > standardParameterMaxChars ? ParameterTier.ADVANCED : ParameterTier.STANDARD,
    });
    const withConfig = (fn: WireFunction) =>
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['ssm:GetParameter'], resources: [configParameter.parameterArn] }),
      );

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
      ...(config.minio.caBundleFile
        ? { [envNames.minioCaBundle]: readCaBundle(config.minio.caBundleFile) }
        : {}),
    };
    // The functions that talk to MinIO (those given its endpoint) run in the configured subnets.
    const network = config.network
      ? {
          vpc: Vpc.fromVpcAttributes(this, 'Network', {
            vpcId: config.network.vpcId,
            availabilityZones: config.network.availabilityZones,
            privateSubnetIds: config.network.subnetIds,
          }),
          securityGroups: config.network.securityGroupIds.map((id, i) =>
            SecurityGroup.fromSecurityGroupId(this, `NetworkSecurityGroup${i + 1}`, id, { mutable: false }),
          ),
        }
      : undefined;
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
        ...(network && environment[envNames.minioEndpoint] ? { network } : {}),
      });

    const functions = {
      prepare: fn('prepare', 'Validates input, allocates the backup id, writes the started marker', {
        ...common,
        [envNames.configParameter]: configParameter.parameterName,
      }),
      hostCommand: fn(
        'host-command-send',
        'Records a host command’s task token and sends its SSM command',
        { ...common, [envNames.hostCommandLogGroup]: names.hostCommandLogGroup },
        Duration.minutes(1),
        256,
      ),
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
        { ...common, [envNames.wireServerArchiveKeyArn]: this.vault.archiveKey.keyArn },
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
        'Lists one MinIO bucket, diffs it with the last backup, writes its batch files',
        minioEnv,
        Duration.minutes(15),
        2048,
      ),
      indexMinioBatches: fn(
        'index-minio-batches',
        'Writes the index of every bucket’s batch files for the copy Distributed Map',
        common,
        Duration.minutes(5),
        512,
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
        'Writes and verifies one bucket’s manifest',
        common,
        Duration.minutes(15),
        2048,
      ),
      checkMinioCopies: fn(
        'check-minio-copies',
        'Gathers the bucket results; fails naming objects that could not be copied',
        common,
        Duration.minutes(1),
        256,
      ),
      commit: fn('commit', 'Checks completeness and writes the manifest, last', common),
      markFailed: fn('mark-failed', 'Writes the failed marker with the cause', common),
    };
    // A restore may read its backup from the archive (`"source": "archive"`) when one is configured.
    const restoreArchiveEnv: FunctionEnvironment = config.archive
      ? {
          [envNames.archiveBucket]: archiveBucketName(config.archive, names),
          [envNames.archiveRegion]: config.archive.region,
        }
      : {};
    const restoreFunctions = {
      restorePrepare: fn(
        'restore-prepare',
        'Validates restore input, resolves the backup, plans the restore',
        {
          ...common,
          ...restoreArchiveEnv,
          [envNames.configParameter]: configParameter.parameterName,
        },
      ),
      hostCommand: functions.hostCommand,
      restoreCheckTargets: fn('restore-check-targets', 'Refuses non-empty target buckets; writes nothing', {
        ...minioEnv,
        ...restoreArchiveEnv,
      }),
      restorePlanMinio: fn(
        'restore-plan-minio',
        'Creates target buckets and writes restore batch files',
        { ...minioEnv, ...restoreArchiveEnv },
        Duration.minutes(15),
        1024,
      ),
      restoreCopyBatch: fn(
        'restore-copy-batch',
        'Writes one batch of exact object versions back to MinIO',
        { ...minioEnv, ...restoreArchiveEnv },
        Duration.minutes(15),
        1024,
      ),
      restoreVerify: fn(
        'restore-verify',
        'Checks target nodes and restored objects',
        { ...minioEnv, ...restoreArchiveEnv },
        Duration.minutes(15),
        1024,
      ),
      restoreReport: fn('restore-report', 'Writes the restore report', common),
    };

    // --- vault access (security: least privilege) --------------------------------------------------
    // Each role gets the keys its code reads and writes, as vault-layout.ts names them (a `*` in place
    // of an id), written-out actions, and `s3:DeleteObject` only where the code deletes (its own working
    // folder). Only the purge's Delete Expired gets `s3:DeleteObjectVersion` (below). Only Verify
    // wire-server Archive reads the archive holding Wire's secrets; Commit only HEADs it (no kms:Decrypt).
    // The archive is under a KMS key of its own (Vault.archiveKey): besides Verify wire-server Archive,
    // only the host role (which writes it and extracts it on restore) and, with `archive`, Copy to
    // Archive (which carries it to the other region) may use that key; the bucket refuses the archive
    // under any other key, and every other role keeps the vault key only.
    const any = '*';
    const keys = {
      manifests: manifestKey(any),
      planParts: planPartsKey(any, any),
      markers: [startedKey(any), failedKey(any)],
      archive: wireServerArchiveKey(any),
      backupCassandra: `${cassandraBackupPrefix(any)}*`,
      backupMinio: `${minioBackupPrefix(any)}*`,
      backupPostgresql: `${postgresqlBackupPrefix(any)}*`,
      postgresqlWal: `${postgresqlWalPrefix(any)}*`,
      sstables: `${vaultPrefixes.cassandra}*`,
      minioObjects: `${vaultPrefixes.minio}*`,
      restores: `${vaultPrefixes.restores}*`,
      mapRuns: `${vaultPrefixes.mapRuns}*`,
      hostCommands: hostCommandTokenKey(any),
      restoreMarkers: [restoreStartedKey(any), restoreReportKey(any), restoreFailedKey(any)],
    };
    const vault = this.vault;
    // Prepare and Restore Prepare settle the earlier runs (core/abandoned-runs.ts): they read every
    // backup's and restore's markers and write failed.json of those whose execution ended unmarked.
    const runMarkers = {
      read: [keys.manifests, ...keys.markers, ...keys.restoreMarkers],
      write: [failedKey(any), restoreFailedKey(any)],
    };
    vault.grantObjects(functions.prepare, {
      // The previous backup's parts files: how many parts each bucket's plan has (minio-plan.ts).
      read: [...runMarkers.read, keys.planParts],
      write: [startedKey(any), ...runMarkers.write],
    });
    // It reads nothing under the vault key: kms:Decrypt on the archive key only.
    vault.grantObjects(functions.verifyArchive, { read: [keys.archive], decrypts: false });
    if (functions.verifyArchive.role) vault.grantArchiveKey(functions.verifyArchive.role, { decrypt: true });
    vault.requireArchiveKey([keys.archive]);
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
    vault.grantObjects(functions.indexMinioBatches, { write: [keys.backupMinio] });
    vault.grantObjects(functions.finalizeMinio, {
      read: [keys.backupMinio, keys.minioObjects],
      write: [keys.backupMinio],
    });
    // Reads the failed-objects lists to name them.
    vault.grantObjects(functions.checkMinioCopies, { read: [keys.backupMinio] });
    vault.grantObjects(functions.commit, {
      // HEADs the PostgreSQL base backup files and the WAL segment of the backup's end.
      read: [keys.archive, keys.backupCassandra, keys.backupMinio, keys.backupPostgresql, keys.postgresqlWal],
      write: [keys.manifests],
      decrypts: false,
    });
    // Mark Failed reads the MinIO copy's map run report (map-runs/<id>/FAILED_<n>.json) for a failed
    // batch's own cause (core/map-run-report.ts).
    vault.grantObjects(functions.markFailed, { read: [keys.mapRuns], write: [failedKey(any)] });
    for (const f of [functions.planMinio, functions.copyBatch, functions.checkMinio])
      minioSecret.grantRead(f);
    vault.grantObjects(restoreFunctions.restorePrepare, runMarkers);
    withConfig(functions.prepare);
    withConfig(restoreFunctions.restorePrepare);
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
    // Evaluate Targets (restore-verify) marks a restore about to write as running, for the purge.
    vault.grantObjects(restoreFunctions.restoreVerify, {
      read: [keys.backupCassandra, keys.backupMinio, keys.restores],
      write: [restoreStartedKey(any)],
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
    const hostCommandLogs = new LogGroup(this, 'HostCommandLogs', {
      logGroupName: names.hostCommandLogGroup,
      retention: RetentionDays.ONE_MONTH,
    });

    // The hosts (hybrid activation role): the SSTables and per-node files they upload and restore, the
    // wire-server archive they write and restore, the schema and row counts, and the row counts they
    // take on a restored cluster, PostgreSQL base backups and archived WAL, and their command output.
    // No delete: a host never removes anything from the vault.
    this.hostRole = new HostAccess(this, 'HostAccess', {
      vault,
      outputLogGroup: hostCommandLogs,
      grant: {
        read: [keys.backupCassandra, keys.sstables, keys.archive, keys.backupPostgresql, keys.postgresqlWal],
        write: [
          keys.backupCassandra,
          keys.sstables,
          keys.archive,
          restoreRowCountsKey(any),
          keys.backupPostgresql,
          keys.postgresqlWal,
        ],
      },
    }).role;
    // The archive script uploads under the archive key; the restore script extracts it.
    vault.grantArchiveKey(this.hostRole, { encrypt: true, decrypt: true });
    // A restore from the archive (`"source": "archive"`, README "Archive") reads the backup there: the
    // backup's index files (backups/) and its content-addressed objects (objects/), read only, with
    // kms:Decrypt on the archive key through S3 in the archive region. Only with `archive` configured.
    if (config.archive) {
      const archiveSource = new ArchiveGrants(config.archive, names);
      const archiveIndex = `${archivePrefixes.backups}*`;
      const archiveObjects = `${archivePrefixes.objects}*`;
      archiveSource.grantObjects(this.hostRole, { read: [archiveIndex, archiveObjects] });
      for (const f of [
        restoreFunctions.restorePrepare,
        restoreFunctions.restoreCheckTargets,
        restoreFunctions.restorePlanMinio,
        restoreFunctions.restoreVerify,
      ])
        archiveSource.grantObjects(f, { read: [archiveIndex] });
      archiveSource.grantObjects(restoreFunctions.restoreCopyBatch, { read: [archiveObjects] });
    }
    new CfnOutput(this, 'HostRoleName', {
      description:
        'IAM role for the hosts: aws ssm create-activation --iam-role <this> (README, "Deploy"); it holds the vault keys the host scripts use',
      value: this.hostRole.roleName,
    });

    const instanceArns = [
      ...config.cassandra.nodes.map((n) => n.instanceId),
      config.wireServer.instanceId,
      // PostgreSQL (optional): every server, since the preflight may pick any standby.
      ...(config.postgresql
        ? [config.postgresql.primary, ...config.postgresql.standbys].map((s) => s.instanceId)
        : []),
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
    // The send function may send only our documents, to the configured hosts.
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
    const backupDocuments = {
      preflight: documentName('preflight'),
      cassandraSnapshot: documentName('cassandraSnapshot'),
      cassandraClearSnapshot: documentName('cassandraClearSnapshot'),
      wireServerArchive: documentName('wireServerArchive'),
      postgresqlPreflight: documentName('postgresqlPreflight'),
      postgresqlBackup: documentName('postgresqlBackup'),
    };
    const restoreDocuments = {
      preflight: documentName('preflight'),
      restoreWireServer: documentName('restoreWireServer'),
      restoreCassandraSchema: documentName('restoreCassandraSchema'),
      restoreCassandraNode: documentName('restoreCassandraNode'),
      cassandraCountRows: documentName('cassandraCountRows'),
      postgresqlRestore: documentName('postgresqlRestore'),
    };

    this.backupStateMachine = new StateMachine(this, 'BackupStateMachine', {
      stateMachineName: names.backupStateMachine,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: backupDefinition(new Construct(this, 'BackupStates'), {
        functions,
        documents: backupDocuments,
        vault: bucket,
        wireServerArchiveKeyArn: this.vault.archiveKey.keyArn,
        outageBudget: Duration.seconds(config.retry.outageBudgetSeconds),
        runTimeout: Duration.hours(backupRunTimeoutHours),
      }),
      timeout: Duration.hours(backupRunTimeoutHours),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'BackupStateMachineLogs', { retention: RetentionDays.THREE_MONTHS }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    this.restoreStateMachine = new StateMachine(this, 'RestoreStateMachine', {
      stateMachineName: names.restoreStateMachine,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: restoreDefinition(new Construct(this, 'RestoreStates'), {
        functions: restoreFunctions,
        documents: restoreDocuments,
        vault: bucket,
      }),
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'RestoreStateMachineLogs', { retention: RetentionDays.THREE_MONTHS }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    // Prepare and Restore Prepare ask whether the run an earlier started.json names still runs
    // (states:DescribeExecution, core/abandoned-runs.ts): executions of these two state machines only.
    // The state machines' names, not their ARNs: the functions' policies must not depend on the
    // state machines that invoke them (a circular dependency).
    const executionsOf = (stateMachineName: string) =>
      Arn.format(
        {
          service: 'states',
          resource: 'execution',
          resourceName: `${stateMachineName}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        },
        this,
      );
    for (const f of [functions.prepare, restoreFunctions.restorePrepare])
      f.addToRolePolicy(
        new PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [executionsOf(names.backupStateMachine), executionsOf(names.restoreStateMachine)],
        }),
      );
    // The Distributed Maps read their items (JSONL batch indexes) and write run reports (ResultWriter).
    // CDK grants both the whole vault for them: the Deny keeps them to these keys.
    vault.grantObjects(this.restoreStateMachine, { read: [keys.restores], write: [keys.mapRuns] });
    vault.limitObjectAccess(this.restoreStateMachine, [keys.restores, keys.mapRuns]);
    vault.grantObjects(this.backupStateMachine, { read: [keys.backupMinio], write: [keys.mapRuns] });
    vault.limitObjectAccess(this.backupStateMachine, [keys.backupMinio, keys.mapRuns]);

    // ---- Host commands (statemachines/host-command.ts): a `.waitForTaskToken` task per command;
    // SSM's status-change event completes it. The send function may send only our documents to the
    // configured instances and write token records; the completion function may read invocations,
    // read and delete token records, and answer tasks of these two state machines only.
    functions.hostCommand.addToRolePolicy(
      new PolicyStatement({ actions: ['ssm:SendCommand'], resources: [...documentArns, ...instanceArns] }),
    );
    // A restore into instances that are not in the configuration (a fresh cluster): the operator tags
    // them `wire-backup:installation=<clusterName>` (README, "Restoring"); our documents only.
    functions.hostCommand.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          Arn.format(
            {
              service: 'ssm',
              resource: 'managed-instance',
              resourceName: '*',
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            },
            this,
          ),
          Arn.format(
            {
              service: 'ec2',
              resource: 'instance',
              resourceName: '*',
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            },
            this,
          ),
        ],
        conditions: { StringEquals: { [`ssm:resourceTag/${installationTagKey}`]: config.clusterName } },
      }),
    );
    // The token record: written before SendCommand, deleted again when SendCommand fails.
    vault.grantObjects(functions.hostCommand, { write: [keys.hostCommands], delete: [keys.hostCommands] });
    const hostCommandComplete = fn(
      hostCommandCompleteHandler,
      'Sends a host command’s result or HostCommandError to the task waiting for it',
      common,
      Duration.minutes(1),
      256,
    );
    // GetCommandInvocation has no resource-level permissions (IAM matches it only on "*").
    hostCommandComplete.addToRolePolicy(
      new PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }),
    );
    vault.grantObjects(hostCommandComplete, { read: [keys.hostCommands], delete: [keys.hostCommands] });
    hostCommandComplete.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [this.backupStateMachine.stateMachineArn, this.restoreStateMachine.stateMachineArn],
      }),
    );
    new Rule(this, 'HostCommandStatusRule', {
      description: 'Completes the wire-backup task waiting for an SSM command that ended',
      eventPattern: {
        source: ['aws.ssm'],
        detailType: [commandInvocationDetailType],
        detail: {
          'document-name': Object.values(documents.names),
          status: [...finalInvocationStatuses],
        },
      },
      targets: [
        new LambdaFunction(hostCommandComplete, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

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
    const purgeEnv: FunctionEnvironment = {
      ...common,
      [envNames.configParameter]: configParameter.parameterName,
    };
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
    // Plan and report read what they must and write their own documents (purges/); they never delete.
    // Only Delete Expired gets s3:DeleteObjectVersion, on the four folders retention prunes (backups,
    // SSTables, MinIO objects, archived WAL); restores/ and purges/ it only reads (a restore that started
    // since the plan stops it).
    const retained = [`${vaultPrefixes.backups}*`, keys.sstables, keys.minioObjects, keys.postgresqlWal];
    const purges = `${vaultPrefixes.purges}*`;
    withConfig(purgeFunctions.purgePlan);
    vault.grantObjects(purgeFunctions.purgePlan, {
      read: [`${vaultPrefixes.backups}*`, keys.restores, purges],
      write: [purges],
      listVersions: true,
      readLocks: retained,
    });
    vault.grantObjects(purgeFunctions.purgeDelete, {
      read: [purges, keys.restores],
      deleteVersions: retained,
    });
    vault.grantObjects(purgeFunctions.purgeReport, { read: [purges], write: [purges] });
    // And the bucket refuses version deletes to everyone else, administrators included.
    if (purgeFunctions.purgeDelete.role) vault.denyVersionDeletesExcept([purgeFunctions.purgeDelete.role]);
    this.purgeStateMachine = new StateMachine(this, 'PurgeStateMachine', {
      stateMachineName: names.purgeStateMachine,
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

    // ---- Scheduled deep verification (README, "Monitoring and inspection"): re-hashes this week's share
    // of the newest complete backup's objects; reads manifests, markers, SSTables, MinIO objects and the
    // PostgreSQL base backups, writes nothing. Not the wire-server archive: only Verify wire-server
    // Archive and the restore read Wire's secrets (the backup re-hashes every new archive anyway).
    const scheduledVerify = fn(
      'scheduled-verify',
      'Re-hashes a rotating share of the newest backup’s objects, read-only',
      { ...common, [envNames.scheduledVerifyShares]: String(config.vault.scheduledVerify.shares) },
      Duration.minutes(15),
      1024,
    );
    vault.grantObjects(scheduledVerify, {
      read: [
        keys.manifests,
        ...keys.markers,
        keys.backupCassandra,
        keys.backupMinio,
        keys.backupPostgresql,
        keys.sstables,
        keys.minioObjects,
      ],
    });
    // No async retry: a damaged object fails the same way again (the SDK already retries transient
    // errors); the alarm goes off and next week's run looks again.
    scheduledVerify.configureAsyncInvoke({ retryAttempts: 0 });
    new Rule(this, 'ScheduledVerifySchedule', {
      description: 'Starts the wire-backup scheduled deep verification',
      schedule: Schedule.expression(config.vault.scheduledVerify.schedule),
      targets: [new LambdaFunction(scheduledVerify)],
    });

    // ---- Cross-region archive copies (README, "Archive"): started by the backup's "Backup Completed"
    // event. The Lambdas read the vault (backups/, cassandra/, minio/ only) and write the archive bucket
    // in archive.region (deployed by WireBackupArchiveStack) under its two prefixes.
    this.archiveStateMachine = undefined;
    if (config.archive) {
      const archiveEnv: FunctionEnvironment = {
        ...common,
        [envNames.archiveBucket]: archiveBucketName(config.archive, names),
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
      // Vault: Plan reads the backup's own folder (manifest, file lists, bucket manifests); Copy reads
      // the objects it lists. Archive bucket (another region, its own key): Plan checks for and writes
      // the archive's object list, Copy writes objects/ and the backup's index files, Commit the manifest.
      const archiveTarget = new ArchiveGrants(config.archive, names);
      vault.grantObjects(archiveFunctions.archivePlan, { read: [`${vaultPrefixes.backups}*`] });
      archiveTarget.grantObjects(archiveFunctions.archivePlan, {
        read: [`${archivePrefixes.backups}*`],
        write: [`${archivePrefixes.backups}*`],
      });
      vault.grantObjects(archiveFunctions.archiveCopy, {
        read: [`${vaultPrefixes.backups}*`, keys.sstables, keys.minioObjects],
      });
      // The archive copy carries the wire-server archive too (a disaster-recovery copy without Wire's
      // secrets would not restore Wire): it reads it, hashing in flight, so it may decrypt with its key.
      if (archiveFunctions.archiveCopy.role)
        vault.grantArchiveKey(archiveFunctions.archiveCopy.role, { decrypt: true });
      archiveTarget.grantObjects(archiveFunctions.archiveCopy, {
        read: [`${archivePrefixes.backups}*`, `${archivePrefixes.objects}*`],
        write: [`${archivePrefixes.backups}*`, `${archivePrefixes.objects}*`],
      });
      archiveTarget.grantObjects(archiveFunctions.archiveCommit, { write: [`${archivePrefixes.backups}*`] });
      const archiveMachine = new StateMachine(this, 'ArchiveStateMachine', {
        stateMachineName: names.archiveStateMachine,
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
    if (config.archive) {
      // Where `wire-backup show` and `archive list` read the archive copies (another region).
      new CfnOutput(this, 'ArchiveBucketName', { value: archiveBucketName(config.archive, names) });
      new CfnOutput(this, 'ArchiveRegion', { value: config.archive.region });
    }

    const alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'wire-backup alarms', enforceSSL: true });
    if (config.alarmEmail) alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    new Monitoring(this, 'Monitoring', {
      clusterName: config.clusterName,
      stateMachines: {
        Backup: this.backupStateMachine,
        Restore: this.restoreStateMachine,
        Purge: this.purgeStateMachine,
        ...(this.archiveStateMachine ? { Archive: this.archiveStateMachine } : {}),
      },
      functions: {
        ScheduledVerify: {
          fn: scheduledVerify,
          description:
            "The scheduled deep verification found damaged or missing objects (its error names each, and the backups that reference them), or could not run: see the scheduled-verify function's log; run 'wire-backup verify <id> --deep' on the named backups and a full backup ('wire-backup backup --full')",
        },
      },
      alarmTopic,
    });
  }
}

const hostCommandCompleteHandler = 'host-command-complete';
/** Construct id of the host-command send function (it alone may send SSM commands; see `lib/nag.ts`). */
export const hostCommandSendId = pascal('host-command-send');
/** Construct ids of Prepare and Restore Prepare (their roles alone may describe executions; see `lib/nag.ts`). */
export const runSettlingIds: readonly string[] = [pascal('prepare'), pascal('restore-prepare')];
/** Construct id of the host-command completion function (its role alone may call ssm:GetCommandInvocation; see `lib/nag.ts`). */
export const hostCommandCompleteId = pascal(hostCommandCompleteHandler);

function pascal(kebab: string): string {
  return kebab.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * Reads the PEM bundle of MinIO's private CA for the functions' environment (Lambda allows 4 KB of
 * environment in all): every block must be a certificate, and the bundle small enough to fit.
 */
function readCaBundle(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `minio.caBundleFile: cannot read ${file} (${(error as Error).message}): give the path of the CA's PEM file`,
    );
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new Error(`minio.caBundleFile: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(
        `minio.caBundleFile: certificate ${i + 1} of ${file} does not parse (${(error as Error).message})`,
      );
    }
  }
  const bundle = `${blocks.join('\n')}\n`;
  if (bundle.length > 2500)
    throw new Error(
      `minio.caBundleFile: ${file} holds ${bundle.length} characters of certificates; Lambda environments allow 4 KB in all: keep only the CA that issued MinIO's certificate (and its intermediate), at most 2500 characters`,
    );
  return bundle;
}
