import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { backupManifestSchema } from '../../functions/core/contract/backup.js';
import { type BackupFolder, basesOfRunningBackup } from '../../functions/core/purge-plan.js';
import { loadConfigFile, parseConfig } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

const exampleFile = join(projectRoot, 'config', 'example.json');

function synth(): Template {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', { config: loadConfigFile(exampleFile) });
  return Template.fromStack(stack);
}

describe('retention configuration', () => {
  it('refuses counts that would keep nothing, naming the fix', () => {
    const raw = JSON.parse(readFileSync(exampleFile, 'utf8'));
    raw.vault = { retention: { hourly: 0, daily: 0, weekly: 0, monthly: 0 } };
    expect(() => parseConfig(raw)).toThrow(/vault.retention: every retention count is 0.*set at least one/);
  });
  it('defaults the failed-backup age, grace period and purge schedule', () => {
    const config = loadConfigFile(exampleFile);
    expect(config.vault.retention).toMatchObject({
      failedDays: 7,
      graceHours: 24,
      purgeSchedule: 'rate(1 day)',
    });
  });
});

describe('purge in the stack', () => {
  const template = synth();
  it('schedules the wire-purge state machine', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'wire-purge' });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: Match.arrayWith([Match.objectLike({ Input: '{"trigger":"schedule"}' })]),
    });
  });
  it('lets the purge delete only below backups/, cassandra/, minio/ and archived WAL, and only from its delete Lambda', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy'));
    const deleteScopes = (idPattern: RegExp) =>
      policies
        .filter(([id]) => idPattern.test(id))
        .flatMap(
          ([, p]) =>
            p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
        )
        .filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:DeleteObject')))
        .flatMap((st) => [st.Resource].flat().map((r) => JSON.stringify(r).match(/"\/([^"]+)"/)?.[1]))
        .sort();
    expect(deleteScopes(/^PurgeDelete/)).toEqual([
      'backups/*',
      'cassandra/*',
      'minio/*',
      'postgresql/*/wal/*',
    ]);
    expect(deleteScopes(/^Purge(Plan|Report)/)).toEqual([]);
  });
});

describe('archive in the stack', () => {
  const template = synth();
  it('starts wire-archive on every "Backup Completed" event and alarms when it fails', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'wire-archive' });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['wire-backup'], 'detail-type': ['Backup Completed'] },
    });
    // The Monitoring construct's alarms, as for backup and restore.
    for (const machine of ['Purge', 'Archive'])
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: Match.stringLikeRegexp(`${machine} execution failed`),
        MetricName: 'ExecutionsFailed',
      });
  });
  it('lets the archive Lambdas only read the vault and write the archive bucket in its region', () => {
    const policies = Object.fromEntries(
      Object.entries(template.findResources('AWS::IAM::Policy'))
        .filter(([id]) => /^Archive(Plan|Copy|Commit)Role/.test(id))
        .map(([id, p]) => [id.replace(/RoleDefaultPolicy[0-9A-F]{8}$/, ''), p]),
    );
    expect(Object.keys(policies).sort()).toEqual(['ArchiveCommit', 'ArchiveCopy', 'ArchivePlan']);
    for (const [name, p] of Object.entries(policies)) {
      const statements = p.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Resource: unknown;
      }[];
      const text = JSON.stringify(p);
      expect(text).toContain('alias/wire-backup-archive');
      expect(text).toContain('s3.eu-central-2.amazonaws.com');
      // Only Copy writes content-addressed objects; nobody deletes anything anywhere.
      expect(/wire-backup-archive-.*eu-central-2\/objects\/\*/.test(text), name).toBe(name === 'ArchiveCopy');
      expect(
        statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:Delete'))),
        name,
      ).toEqual([]);
    }
  });
});

describe('basesOfRunningBackup', () => {
  const complete = (backupId: string, completedAt: string): BackupFolder => ({
    backupId,
    status: 'complete',
    startedAt: new Date(completedAt),
    manifest: backupManifestSchema.parse({
      formatVersion: 1,
      backupId,
      clusterName: 'wire',
      startedAt: completedAt,
      completedAt,
      durationSeconds: 1,
      executionId: 'x',
      previousBackupId: null,
      components: { wireServer: false, cassandra: false, minio: false },
      wireServer: null,
      cassandra: null,
      minio: null,
      totals: { bytes: 0, newBytes: 0, reusedBytes: 0, files: 0, objects: 0 },
    }),
  });
  const running: BackupFolder = {
    backupId: '20261126T100000Z',
    status: 'running',
    startedAt: new Date('2026-11-26T10:00:00Z'),
  };
  it('pins the newest backup completed before the start', () => {
    const list = [
      complete('20261126T080000Z', '2026-11-26T08:20:00Z'),
      complete('20261126T090000Z', '2026-11-26T09:20:00Z'),
    ];
    expect(basesOfRunningBackup(running, list, 0)).toEqual(['20261126T090000Z']);
  });
  it('also pins an older-id backup that completed around the start (Prepare may have seen it)', () => {
    const list = [
      complete('20261126T080000Z', '2026-11-26T08:20:00Z'),
      complete('20261126T090000Z', '2026-11-26T10:00:30Z'),
      complete('20261126T110000Z', '2026-11-26T11:10:00Z'),
    ];
    expect(basesOfRunningBackup(running, list, 0)).toEqual(['20261126T090000Z', '20261126T080000Z']);
  });
});

describe('scheduled deep verification in the stack', () => {
  const template = synth();
  it('runs scheduled-verify weekly by default, without async retries, and alarms on its errors', () => {
    expect(loadConfigFile(exampleFile).vault.scheduledVerify).toEqual({
      schedule: 'rate(7 days)',
      shares: 4,
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(7 days)',
      Targets: Match.arrayWith([
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ScheduledVerify'), 'Arn'] } }),
      ]),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SCHEDULED_VERIFY_SHARES: '4' }) },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp(
        'scheduled deep verification found damaged or missing objects',
      ),
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
    });
  });
  it('lets it read only manifests, markers, data and index files — not the wire-server archive — and write nothing', () => {
    const [policy, ...others] = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      /^ScheduledVerifyRole/.test(id),
    );
    expect(others).toEqual([]);
    const statements = (policy?.[1].Properties.PolicyDocument.Statement ?? []) as {
      Action: string | string[];
      Resource: unknown;
    }[];
    const actions = statements.flatMap((st) => [st.Action].flat());
    expect(actions.filter((a) => /^s3:(Put|Delete|Abort)/.test(a))).toEqual([]);
    const readScopes = statements
      .filter((st) => [st.Action].flat().includes('s3:GetObject'))
      .flatMap((st) => [st.Resource].flat().map((r) => JSON.stringify(r).match(/"\/([^"]+)"\]\]\}$/)?.[1]))
      .sort();
    expect(readScopes).toEqual([
      'backups/*/cassandra/*',
      'backups/*/failed.json',
      'backups/*/manifest.json',
      'backups/*/minio/*',
      'backups/*/postgresql/*',
      'backups/*/started.json',
      'cassandra/*',
      'minio/*',
    ]);
  });
});
