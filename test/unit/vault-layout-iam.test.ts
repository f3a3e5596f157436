import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
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
} from '../../functions/core/vault-layout.js';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

function synth(): Template {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', {
    config: loadConfigFile(join(projectRoot, 'config', 'example.json')),
  });
  return Template.fromStack(stack);
}

/** Every `<vault bucket ARN>/<pattern>` an Allow statement names, as its pattern. */
function vaultObjectPatterns(template: Template): string[] {
  const patterns: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (statement.Effect !== 'Allow') continue;
      for (const resource of [statement.Resource].flat()) {
        const parts = resource?.['Fn::Join']?.[1];
        if (Array.isArray(parts) && parts[0]?.['Fn::GetAtt']?.[0]?.startsWith('VaultBucket'))
          patterns.push(String(parts[1]).replace(/^\//, ''));
      }
    }
  }
  return patterns;
}

describe('vault layout and IAM grants', () => {
  const template = synth();
  const patterns = vaultObjectPatterns(template);

  it('scopes every vault grant below a top-level folder vault-layout names', () => {
    expect(patterns.length).toBeGreaterThan(20);
    const prefixes = Object.values(vaultPrefixes);
    for (const pattern of patterns)
      expect(
        prefixes.some((p) => pattern.startsWith(p)),
        pattern,
      ).toBe(true);
  });

  it('builds its key patterns from the layout functions, with * for the ids', () => {
    const fromLayout = new Set([
      manifestKey('*'),
      startedKey('*'),
      failedKey('*'),
      wireServerArchiveKey('*'),
      hostCommandTokenKey('*'),
      restoreStartedKey('*'),
      restoreReportKey('*'),
      restoreFailedKey('*'),
      `${cassandraBackupPrefix('*')}*`,
      `${minioBackupPrefix('*')}*`,
      planPartsKey('*', '*'),
      restoreRowCountsKey('*'),
      `${postgresqlBackupPrefix('*')}*`,
      `${postgresqlWalPrefix('*')}*`,
      ...Object.values(vaultPrefixes).map((p) => `${p}*`),
    ]);
    for (const pattern of patterns) expect(fromLayout.has(pattern), pattern).toBe(true);
  });
});
