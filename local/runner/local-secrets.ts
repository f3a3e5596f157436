/**
 * Local stand-in for AWS Secrets Manager `GetSecretValue` — with the SSM executor, the only mock of
 * the AWS control plane in the local runtime. Secrets live in `$WIRE_STACK_DIR/secrets.json`:
 *
 * ```json
 * { "wire-backup/notify-token": "s3cr3t", "arn:aws:secretsmanager:us-east-1:000000000000:secret:other": "{\"k\":\"v\"}" }
 * ```
 *
 * Keys are secret names or ARNs; values are the `SecretString`. A lookup by ARN also matches the
 * secret's name (with or without the 6-character suffix AWS appends to secret ARNs), and a lookup
 * by name matches an ARN key of that name. A missing secret fails like AWS:
 * `ResourceNotFoundException`, "Secrets Manager can't find the specified secret."
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stackDir as defaultStackDir } from '../stack-info.js';

/** The file holding local secrets, in `dir`. */
export function localSecretsFile(dir: string = defaultStackDir()): string {
  return join(dir, 'secrets.json');
}

/** What `GetSecretValue` returns, for a secret string. */
export interface LocalSecretValue {
  readonly ARN: string;
  readonly Name: string;
  readonly SecretString: string;
  readonly VersionId: string;
  readonly VersionStages: readonly string[];
  readonly CreatedDate: Date;
}

/** Raised for an unknown secret; `name` is the Secrets Manager error code. */
export class LocalSecretNotFoundError extends Error {
  constructor(secretId: string, file: string) {
    super(`Secrets Manager can't find the specified secret. (local: no entry for ${secretId} in ${file})`);
    this.name = 'ResourceNotFoundException';
  }
}

/** `GetSecretValue` for `secretId` (name or ARN), read from `<dir>/secrets.json`. */
export async function getLocalSecretValue(
  secretId: string,
  dir: string = defaultStackDir(),
): Promise<LocalSecretValue> {
  const file = localSecretsFile(dir);
  let secrets: Record<string, unknown>;
  try {
    secrets = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new LocalSecretNotFoundError(secretId, file);
    throw new Error(`local secrets file ${file} is not a JSON object of strings: fix or delete it`, {
      cause: error,
    });
  }
  const wanted = secretNames(secretId);
  const key =
    secretId in secrets
      ? secretId
      : Object.keys(secrets).find((candidate) =>
          secretNames(candidate).some((name) => wanted.includes(name)),
        );
  const value = key === undefined ? undefined : secrets[key];
  if (typeof value !== 'string') throw new LocalSecretNotFoundError(secretId, file);
  return {
    ARN: secretId.startsWith('arn:')
      ? secretId
      : `arn:aws:secretsmanager:us-east-1:000000000000:secret:${secretId}`,
    Name: wanted[wanted.length - 1] as string,
    SecretString: value,
    VersionId: '00000000-0000-0000-0000-000000000000',
    VersionStages: ['AWSCURRENT'],
    CreatedDate: new Date(0),
  };
}

/** The `SecretString` of `secretId` (name or ARN), read from `<dir>/secrets.json`. */
export async function getLocalSecret(secretId: string, dir: string = defaultStackDir()): Promise<string> {
  return (await getLocalSecretValue(secretId, dir)).SecretString;
}

/** The names an id may stand for: a name itself; for an ARN, the part after `secret:` with and without AWS's `-XXXXXX` suffix. */
function secretNames(secretId: string): string[] {
  const match = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(secretId);
  if (!match?.[1]) return [secretId];
  return [match[1], match[1].replace(/-[A-Za-z0-9]{6}$/, '')];
}
