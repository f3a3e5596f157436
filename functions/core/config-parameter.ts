import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { parseConfig, type WireBackupConfig } from '../../lib/config.js';
import { createSsmClient } from './control-clients.js';
import { env, envNames } from './env.js';

/**
 * The configuration, from the SSM parameter the stack writes it to (`/<namePrefix>/config`, named by
 * `WIRE_BACKUP_CONFIG_PARAMETER`): one environment variable would pass Lambda's 4 KB limit at about
 * 26 nodes, a parameter holds 4 KB (Standard) or 8 KB (Advanced, which the stack picks when the
 * configuration needs it). Read at every invocation, not cached: a deploy that changes only the
 * configuration does not replace warm containers. Validated with the same schema as at synth.
 */
export async function loadConfig(): Promise<WireBackupConfig> {
  const name = env.configParameter();
  let value: string | undefined;
  try {
    const out = await createSsmClient().send(new GetParameterCommand({ Name: name }));
    value = out.Parameter?.Value;
  } catch (error) {
    throw new Error(
      `cannot read the configuration from SSM parameter ${name} (${envNames.configParameter}): ${(error as Error).name}: ${(error as Error).message} — deploy the stack again (it writes the parameter) and check the function's role may ssm:GetParameter on it`,
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(value ?? '');
  } catch {
    throw new Error(
      `SSM parameter ${name} does not hold JSON: deploy the stack again (it writes the parameter)`,
    );
  }
  return parseConfig(raw, `SSM parameter ${name}`);
}
