import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { env } from './env.js';
import { InvalidInputError } from './errors.js';

/** Credentials of the on-prem MinIO, as stored in Secrets Manager. */
export const minioCredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
});
/** MinIO credentials. */
export type MinioCredentials = z.infer<typeof minioCredentialsSchema>;

let client: SecretsManagerClient | undefined;
const cache = new Map<string, string>();

/**
 * Reads a secret string. In AWS from Secrets Manager; under the local runner (which sets
 * `WIRE_BACKUP_LOCAL_SECRETS_FILE`) from that JSON file — Secrets Manager is AWS control plane and
 * cannot run here. Values are cached per container and never logged.
 */
export async function readSecret(name: string): Promise<string> {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const localFile = env.localSecretsFile();
  let value: string | undefined;
  if (localFile) {
    value = (JSON.parse(readFileSync(localFile, 'utf8')) as Record<string, string>)[name];
  } else {
    client ??= new SecretsManagerClient({});
    value = (await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
  }
  if (value === undefined)
    throw new InvalidInputError(
      `secret ${name} not found or has no string value: create it in Secrets Manager`,
    );
  cache.set(name, value);
  return value;
}

/** Reads and validates the MinIO credentials secret; the error names the secret, never its value. */
export async function readMinioCredentials(name: string): Promise<MinioCredentials> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readSecret(name));
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(
      `secret ${name} is not JSON: store {"accessKeyId": "...", "secretAccessKey": "..."}`,
    );
  }
  const result = minioCredentialsSchema.safeParse(parsed);
  if (!result.success) {
    throw new InvalidInputError(`secret ${name} must hold {"accessKeyId": "...", "secretAccessKey": "..."}`);
  }
  return result.data;
}
