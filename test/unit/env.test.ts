import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { env, envNames, runWithEnv } from '../../functions/core/env.js';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';

describe('env', () => {
  it('reads each variable through its typed getter, with its default', () => {
    // Arrange
    const scope = {
      [envNames.vaultBucket]: 'vault',
      [envNames.vaultDeepVerify]: 'false',
      [envNames.minioMultipartThreshold]: '8388608',
      [envNames.minioLegacyChecksums]: '',
    };

    // Act
    const read = runWithEnv(scope, () => ({
      bucket: env.vaultBucket(),
      deep: env.vaultDeepVerify(),
      threshold: env.minioMultipartThreshold(),
      legacy: env.minioLegacyChecksums(),
      region: env.minioRegion(),
    }));

    // Assert
    expect(read).toEqual({
      bucket: 'vault',
      deep: false,
      threshold: 8388608,
      legacy: false,
      region: 'us-east-1',
    });
  });

  it('throws naming the variable when a required one is unset or a value is malformed', () => {
    // Arrange
    const unset = { [envNames.minioEndpoint]: '' };
    const malformed = { [envNames.vaultDeepVerify]: 'yes', [envNames.minioMultipartThreshold]: '16M' };

    // Act / Assert
    runWithEnv(unset, () => {
      expect(() => env.minioEndpoint()).toThrow(/environment variable MINIO_ENDPOINT is not set/);
    });
    runWithEnv(malformed, () => {
      expect(() => env.vaultDeepVerify()).toThrow(/VAULT_DEEP_VERIFY is "yes": set it to true or false/);
      expect(() => env.minioMultipartThreshold()).toThrow(/MINIO_MULTIPART_THRESHOLD is "16M"/);
    });
  });

  it('is what the stack sets: every Lambda variable is one of envNames', () => {
    // Arrange
    const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
    const stack = new WireBackupStack(app, 'WireBackup', {
      config: loadConfigFile(join(projectRoot, 'config', 'example.json')),
    });

    // Act
    const fns = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const names = new Set(
      Object.values(fns).flatMap((fn) => Object.keys(fn.Properties.Environment?.Variables ?? {})),
    );

    // Assert
    const known = new Set<string>([...Object.values(envNames), 'NODE_OPTIONS']);
    expect([...names].filter((n) => !known.has(n))).toEqual([]);
    expect(names).toContain(envNames.configParameter);
    expect(names).toContain(envNames.minioSecretName);
  });
});
