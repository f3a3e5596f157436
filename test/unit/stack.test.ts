import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ssmOutputLogGroupName } from '../../functions/core/contract/host-command.js';
import { WireBackupArchiveStack } from '../../lib/archive-stack.js';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { applyNagChecks, suppressNagFindings } from '../../lib/nag.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

function synth(withNag = false) {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', {
    config: loadConfigFile(join(projectRoot, 'config', 'example.json')),
  });
  if (withNag) {
    // What lib/app.ts does: the checks, and the per-resource suppressions of lib/nag.ts (no stack-wide ones).
    applyNagChecks(app);
    suppressNagFindings(stack);
  }
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
}

/** The Allow statements of every IAM policy attached to the role whose logical id starts with `rolePrefix`. */
function allowed(template: Template, rolePrefix: string): { actions: string[]; resources: string }[] {
  const out: { actions: string[]; resources: string }[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = JSON.stringify(policy.Properties.Roles);
    if (!new RegExp(`"Ref":"${rolePrefix}Role[0-9A-F]{8}"`).test(roles)) continue;
    for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
      if (s.Effect === 'Allow')
        out.push({ actions: [s.Action].flat(), resources: JSON.stringify(s.Resource) });
    }
  }
  return out;
}

/** Vault key patterns the role may use `action` on. */
function vaultKeys(template: Template, rolePrefix: string, action: string): string[] {
  return allowed(template, rolePrefix)
    .filter((s) => s.actions.includes(action))
    .flatMap((s) =>
      [...s.resources.matchAll(/"VaultBucket[0-9A-F]{8}","Arn"\]\},"\/([^"]+)"/g)].map((m) => m[1] ?? ''),
    )
    .sort();
}

describe('WireBackupStack', () => {
  const { template } = synth();

  it('creates a versioned, KMS-encrypted, private vault that refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) }),
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      ObjectLockEnabled: true,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('loads each SSM document script from host-scripts with validated ENV_VAR parameters', () => {
    const docs = template.findResources('AWS::SSM::Document');
    expect(Object.keys(docs).length).toBeGreaterThanOrEqual(4);
    for (const doc of Object.values(docs)) {
      const content = doc.Properties.Content;
      expect(content.mainSteps[0].inputs.runCommand[0]).toMatch(/^#!\/usr\/bin\/env bash/);
      for (const [name, p] of Object.entries<Record<string, string>>(content.parameters)) {
        expect(p.interpolationType, name).toBe('ENV_VAR');
        expect(p.allowedPattern, name).toMatch(/^\^.*\$$/);
      }
      // Parameters reach the script only as environment variables.
      expect(content.mainSteps[0].inputs.runCommand[0]).not.toMatch(/\{\{/);
    }
  });

  it('runs Lambdas on Node.js 22 with their handler recorded for the local runner', () => {
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } });
    expect(Object.keys(fns).length).toBeGreaterThanOrEqual(11);
    for (const fn of Object.values(fns))
      expect(fn.Metadata.WireBackupHandler).toMatch(/^functions\/[a-z-]+\.handler$/);
  });

  it('writes Distributed Map results to the vault instead of the state', () => {
    const definition = JSON.stringify(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(definition).toMatch(/ResultWriter.*map-runs/);
  });

  it('schedules the backup hourly and alarms on failure and staleness', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    // Failed, TimedOut and Aborted of backup, restore, purge and archive (the example config archives),
    // staleness, and the scheduled deep verification's errors.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 14);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      expect(
        Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metric } })),
      ).toHaveLength(4);
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'WireBackup',
      MetricName: 'BackupSucceeded',
      Dimensions: [Match.objectLike({ Name: 'Cluster' }), { Name: 'service', Value: 'wire-backup' }],
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('lets only the host-command send function send commands, to the configured documents and instances', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
    const statementsOf = (p: any): Record<string, unknown>[] => p?.Properties.PolicyDocument.Statement ?? [];
    const sending = policies.filter((p) => statementsOf(p).some((s) => s.Action === 'ssm:SendCommand'));
    expect(sending).toHaveLength(1);
    expect(JSON.stringify(sending[0]?.Properties.Roles)).toMatch(/HostCommandSend/);
    const send = statementsOf(sending[0]).find((s) => s.Action === 'ssm:SendCommand');
    expect(JSON.stringify(send?.Resource)).toMatch(/managed-instance\/mi-0a1b2c3d4e5f60001/);
    expect(JSON.stringify(send?.Resource)).toMatch(/document\/WireBackup-CassandraSnapshot/);
    expect(JSON.stringify(send?.Resource)).not.toMatch(/"\*"/);
    // No state machine polls SSM any more.
    expect(JSON.stringify(policies)).not.toMatch(/ssm:getCommandInvocation/);
  });

  it('completes host commands from SSM status-change events, answering only its own state machines', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ssm'],
        'detail-type': ['EC2 Command Invocation Status-change Notification'],
        detail: {
          'document-name': Match.arrayWith(['WireBackup-CassandraSnapshot']),
          status: Match.arrayWith(['Success', 'Failed']),
        },
      },
      Targets: [Match.objectLike({ RetryPolicy: Match.anyValue() })],
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    const answer = statements.find((s) => JSON.stringify(s.Action).includes('states:SendTaskSuccess'));
    expect(answer?.Action).toEqual(['states:SendTaskSuccess', 'states:SendTaskFailure']);
    expect(JSON.stringify(answer?.Resource)).toMatch(/BackupStateMachine/);
    expect(JSON.stringify(answer?.Resource)).toMatch(/RestoreStateMachine/);
    expect(JSON.stringify(answer?.Resource)).not.toMatch(/"\*"/);
  });

  it('waits for each host command with a task token bounded by its document timeout, never a polling loop', () => {
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machines);
    expect(definition).not.toMatch(/getCommandInvocation/);
    expect(definition).not.toMatch(/Type\\+":\\+"Wait/);
    expect(definition).toMatch(/lambda:invoke\.waitForTaskToken/);
    // Snapshot (and row counts): 600 s delivery + 6 h script + 300 s margin.
    expect(definition).toMatch(/Snapshot Node\\+":\{.{0,1500}?TimeoutSeconds\\+":22500/);
  });

  it('passes cdk-nag AwsSolutions checks with only per-resource, reasoned suppressions', () => {
    const { stack, template } = synth(true);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => e.entry.data)).toEqual([]);
    // No stack-wide suppression: the stack's own metadata carries none.
    expect(JSON.stringify(template.toJSON().Metadata ?? {})).not.toMatch(/cdk_nag/);
    const suppressed = Object.values(
      template.toJSON().Resources as Record<
        string,
        { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }
      >,
    ).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(suppressed.length).toBeGreaterThan(0);
    for (const rule of suppressed) expect(rule.reason.length, rule.id).toBeGreaterThan(60);
  });

  it('grants no wildcard action to any role, and version deletes only to the purge’s Delete Expired', () => {
    const versionDeleters = new Set<string>();
    for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of [s.Action].flat()) {
          expect(action, JSON.stringify(s)).not.toMatch(/\*/);
          expect(action).not.toBe('s3:BypassGovernanceRetention');
          if (action === 's3:DeleteObjectVersion')
            versionDeleters.add(id.replace(/RoleDefaultPolicy[0-9A-F]{8}$/, ''));
        }
      }
    }
    expect([...versionDeleters]).toEqual(['PurgeDelete']);
  });

  it('lets only the MinIO planners and the host-command functions delete, and only in their own working folders', () => {
    const deleters = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes('"s3:DeleteObject"'))
      .map(([id]) => id.replace(/RoleDefaultPolicy[0-9A-F]{8}$/, ''))
      .sort();
    expect(deleters).toEqual(['HostCommandComplete', 'HostCommandSend', 'PlanMinio', 'RestorePlanMinio']);
    expect(vaultKeys(template, 'PlanMinio', 's3:DeleteObject')).toEqual(['backups/*/minio/*']);
    expect(vaultKeys(template, 'RestorePlanMinio', 's3:DeleteObject')).toEqual(['restores/*']);
    // Task-token records: written by the send function, read and deleted by the completion.
    for (const role of ['HostCommandSend', 'HostCommandComplete'])
      expect(vaultKeys(template, role, 's3:DeleteObject')).toEqual(['host-commands/*.json']);
    expect(vaultKeys(template, 'HostCommandSend', 's3:PutObject')).toEqual(['host-commands/*.json']);
    expect(vaultKeys(template, 'HostCommandSend', 's3:GetObject')).toEqual([]);
    expect(vaultKeys(template, 'HostCommandComplete', 's3:GetObject')).toEqual(['host-commands/*.json']);
    expect(vaultKeys(template, 'HostCommandComplete', 's3:PutObject')).toEqual([]);
  });

  it('keeps Prepare and Restore Prepare to manifests and markers, and the archive to its verifier and the hosts', () => {
    // The markers of backups and restores: abandoned-runs.ts settles earlier runs of both kinds.
    const markers = [
      'backups/*/failed.json',
      'backups/*/manifest.json',
      'backups/*/started.json',
      'restores/*/failed.json',
      'restores/*/report.json',
      'restores/*/started.json',
    ];
    // Prepare also reads the previous backup's parts files: where each bucket's plan splits.
    expect(vaultKeys(template, 'Prepare', 's3:GetObject')).toEqual(
      [...markers, 'backups/*/minio/*.parts.json'].sort(),
    );
    expect(vaultKeys(template, 'RestorePrepare', 's3:GetObject')).toEqual(markers);
    for (const prepare of ['Prepare', 'RestorePrepare']) {
      expect(vaultKeys(template, prepare, 's3:PutObject')).toEqual(
        expect.arrayContaining(['backups/*/failed.json', 'restores/*/failed.json']),
      );
    }
    const archiveReaders = Object.keys(template.findResources('AWS::IAM::Role'))
      .map((id) => id.replace(/Role[0-9A-F]{8}$/, ''))
      .filter((role) => vaultKeys(template, role, 's3:GetObject').includes('backups/*/wire-server.tar.gz'));
    // The hosts read it to restore the folder (restore-wire-server.sh).
    expect(archiveReaders.sort()).toEqual(['Commit', 'HostAccess', 'VerifyArchive']);
    // Commit only checks that the archive exists (HEAD): it cannot decrypt anything.
    expect(allowed(template, 'Commit').flatMap((s) => s.actions)).not.toContain('kms:Decrypt');
  });

  it('gives no principal kms:* in the key policies, and key data use only through S3', () => {
    const keys = Object.entries(template.findResources('AWS::KMS::Key'));
    expect(keys.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'VaultArchiveKey',
      'VaultKey',
    ]);
    for (const [, key] of keys) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
      const statements = key.Properties.KeyPolicy.Statement as (Statement & { Condition?: unknown })[];
      for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
      const dataUse = statements.filter((s) => [s.Action].flat().includes('kms:Decrypt'));
      expect(dataUse.length).toBeGreaterThan(0);
      for (const s of dataUse) expect(JSON.stringify(s.Condition)).toMatch(/kms:ViaService.*s3\./);
    }
  });

  it('gives no principal kms:* in the archive bucket’s key policy (WireBackupArchive)', () => {
    const config = loadConfigFile(join(projectRoot, 'config', 'example.json'));
    if (!config.archive) throw new Error('config/example.json has no archive section');
    const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
    const archive = new WireBackupArchiveStack(app, 'WireBackupArchive', {
      archive: config.archive,
      env: { region: config.archive.region },
    });
    const [key] = Object.values(Template.fromStack(archive).findResources('AWS::KMS::Key'));
    const statements = key?.Properties.KeyPolicy.Statement as (Statement & { Condition?: unknown })[];
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toMatch(/\*/);
    const dataUse = statements.filter((s) => [s.Action].flat().includes('kms:Decrypt'));
    expect(dataUse).toHaveLength(1);
    expect(JSON.stringify(dataUse[0]?.Condition)).toContain(`s3.${config.archive.region}.amazonaws.com`);
  });

  it('lets only the hosts, Verify wire-server Archive and Copy to Archive use the archive key, named in its key policy', () => {
    const [[archiveKeyId, archiveKey] = ['', undefined]] = Object.entries(
      template.findResources('AWS::KMS::Key'),
    ).filter(([id]) => id.startsWith('VaultArchiveKey'));
    const statements = archiveKey?.Properties.KeyPolicy.Statement as {
      Action: string | string[];
      Principal: { AWS: unknown };
    }[];
    // Data use is granted to named roles only, never delegated to the account's IAM policies.
    const dataUsers = statements
      .filter((s) => [s.Action].flat().includes('kms:Decrypt'))
      .map((s) => JSON.stringify(s.Principal.AWS).match(/"([A-Za-z]+)Role[0-9A-F]{8}"/)?.[1] ?? 'not a role')
      .sort();
    expect(dataUsers).toEqual(['ArchiveCopy', 'HostAccess', 'VerifyArchive']);
    const keyUsers = Object.keys(template.findResources('AWS::IAM::Role'))
      .map((id) => id.replace(/Role[0-9A-F]{8}$/, ''))
      .filter((role) => allowed(template, role).some((s) => s.resources.includes(`"${archiveKeyId}","Arn"`)))
      .sort();
    expect(keyUsers).toEqual(['ArchiveCopy', 'HostAccess', 'VerifyArchive']);
    // Only the hosts write (GenerateDataKey); Verify wire-server Archive cannot decrypt the vault key.
    const generators = keyUsers.filter((role) =>
      allowed(template, role).some(
        (s) => s.resources.includes(`"${archiveKeyId}","Arn"`) && s.actions.includes('kms:GenerateDataKey'),
      ),
    );
    expect(generators).toEqual(['HostAccess']);
    expect(
      allowed(template, 'VerifyArchive').filter(
        (s) => s.actions.includes('kms:Decrypt') && !s.resources.includes(`"${archiveKeyId}","Arn"`),
      ),
    ).toEqual([]);
  });

  it('refuses the wire-server archive under any key but the archive key, by bucket policy', () => {
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter((p) =>
      JSON.stringify(p.Properties.Bucket).includes('VaultBucket'),
    );
    const statements = (policy?.Properties.PolicyDocument.Statement ?? []) as {
      Sid?: string;
      Effect: string;
      Action: unknown;
    }[];
    const denies = statements.filter((s) => s.Sid?.startsWith('ArchiveOnlyUnderTheArchiveKey'));
    expect(denies).toHaveLength(3);
    for (const s of denies) {
      expect(s).toMatchObject({ Effect: 'Deny', Action: 's3:PutObject', Principal: { AWS: '*' } });
      expect(JSON.stringify(s)).toContain('/backups/*/wire-server.tar.gz');
    }
    expect(JSON.stringify(denies)).toMatch(
      /StringNotEquals":\{"s3:x-amz-server-side-encryption-aws-kms-key-id":\{"Fn::GetAtt":\["VaultArchiveKey[0-9A-F]{8}","Arn"\]/,
    );
  });

  it('locks the vault in compliance mode for the configured days and logs access to it', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } },
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'vault/' }),
    });
  });

  it('sends host command output to a log group of the stack, with a retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/wire-backup/host-commands',
      RetentionInDays: 30,
    });
    // The send function's SendCommand names this group (test/unit/host-command-send.test.ts).
    expect(ssmOutputLogGroupName).toBe('/wire-backup/host-commands');
  });

  it('sweeps snapshots only once no backup execution that took them can still run', () => {
    const sweep = readFileSync(join(projectRoot, 'host-scripts', 'lib', 'snapshots.sh'), 'utf8');
    const hours = Number(/^readonly STALE_SNAPSHOT_HOURS=(\d+)$/m.exec(sweep)?.[1]);
    const [backup] = Object.values(
      template.findResources('AWS::StepFunctions::StateMachine', {
        Properties: { StateMachineName: 'wire-backup' },
      }),
    );
    // The execution's own TimeoutSeconds is the largest in the definition (tasks have shorter ones).
    const definition = JSON.stringify(backup?.Properties.DefinitionString);
    const timeout = Math.max(
      ...[...definition.matchAll(/TimeoutSeconds\\":(\d+)/g)].map((m) => Number(m[1])),
    );
    expect(timeout).toBeGreaterThan(0);
    expect(hours * 3600).toBeGreaterThan(timeout);
  });

  it('sets a retention on every log group', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups).length).toBeGreaterThanOrEqual(19);
    for (const [id, g] of Object.entries(groups)) expect(g.Properties.RetentionInDays, id).toBeGreaterThan(0);
  });
});
