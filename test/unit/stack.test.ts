import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

function synth(withNag = false) {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', {
    config: loadConfigFile(join(projectRoot, 'config', 'example.json')),
  });
  if (withNag) {
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
    NagSuppressions.addStackSuppressions(stack, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Wildcards are prefix-scoped vault grants (backups/*, cassandra/*, minio/*), KMS data-key actions from bucket grants, ssm:GetCommandInvocation (no resource-level permissions) and the Distributed Map starting its own child executions.',
      },
      {
        id: 'AwsSolutions-IAM4',
        reason: 'AWSLambdaBasicExecutionRole is the managed policy for Lambda logs.',
      },
      {
        id: 'AwsSolutions-S1',
        reason:
          'Vault access is logged with CloudTrail data events in the operator account; a second log bucket would hold the same.',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'Node.js 22 is pinned on purpose (DESIGN: target Node 22 everywhere).',
      },
    ]);
  }
  app.synth();
  return { stack, template: Template.fromStack(stack) };
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
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
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

  it('passes cdk-nag AwsSolutions checks with every suppression reasoned', () => {
    const { stack } = synth(true);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => e.entry.data)).toEqual([]);
  });
});
