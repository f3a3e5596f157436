import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
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
