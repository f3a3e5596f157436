import { describe, expect, it } from 'vitest';
import {
  createSourceS3Client,
  createVaultS3Client,
  vaultS3ConfigFromEnv,
} from '../../functions/core/clients.js';
import { runWithEnv } from '../../functions/core/env.js';

const sourceConfig = {
  endpoint: 'http://127.0.0.1:9',
  region: 'us-east-1',
  accessKeyId: 'key',
  secretAccessKey: 'secret',
  forcePathStyle: true,
  legacyChecksums: false,
};

describe('clients', () => {
  it('reuses one source client per configuration', () => {
    const first = createSourceS3Client(sourceConfig);
    expect(createSourceS3Client({ ...sourceConfig })).toBe(first);
    expect(createSourceS3Client({ ...sourceConfig, endpoint: 'http://127.0.0.1:10' })).not.toBe(first);
  });

  it('computes and validates checksums only when required for legacy MinIO', async () => {
    const legacy = createSourceS3Client({ ...sourceConfig, legacyChecksums: true });
    const modern = createSourceS3Client(sourceConfig);
    expect(await legacy.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await legacy.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(await modern.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
  });

  it('builds the vault client from the function environment, with the local endpoint override', async () => {
    // Arrange
    const env = {
      AWS_REGION: 'eu-central-1',
      WIRE_BACKUP_VAULT_ENDPOINT: 'http://127.0.0.1:9100',
      WIRE_BACKUP_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'vault-key',
      AWS_SECRET_ACCESS_KEY: 'vault-secret',
    };

    // Act
    const client = runWithEnv(env, () => createVaultS3Client());
    const again = runWithEnv(env, () => createVaultS3Client());

    // Assert
    expect(again).toBe(client);
    expect(await client.config.region()).toBe('eu-central-1');
    expect(client.config.forcePathStyle).toBe(true);
    const endpoint = await client.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect((await client.config.credentials()).accessKeyId).toBe('vault-key');
  });

  it('uses no endpoint override in AWS and falls back to AWS_DEFAULT_REGION', () => {
    const config = runWithEnv(
      {
        AWS_REGION: '',
        AWS_DEFAULT_REGION: 'eu-west-1',
        WIRE_BACKUP_VAULT_ENDPOINT: '',
        AWS_ACCESS_KEY_ID: '',
      },
      () => vaultS3ConfigFromEnv(),
    );
    expect(config).toMatchObject({
      region: 'eu-west-1',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
    });
  });
});
