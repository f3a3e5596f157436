/**
 * The IAM side of a synthesized template, as the local IAM enforcement needs it: each role's
 * identity policies (inline `Policies`, every `AWS::IAM::Policy`/`AWS::IAM::ManagedPolicy` attached to
 * it, the AWS managed policies the stack uses), which role each Lambda function and each state machine
 * runs as, each bucket's policy and default KMS key, each key's policy. Intrinsics are resolved with
 * the runner's local values (`extract.ts`).
 */
import { isJsonObject, type JsonValue } from '../asl.js';
import { RunnerSetupError } from '../errors.js';
import { type CfnTemplate, type ExtractOptions, resolveGetAtt, resolveIntrinsics } from '../extract.js';
import { type PolicyDocument, parsePolicyDocument } from './policy-evaluation.js';

/** A role of the template. */
export interface TemplateRole {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly policies: readonly PolicyDocument[];
}

/** Everything the IAM enforcement reads from a template. */
export interface TemplateIam {
  readonly account: string;
  readonly region: string;
  /** Roles by logical id. */
  readonly roles: ReadonlyMap<string, TemplateRole>;
  /** Role logical id by Lambda function name. */
  readonly functionRoles: ReadonlyMap<string, string>;
  /** Role logical id by state machine name. */
  readonly stateMachineRoles: ReadonlyMap<string, string>;
  /** Bucket policy by bucket name. */
  readonly bucketPolicies: ReadonlyMap<string, PolicyDocument>;
  /** ARN of the bucket's default SSE-KMS key, by bucket name. */
  readonly bucketKeys: ReadonlyMap<string, string>;
  /** Key policy by key ARN. */
  readonly keyPolicies: ReadonlyMap<string, PolicyDocument>;
}

/**
 * AWS managed policies the stack attaches, with the statements AWS publishes for them. A managed
 * policy missing here grants nothing locally (the run fails closed and the message names it).
 */
const awsManagedPolicies: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
  'service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        Resource: '*',
      },
    ],
  },
};

/** Reads {@link TemplateIam} out of `template`. */
export function readTemplateIam(template: CfnTemplate, options: ExtractOptions = {}): TemplateIam {
  const resources = template.Resources ?? {};
  const resolve = (value: unknown, where: string) => resolveIntrinsics(template, value, where, options);
  const policiesByRole = new Map<string, PolicyDocument[]>();
  const roleNames = new Map<string, string>();
  const attach = (roleName: string, document: PolicyDocument) => {
    const list = policiesByRole.get(roleName) ?? [];
    list.push(document);
    policiesByRole.set(roleName, list);
  };

  for (const [logicalId, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      const name = String(resolve({ Ref: logicalId }, logicalId));
      roleNames.set(logicalId, name);
      for (const [index, inline] of ((props.Policies as unknown[] | undefined) ?? []).entries()) {
        const document = (inline as { PolicyDocument?: unknown }).PolicyDocument;
        attach(name, asDocument(resolve(document, `${logicalId} Policies[${index}]`), logicalId));
      }
      for (const managed of (resolve(props.ManagedPolicyArns ?? [], `${logicalId} ManagedPolicyArns`) ??
        []) as JsonValue[]) {
        const arn = String(managed);
        const awsName = /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(arn)?.[1];
        const known = awsName ? awsManagedPolicies[awsName] : undefined;
        if (known) attach(name, known);
      }
    }
  }
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const props = resource.Properties ?? {};
    const document = asDocument(resolve(props.PolicyDocument, `${logicalId} PolicyDocument`), logicalId);
    const roles = (resolve(props.Roles ?? [], `${logicalId} Roles`) ?? []) as JsonValue[];
    for (const role of roles) attach(String(role), document);
  }

  const roles = new Map<string, TemplateRole>();
  for (const [logicalId, name] of roleNames) {
    roles.set(logicalId, {
      logicalId,
      name,
      arn: resolveGetAtt(template, logicalId, 'Arn', options),
      policies: policiesByRole.get(name) ?? [],
    });
  }

  const roleOf = (logicalId: string, property: string): string => {
    const value = resources[logicalId]?.Properties?.[property];
    const getAtt = isJsonObject(value as JsonValue)
      ? (value as Record<string, unknown>)['Fn::GetAtt']
      : undefined;
    const roleId = Array.isArray(getAtt) ? getAtt[0] : undefined;
    if (typeof roleId !== 'string' || !roles.has(roleId)) {
      throw new RunnerSetupError(
        `${logicalId}.${property} is not {Fn::GetAtt: [<a role of the template>, Arn]}: the local IAM enforcement cannot tell which role it runs as`,
      );
    }
    return roleId;
  };
  const functionRoles = new Map<string, string>();
  const stateMachineRoles = new Map<string, string>();
  const bucketPolicies = new Map<string, PolicyDocument>();
  const bucketKeys = new Map<string, string>();
  const keyPolicies = new Map<string, PolicyDocument>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        functionRoles.set(String(resolve({ Ref: logicalId }, logicalId)), roleOf(logicalId, 'Role'));
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const arn = String(resolve({ Ref: logicalId }, logicalId));
        stateMachineRoles.set(arn.split(':').pop() ?? logicalId, roleOf(logicalId, 'RoleArn'));
        break;
      }
      case 'AWS::S3::BucketPolicy':
        bucketPolicies.set(
          String(resolve(props.Bucket, `${logicalId} Bucket`)),
          asDocument(resolve(props.PolicyDocument, `${logicalId} PolicyDocument`), logicalId),
        );
        break;
      case 'AWS::S3::Bucket': {
        const encryption = resolve(props.BucketEncryption ?? {}, `${logicalId} BucketEncryption`) as {
          ServerSideEncryptionConfiguration?: {
            ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string };
          }[];
        };
        const rule = encryption.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
        if (rule?.SSEAlgorithm === 'aws:kms' && rule.KMSMasterKeyID) {
          bucketKeys.set(String(resolve({ Ref: logicalId }, logicalId)), rule.KMSMasterKeyID);
        }
        break;
      }
      case 'AWS::KMS::Key':
        keyPolicies.set(
          resolveGetAtt(template, logicalId, 'Arn', options),
          asDocument(resolve(props.KeyPolicy, `${logicalId} KeyPolicy`), logicalId),
        );
        break;
      default:
        break;
    }
  }
  return {
    account: options.accountId ?? '000000000000',
    region: options.region ?? 'us-east-1',
    roles,
    functionRoles,
    stateMachineRoles,
    bucketPolicies,
    bucketKeys,
    keyPolicies,
  };
}

function asDocument(value: JsonValue, where: string): PolicyDocument {
  return parsePolicyDocument(value, where);
}
