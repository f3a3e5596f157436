import { S3Client } from '@aws-sdk/client-s3';
import type { StackInfo } from '../../stack-info.js';
import { isJsonObject, type JsonValue } from '../asl.js';
import type { ControlPlaneAuthorizer } from '../control-plane.js';
import { StatesError } from '../errors.js';
import type { CfnTemplate, ExtractedFunction, ExtractOptions } from '../extract.js';
import type { SsmApi, TaskHandler } from '../run-state-machine.js';
import type { HostCredentials } from '../ssm-executor.js';
import { LocalIamProxy } from './iam-proxy.js';
import { LocalIam } from './local-iam.js';
import { readTemplateIam } from './template-policies.js';

/**
 * IAM enforcement for a local run: the template's roles and policies ({@link LocalIam}), the proxy
 * that stands for AWS's S3 and Secrets Manager endpoints ({@link LocalIamProxy}), and guards for the
 * state machine's own service integrations (Lambda invoke, SSM, EventBridge, the Distributed Map's
 * S3 reads and writes), each evaluated against the state machine's role, and for the functions'
 * calls to the local control plane (SSM, Step Functions SendTask*), evaluated against their roles.
 *
 * Error names are AWS's: S3 `AccessDenied` (HTTP 403), Secrets Manager `AccessDeniedException`; in a
 * Task of the state machine, Step Functions prefixes the service: `Ssm.AccessDeniedException`,
 * `EventBridge.AccessDeniedException`, and `Lambda.AWSLambdaException` for an invoke its role may
 * not make (its cause names `AccessDeniedException`, as AWS's does).
 */
export class IamEnforcement {
  private constructor(
    readonly iam: LocalIam,
    readonly proxy: LocalIamProxy,
    private readonly stack: StackInfo,
  ) {}

  /** Reads the template's IAM and starts the proxy in front of the stack's vault. */
  static async start(
    template: CfnTemplate,
    stack: StackInfo,
    options: ExtractOptions = {},
  ): Promise<IamEnforcement> {
    const iam = new LocalIam(readTemplateIam(template, options));
    const proxy = await LocalIamProxy.start({
      iam,
      stackDir: stack.stackDir,
      target: {
        endpoint: stack.vault.endpoint,
        region: stack.vault.region,
        accessKeyId: stack.vault.accessKey,
        secretAccessKey: stack.vault.secretKey,
      },
    });
    return new IamEnforcement(iam, proxy, stack);
  }

  /**
   * What Lambda's runtime gives `fn` in AWS, locally: its role's credentials (which name the role to
   * the proxy), the region, and the proxy as the vault's and Secrets Manager's endpoint.
   */
  functionEnvironment(fn: ExtractedFunction): Record<string, string> {
    const role = this.iam.functionRole(fn.name);
    const credentials = this.proxy.credentialsFor(role.logicalId, fn.name);
    return {
      AWS_REGION: this.stack.vault.region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      WIRE_BACKUP_VAULT_ENDPOINT: this.proxy.endpoint,
      WIRE_BACKUP_S3_FORCE_PATH_STYLE: 'true',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: this.proxy.endpoint,
    };
  }

  /**
   * The vault credentials of a managed instance: the stack's host role (the one role SSM, i.e. the
   * hybrid activation, may assume), session named by the instance id as SSM names it.
   */
  hostCredentials(instanceId: string): HostCredentials {
    const role = this.iam.hostRole();
    return { ...this.proxy.credentialsFor(role.logicalId, instanceId), endpoint: this.proxy.endpoint };
  }

  /** The S3 client a state machine's Distributed Maps read and write the vault with (its role's). */
  stateMachineS3Client(stateMachineName: string, executionName: string): S3Client {
    const role = this.iam.stateMachineRole(stateMachineName);
    return new S3Client({
      endpoint: this.proxy.endpoint,
      region: this.stack.vault.region,
      forcePathStyle: true,
      credentials: this.proxy.credentialsFor(role.logicalId, executionName),
    });
  }

  /**
   * Throws the Step Functions error of a service integration call that the state machine's role may
   * not make.
   */
  authorizer(stateMachineName: string, executionName: string) {
    const role = this.iam.stateMachineRole(stateMachineName);
    return (action: string, resource: string, errorName: string): void => {
      const denial = this.iam.check({ role: role.logicalId, session: executionName, action, resource });
      if (!denial) return;
      console.error(`local IAM: denied ${action} on ${resource}: ${denial.message}`);
      throw new StatesError(
        errorName,
        `${denial.message} (Service: ${errorName.split('.')[0]}; Status Code: 400; Error Code: AccessDeniedException)`,
      );
    };
  }

  /** `ssm` with every SendCommand and GetCommandInvocation authorized against the state machine's role. */
  guardSsm(stateMachineName: string, executionName: string, ssm: SsmApi): SsmApi {
    const authorize = this.authorizer(stateMachineName, executionName);
    const { account, region } = this.iam.model;
    const errorName = 'Ssm.AccessDeniedException';
    return {
      sendCommand: (input) => {
        authorize(
          'ssm:SendCommand',
          `arn:aws:ssm:${region}:${account}:document/${input.DocumentName}`,
          errorName,
        );
        for (const id of input.InstanceIds ?? []) {
          const arn = id.startsWith('mi-')
            ? `arn:aws:ssm:${region}:${account}:managed-instance/${id}`
            : `arn:aws:ec2:${region}:${account}:instance/${id}`;
          authorize('ssm:SendCommand', arn, errorName);
        }
        return ssm.sendCommand(input);
      },
      getCommandInvocation: (input) => {
        authorize('ssm:GetCommandInvocation', `arn:aws:ssm:${region}:${account}:*`, errorName);
        return ssm.getCommandInvocation(input);
      },
      ...(ssm.addListener ? { addListener: ssm.addListener.bind(ssm) } : {}),
      ...(ssm.addStatusListener ? { addStatusListener: ssm.addStatusListener.bind(ssm) } : {}),
      ...(ssm.instanceTags ? { instanceTags: ssm.instanceTags.bind(ssm) } : {}),
    };
  }

  /**
   * IAM of the functions' calls to the local control plane (`control-plane.ts`: SSM SendCommand /
   * GetCommandInvocation, Step Functions SendTask*): the caller is the role its credentials name
   * ({@link functionEnvironment}); credentials the proxy did not issue are refused as AWS refuses an
   * unknown key.
   */
  controlPlaneAuthorizer(): ControlPlaneAuthorizer {
    return (accessKeyId, action, resource, context) => {
      const caller = accessKeyId === undefined ? undefined : this.proxy.callerOf(accessKeyId);
      if (!caller) {
        return {
          code: 'UnrecognizedClientException',
          message: `The security token included in the request is invalid. (local: ${accessKeyId ?? 'an unsigned request'} was not issued by the IAM proxy)`,
        };
      }
      const denial = this.iam.check({
        role: caller.role,
        session: caller.session,
        action,
        resource,
        ...(context ? { context } : {}),
      });
      if (!denial) return undefined;
      this.proxy.refuse(caller.role, denial);
      return { code: 'AccessDeniedException', message: denial.message };
    };
  }

  /** `handler` of `events:putEvents` with each entry's bus authorized against the state machine's role. */
  guardPutEvents(stateMachineName: string, executionName: string, handler: TaskHandler): TaskHandler {
    const authorize = this.authorizer(stateMachineName, executionName);
    const { account, region } = this.iam.model;
    return (input: JsonValue) => {
      const entries = isJsonObject(input) && Array.isArray(input.Entries) ? input.Entries : [];
      for (const entry of entries) {
        const bus =
          isJsonObject(entry) && typeof entry.EventBusName === 'string' ? entry.EventBusName : 'default';
        const arn = bus.startsWith('arn:') ? bus : `arn:aws:events:${region}:${account}:event-bus/${bus}`;
        authorize('events:PutEvents', arn, 'EventBridge.AccessDeniedException');
      }
      return handler(input);
    };
  }

  /** Stops the proxy. */
  async close(): Promise<void> {
    await this.proxy.close();
  }
}
