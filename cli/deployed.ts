import { readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

/**
 * The CLI against a deployed stack: where it is (the stack's CloudFormation outputs, as `cdk deploy
 * --outputs-file` writes them, or flags), and starting and following an execution with the Step
 * Functions API. Clients use the SDK's standard resolution of credentials and region (profiles,
 * `AWS_REGION`, `AWS_PROFILE`) and endpoints (`AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL_S3`, which the
 * tests point at the local runner's Step Functions API and the vault server).
 */

/** The deployed stack as the CLI needs it. */
export interface DeployedStack {
  readonly vaultBucket: string;
  readonly backupStateMachineArn: string;
  readonly restoreStateMachineArn: string;
  readonly purgeStateMachineArn: string;
}

/** Flags that locate the deployed stack. */
export interface DeployedFlags {
  /** `cdk deploy --outputs-file` JSON ({ "<stack>": { "VaultBucketName": …, … } }). */
  readonly outputs?: string | undefined;
  /** Stack name inside the outputs file. @default the only one, or WireBackup */
  readonly stack?: string | undefined;
  readonly 'vault-bucket'?: string | undefined;
  readonly 'backup-arn'?: string | undefined;
  readonly 'restore-arn'?: string | undefined;
  readonly 'purge-arn'?: string | undefined;
  readonly 'archive-bucket'?: string | undefined;
  readonly 'archive-region'?: string | undefined;
}

/** The option definitions of {@link DeployedFlags} for `parseArgs`. */
export const deployedOptions = {
  outputs: { type: 'string' },
  stack: { type: 'string' },
  'vault-bucket': { type: 'string' },
  'backup-arn': { type: 'string' },
  'restore-arn': { type: 'string' },
  'purge-arn': { type: 'string' },
  'archive-bucket': { type: 'string' },
  'archive-region': { type: 'string' },
} as const;

type OutputPicker = (flag: keyof DeployedFlags, output: string) => string | undefined;

/** Reads the stack's outputs file (if any) and returns a lookup in which a flag overrides its output. */
function stackOutputs(flags: DeployedFlags): OutputPicker {
  let outputs: Record<string, string> = {};
  const file = flags.outputs ?? process.env.WIRE_BACKUP_OUTPUTS;
  if (file) {
    let parsed: Record<string, Record<string, string>>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
    } catch (error) {
      throw new Error(`cannot read the stack outputs ${file}: ${(error as Error).message}`, { cause: error });
    }
    const names = Object.keys(parsed);
    const name = flags.stack ?? (names.length === 1 ? names[0] : 'WireBackup');
    outputs = (name ? parsed[name] : undefined) ?? {};
    if (!name || !parsed[name])
      throw new Error(`${file} has no outputs of stack ${name} (has: ${names.join(', ')}): pass --stack`);
  }
  return (flag, output) => flags[flag] ?? outputs[output];
}

/** The value of a required output; the error names what is missing and both ways to give it. */
function required(pick: OutputPicker, flag: keyof DeployedFlags, output: string): string {
  const value = pick(flag, output);
  if (!value)
    throw new Error(
      `the deployed stack's ${output} is unknown: pass --outputs cdk-outputs.json (cdk deploy --outputs-file cdk-outputs.json) or --${flag}`,
    );
  return value;
}

/** Reads the stack's outputs (file, then flags override); the error names what is missing and how to give it. */
export function resolveDeployedStack(flags: DeployedFlags): DeployedStack {
  const pick = stackOutputs(flags);
  return {
    vaultBucket: required(pick, 'vault-bucket', 'VaultBucketName'),
    backupStateMachineArn: required(pick, 'backup-arn', 'BackupStateMachineArn'),
    restoreStateMachineArn: required(pick, 'restore-arn', 'RestoreStateMachineArn'),
    purgeStateMachineArn: required(pick, 'purge-arn', 'PurgeStateMachineArn'),
  };
}

/** The buckets the read-only verbs need: the vault, and the archive when the stack has one. */
export interface DeployedBuckets {
  readonly vaultBucket: string;
  /** The archive bucket and its region (outputs ArchiveBucketName, ArchiveRegion), when configured. */
  readonly archive: { readonly bucket: string; readonly region: string } | undefined;
}

/** Finds the vault (required) and the archive (optional) from the outputs or flags. */
export function resolveDeployedBuckets(flags: DeployedFlags): DeployedBuckets {
  const pick = stackOutputs(flags);
  const archiveBucket = pick('archive-bucket', 'ArchiveBucketName');
  return {
    vaultBucket: required(pick, 'vault-bucket', 'VaultBucketName'),
    archive: archiveBucket
      ? { bucket: archiveBucket, region: required(pick, 'archive-region', 'ArchiveRegion') }
      : undefined,
  };
}

/** The Step Functions client (standard credential, region and endpoint resolution). */
export function createSfnClient(): SFNClient {
  return new SFNClient({});
}

/**
 * The S3 client for the vault, or for the archive in its own `region` (standard resolution;
 * path-style when an endpoint override is set).
 */
export function createDeployedS3Client(region?: string): S3Client {
  const override = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({ ...(override ? { forcePathStyle: true } : {}), ...(region ? { region } : {}) });
}

/** How an execution ended. */
export interface FollowedExecution {
  readonly executionArn: string;
  readonly status: string;
  readonly output: unknown;
  readonly error: string | undefined;
  readonly cause: string | undefined;
  readonly seconds: number;
}

/**
 * Starts an execution and follows it to its end: DescribeExecution every `pollSeconds`, and each new
 * page of GetExecutionHistory printed as progress (the states as they are entered, failures).
 */
export async function startAndFollow(
  sfn: SFNClient,
  stateMachineArn: string,
  input: unknown,
  progress: (line: string) => void,
  options: { readonly pollSeconds?: number; readonly name?: string } = {},
): Promise<FollowedExecution> {
  const started = Date.now();
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      input: JSON.stringify(input),
      ...(options.name ? { name: options.name } : {}),
    }),
  );
  if (!executionArn) throw new Error(`StartExecution on ${stateMachineArn} returned no execution ARN`);
  progress(`started ${executionArn}`);
  let lastSeen = 0;
  let described: DescribeExecutionCommandOutput;
  const printNewEvents = async () => {
    // A history token pages one read, it does not resume later reads: read from the start, print what is new.
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const e of page.events ?? []) {
        if ((e.id ?? 0) <= lastSeen) continue;
        lastSeen = e.id ?? lastSeen;
        const t = `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
        if (e.type && /^(Task|Map|Parallel)StateEntered$/.test(e.type) && e.stateEnteredEventDetails?.name)
          progress(`${t}  ${e.stateEnteredEventDetails.name}`);
        else if (e.type === 'TaskFailed') progress(`${t}  failed: ${e.taskFailedEventDetails?.error ?? ''}`);
      }
      nextToken = page.nextToken;
    } while (nextToken);
  };
  for (;;) {
    await printNewEvents();
    described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, (options.pollSeconds ?? 5) * 1000));
  }
  await printNewEvents();
  return {
    executionArn,
    status: described.status ?? 'UNKNOWN',
    output: described.output ? (JSON.parse(described.output) as unknown) : undefined,
    error: described.error,
    cause: described.cause,
    seconds: (Date.now() - started) / 1000,
  };
}
