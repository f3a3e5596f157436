import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, type StackInfo } from '../../local/stack-info.js';

/** How a `bin/wire-backup` process ended. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `bin/wire-backup` as the operator runs it, in its own process, with the AWS SDK pointed at the
 * local vault the standard way (`AWS_ENDPOINT_URL_S3`, credentials, region) plus `env` (e.g.
 * `AWS_ENDPOINT_URL_SFN`).
 */
export function runWireBackup(
  stack: StackInfo,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      join(repoRoot, 'bin', 'wire-backup'),
      args,
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_S3: stack.vault.endpoint,
          AWS_ACCESS_KEY_ID: stack.vault.accessKey,
          AWS_SECRET_ACCESS_KEY: stack.vault.secretKey,
          AWS_REGION: stack.vault.region,
          ...env,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
