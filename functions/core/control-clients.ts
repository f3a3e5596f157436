import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DescribeExecution } from './abandoned-runs.js';
import { env } from './env.js';

/**
 * Clients of the AWS control plane the host-command functions call (Systems Manager, Step
 * Functions), built once per container from the function environment: region from `AWS_REGION`,
 * credentials from the execution role (or the environment's keys). Endpoints are AWS's; the local
 * runner points them at its control-plane stand-in with the SDK's own `AWS_ENDPOINT_URL_SSM` and
 * `AWS_ENDPOINT_URL_SFN` variables, which nothing in wire-backup reads itself.
 */

const requestHandler = { connectionTimeout: 10_000, socketTimeout: 60_000 } as const;

function baseConfig() {
  const accessKeyId = env.awsAccessKeyId();
  const secretAccessKey = env.awsSecretAccessKey();
  const sessionToken = env.awsSessionToken();
  return {
    region: env.awsRegion(),
    requestHandler,
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}

let ssm: SSMClient | undefined;
let sfn: SFNClient | undefined;

/** The Systems Manager client of this container. */
export function createSsmClient(): SSMClient {
  ssm ??= new SSMClient(baseConfig());
  return ssm;
}

/** The Step Functions client of this container. */
export function createSfnClient(): SFNClient {
  sfn ??= new SFNClient(baseConfig());
  return sfn;
}

/** `states:DescribeExecution` through this container's client: status and stop date, or undefined when it does not exist. */
export const describeExecution: DescribeExecution = async (executionArn) => {
  try {
    const out = await createSfnClient().send(new DescribeExecutionCommand({ executionArn }));
    return { status: out.status ?? 'UNKNOWN', stopDate: out.stopDate };
  } catch (error) {
    if (
      error instanceof ExecutionDoesNotExist ||
      (error as { name?: string }).name === 'ExecutionDoesNotExist'
    )
      return undefined;
    throw error;
  }
};
