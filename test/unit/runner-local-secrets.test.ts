import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getLocalSecret, getLocalSecretValue } from '../../local/runner/local-secrets.js';

describe('getLocalSecret', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'runner-secrets-'));
    writeFileSync(
      join(dir, 'secrets.json'),
      JSON.stringify({
        'wire/minio': '{"accessKeyId":"wireminio","secretAccessKey":"wireminio-secret-key"}',
        'arn:aws:secretsmanager:us-east-1:000000000000:secret:wire/notify-Ab12Cd': 'token',
      }),
    );
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the secret string of a name', async () => {
    // Arrange
    const id = 'wire/minio';

    // Act
    const secret = await getLocalSecret(id, dir);

    // Assert
    expect(JSON.parse(secret)).toEqual({ accessKeyId: 'wireminio', secretAccessKey: 'wireminio-secret-key' });
  });

  it('matches an ARN to a name and a name to an ARN key, as GetSecretValue accepts both', async () => {
    // Arrange
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:wire/minio-Zz99Yy';

    // Act
    const byArn = await getLocalSecretValue(arn, dir);
    const byName = await getLocalSecretValue('wire/notify', dir);

    // Assert
    expect(byArn).toMatchObject({ ARN: arn, Name: 'wire/minio', VersionStages: ['AWSCURRENT'] });
    expect(byName).toMatchObject({ Name: 'wire/notify', SecretString: 'token' });
  });

  it('fails like Secrets Manager for a secret that does not exist', async () => {
    // Arrange
    const id = 'wire/unknown';

    // Act
    const getting = getLocalSecret(id, dir);

    // Assert
    await expect(getting).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: expect.stringContaining("Secrets Manager can't find the specified secret."),
    });
  });
});
