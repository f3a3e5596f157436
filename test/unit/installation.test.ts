import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { envNames } from '../../functions/core/env.js';
import { WireBackupArchiveStack } from '../../lib/archive-stack.js';
import { parseConfig, type WireBackupConfig } from '../../lib/config.js';
import {
  environmentBytes,
  lambdaEnvironmentMaxBytes,
  WireFunction,
} from '../../lib/constructs/wire-function.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { applyNagChecks, suppressNagFindings } from '../../lib/nag.js';
import { resourceNames } from '../../lib/names.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

/**
 * Deployable for real: the configuration reaches the functions through an SSM parameter (not one
 * environment variable, which Lambda caps at 4 KB), and `namePrefix` lets two installations share an
 * account and a region. Synthesized without bundling, with cdk-nag.
 */
const example = JSON.parse(readFileSync(join(projectRoot, 'config', 'example.json'), 'utf8'));
/** The archive stack's account: the backup stack is environment-agnostic, as `lib/app.ts` makes it. */
const account = '123456789012';

function withNodes(n: number, extra: Record<string, unknown> = {}): WireBackupConfig {
  return parseConfig({
    ...example,
    ...extra,
    cassandra: {
      ...example.cassandra,
      nodes: Array.from({ length: n }, (_, i) => ({
        instanceId: `mi-0a1b2c3d4e5f6${String(i).padStart(4, '0')}`,
        name: `cassandra-${i + 1}`,
        // What Wire's inventories give each node: its address (restores stream to it).
        address: `10.20.${Math.floor(i / 200)}.${(i % 200) + 10}`,
      })),
    },
  });
}

function newApp(): App {
  return new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
}

function addInstallation(app: App, config: WireBackupConfig): Stack[] {
  const names = resourceNames(config);
  const stack = new WireBackupStack(app, names.stack, { config });
  suppressNagFindings(stack);
  const stacks: Stack[] = [stack];
  if (config.archive) {
    const archive = new WireBackupArchiveStack(app, names.archiveStack, {
      archive: config.archive,
      namePrefix: config.namePrefix,
      env: { account, region: config.archive.region },
    });
    suppressNagFindings(archive);
    stacks.push(archive);
  }
  return stacks;
}

describe('configuration in SSM Parameter Store', () => {
  const config = withNodes(40);
  const app = newApp();
  const [stack] = addInstallation(app, config);
  if (!stack) throw new Error('no stack');
  applyNagChecks(app);
  app.synth();
  const template = Template.fromStack(stack);
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));
  const parameterId = Object.keys(template.findResources('AWS::SSM::Parameter'))[0];

  it('holds a 40-node configuration that one environment variable could not', () => {
    const json = JSON.stringify(config);
    expect(json.length).toBeGreaterThan(lambdaEnvironmentMaxBytes);
    const [parameter, ...others] = Object.values(template.findResources('AWS::SSM::Parameter'));
    expect(others).toEqual([]);
    expect(parameter?.Properties.Name).toBe('/wire-backup/config');
    expect(parameter?.Properties.Tier).toBe('Advanced');
    expect(parseConfig(JSON.parse(parameter?.Properties.Value)).cassandra.nodes).toHaveLength(40);
    console.log(
      `config of 40 nodes: ${json.length} characters (Lambda environment limit ${lambdaEnvironmentMaxBytes} bytes); largest function environment now ${Math.max(...functions.map((f) => environmentBytes(f.Properties.Environment?.Variables ?? {})))} bytes`,
    );
  });

  it('gives the functions that read it its name and ssm:GetParameter on it alone', () => {
    const readers = functions.filter((f) => f.Properties.Environment?.Variables?.[envNames.configParameter]);
    expect(readers.map((f) => f.Properties.Description).sort()).toEqual([
      'Decides what retention lets go from the kept backups’ manifests; writes the plan, deletes nothing',
      'Validates input, allocates the backup id, writes the started marker',
      'Validates restore input, resolves the backup, plans the restore',
    ]);
    for (const f of functions)
      expect(environmentBytes(f.Properties.Environment?.Variables ?? {})).toBeLessThan(
        lambdaEnvironmentMaxBytes,
      );
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
    );
    const getParameter = statements.filter((s) => JSON.stringify(s.Action).includes('ssm:GetParameter'));
    expect(getParameter).toHaveLength(3);
    for (const s of getParameter) {
      expect(s.Action).toBe('ssm:GetParameter');
      expect(JSON.stringify(s.Resource)).toContain(`"Ref":"${parameterId}"`);
    }
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => e.entry.data)).toEqual([]);
  });

  it('refuses at synth a function environment past Lambda’s 4 KB, as CreateFunction would', () => {
    const app2 = newApp();
    const scope = new Stack(app2, 'Probe');
    new WireFunction(scope, 'Prepare', {
      handlerName: 'prepare',
      description: 'the configuration in an environment variable, as before',
      environment: { [envNames.vaultBucket]: 'vault', WIRE_BACKUP_CONFIG: JSON.stringify(config) } as never,
    });
    expect(() => app2.synth()).toThrow(
      /prepare: its environment variables take about \d+ bytes; Lambda refuses more than 4096/,
    );
  });
});

describe('namePrefix', () => {
  it('gives two installations in one account and region names that do not collide', () => {
    const app = newApp();
    const stacks = [
      ...addInstallation(app, withNodes(3, { namePrefix: 'wire-prod', clusterName: 'wire-prod' })),
      ...addInstallation(app, withNodes(3, { namePrefix: 'wire-test', clusterName: 'wire-test' })),
    ];
    applyNagChecks(app);
    app.synth();
    expect(stacks.map((s) => s.stackName)).toEqual([
      'wire-prod-wire-backup',
      'wire-prod-wire-backup-archive',
      'wire-test-wire-backup',
      'wire-test-wire-backup-archive',
    ]);
    // Every literal name of every resource, by installation: not an inline policy's (its role's own),
    // a topic's display name or an alarm's metric name, which need not be unique.
    const nameProperty = /(^Name$|Name$|^Alias.*)/;
    const fixedNames = (stack: Stack): string[] => {
      const resources = Template.fromStack(stack).toJSON().Resources as Record<
        string,
        { Type: string; Properties?: Record<string, unknown> }
      >;
      return Object.values(resources).flatMap((r) =>
        Object.entries(r.Properties ?? {})
          .filter(
            ([key, value]) =>
              nameProperty.test(key) &&
              !['ClusterName', 'PolicyName', 'DisplayName', 'MetricName'].includes(key) &&
              typeof value === 'string',
          )
          .map(([key, value]) => `${r.Type}.${key}=${JSON.stringify(value)}`),
      );
    };
    const prod = new Set(stacks.slice(0, 2).flatMap(fixedNames));
    const test = new Set(stacks.slice(2).flatMap(fixedNames));
    expect([...prod].filter((n) => test.has(n))).toEqual([]);
    // The names the prefix governs are there, prefixed.
    const all = [...prod].join('\n');
    for (const expected of [
      'AWS::StepFunctions::StateMachine.StateMachineName="wire-prod-backup"',
      'AWS::StepFunctions::StateMachine.StateMachineName="wire-prod-restore"',
      'AWS::StepFunctions::StateMachine.StateMachineName="wire-prod-purge"',
      'AWS::StepFunctions::StateMachine.StateMachineName="wire-prod-archive"',
      'AWS::SSM::Document.Name="wire-prod-Preflight"',
      'AWS::Logs::LogGroup.LogGroupName="/wire-prod/host-commands"',
      'AWS::SSM::Parameter.Name="/wire-prod/config"',
      'AWS::KMS::Alias.AliasName="alias/wire-prod-archive"',
    ])
      expect(all).toContain(expected);
    // And the send function writes command output to its installation's log group.
    const send = Object.values(
      Template.fromStack(stacks[0] as Stack).findResources('AWS::Lambda::Function'),
    ).find((f) => f.Properties.Environment?.Variables?.[envNames.hostCommandLogGroup]);
    expect(send?.Properties.Environment.Variables[envNames.hostCommandLogGroup]).toBe(
      '/wire-prod/host-commands',
    );
    for (const stack of stacks) {
      const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      expect(errors.map((e) => e.entry.data)).toEqual([]);
    }
  });

  it('keeps the names of an installation without a prefix, and refuses a bad prefix', () => {
    const names = resourceNames(withNodes(1));
    expect([names.backupStateMachine, names.document('WireBackup-Preflight'), names.stack]).toEqual([
      'wire-backup',
      'WireBackup-Preflight',
      'WireBackup',
    ]);
    expect(() => withNodes(1, { namePrefix: 'Wire_Prod' })).toThrow(/namePrefix: must be lower-case letters/);
    expect(() => withNodes(1, { namePrefix: 'a'.repeat(25) })).toThrow(/namePrefix: must be at most 24/);
  });
});
