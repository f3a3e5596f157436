import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

// The layout moves every top-level folder; the stack must follow without being told.
vi.mock('../../functions/core/vault-layout.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../functions/core/vault-layout.js')>();
  return {
    ...actual,
    vaultPrefixes: {
      backups: 'moved-backups/',
      cassandra: 'moved-cassandra/',
      minio: 'moved-minio/',
      restores: 'moved-restores/',
      mapRuns: 'moved-map-runs/',
      purges: 'moved-purges/',
    },
  };
});

function synth(): Template {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', {
    config: loadConfigFile(join(projectRoot, 'config', 'example.json')),
  });
  return Template.fromStack(stack);
}

/** A policy statement granting something on `<vault bucket ARN>/<pattern>`. */
function grantOn(pattern: string) {
  return Match.objectLike({
    Resource: Match.arrayWith([
      { 'Fn::Join': ['', [Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }), `/${pattern}`]] },
    ]),
  });
}

describe('vault layout and IAM grants', () => {
  const template = synth();

  it('scopes every vault grant to the prefixes vault-layout names', () => {
    for (const prefix of [
      'moved-backups/',
      'moved-cassandra/',
      'moved-minio/',
      'moved-restores/',
      'moved-map-runs/',
      'moved-purges/',
    ]) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([grantOn(`${prefix}*`)]) },
      });
    }
  });

  it('leaves no grant on the default prefixes', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toMatch(/"\/moved-backups\/\*"/);
    expect(policies).not.toMatch(/"\/(backups|cassandra|minio|restores|map-runs|purges)\/\*"/);
  });
});
