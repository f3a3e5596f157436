import {
  type Decision,
  evaluateKeyPolicy,
  evaluatePolicies,
  type PolicyDocument,
  type RequestContext,
} from './policy-evaluation.js';
import type { TemplateIam, TemplateRole } from './template-policies.js';

/**
 * The local runner's IAM: every AWS call a role makes (a Lambda's role, a state machine's role) is
 * evaluated against the template's synthesized policies before it is served. S3 calls also evaluate
 * the bucket policy and, for a bucket encrypted with a KMS key, the KMS permission S3 asks for on the
 * caller's behalf (`kms:Decrypt` to read, `kms:GenerateDataKey` to write) against the key policy of the
 * object's own key: the key a write names, the key a stored object version was written with (the IAM
 * proxy records it), else the bucket's default key.
 */

/** One AWS call to authorize. */
export interface LocalCall {
  /** Logical id of the caller's role in the template. */
  readonly role: string;
  /** Role session name (the function name for a Lambda, the execution name for a state machine). */
  readonly session: string;
  /** `service:Action`. */
  readonly action: string;
  /** Resource ARN. */
  readonly resource: string;
  readonly context?: RequestContext;
}

/** Why a call was denied, in AWS's words. */
export interface Denial {
  readonly action: string;
  readonly resource: string;
  /** AWS's message: `User: <assumed-role ARN> is not authorized to perform: <action> on resource: <arn> because …`. */
  readonly message: string;
}

/** Evaluates calls of the template's roles (see the module comment). */
export class LocalIam {
  constructor(readonly model: TemplateIam) {}

  /** The role a Lambda function runs as. */
  functionRole(functionName: string): TemplateRole {
    return this.role(this.model.functionRoles.get(functionName), `Lambda function ${functionName}`);
  }

  /** The role a state machine runs as. */
  stateMachineRole(stateMachineName: string): TemplateRole {
    return this.role(this.model.stateMachineRoles.get(stateMachineName), `state machine ${stateMachineName}`);
  }

  /**
   * The role of the hosts: the one role SSM may assume (a hybrid activation's managed instances act
   * as it). The stack has exactly one (`HostAccess`); anything else is a template this runner cannot run.
   */
  hostRole(): TemplateRole {
    const roles = [...this.model.roles.values()].filter((r) =>
      r.servicePrincipals.includes('ssm.amazonaws.com'),
    );
    const [role] = roles;
    if (!role || roles.length > 1)
      throw new Error(
        `local IAM: expected exactly one role that ssm.amazonaws.com may assume (the hosts' hybrid activation role), found ${roles.length}: ${roles.map((r) => r.logicalId).join(', ') || 'none'}`,
      );
    return role;
  }

  /** A denial, or undefined when the role's identity policies (and `resourcePolicy`) allow the call. */
  check(call: LocalCall, resourcePolicy?: PolicyDocument): Denial | undefined {
    const role = this.role(call.role, call.role);
    const request = this.request(role, call);
    const decision = evaluatePolicies(request, { identity: role.policies, resource: resourcePolicy });
    return decision.effect === 'Allow' ? undefined : this.denial(role, call, decision);
  }

  /**
   * Checks an S3 call on `bucket` (and `key`): the role's policies with the bucket policy, then, for
   * object reads and writes of a KMS-encrypted bucket, the KMS action S3 performs for the caller.
   */
  checkS3(
    call: Omit<LocalCall, 'resource'> & {
      readonly bucket: string;
      readonly key?: string | undefined;
      /** Whether S3 reads or writes object data with a KMS key for this call. @default false */
      readonly kms?: boolean;
      /** The object's KMS key (named by the write, or recorded for the version read). @default the bucket's default key */
      readonly kmsKeyArn?: string | undefined;
    },
  ): Denial | undefined {
    const resource =
      call.key === undefined ? `arn:aws:s3:::${call.bucket}` : `arn:aws:s3:::${call.bucket}/${call.key}`;
    const denied = this.check({ ...call, resource }, this.model.bucketPolicies.get(call.bucket));
    if (denied || call.key === undefined || !call.kms) return denied;
    const keyArn = call.kmsKeyArn ?? this.model.bucketKeys.get(call.bucket);
    const kmsAction = kmsActionFor(call.action);
    if (!keyArn || !kmsAction) return undefined;
    const role = this.role(call.role, call.role);
    const keyPolicy = this.model.keyPolicies.get(keyArn);
    if (call.kmsKeyArn !== undefined && !keyPolicy) {
      // S3 asks KMS for a key that is not there: KMS.NotFoundException, whatever IAM allows.
      return {
        action: kmsAction,
        resource: keyArn,
        message: `Invalid keyId '${keyArn}': no KMS key of this account and region has this ARN (local: the template defines none)`,
      };
    }
    const kmsCall: LocalCall = {
      role: call.role,
      session: call.session,
      action: kmsAction,
      resource: keyArn,
      // What KMS puts in the request context of a call S3 makes for a principal of this account.
      context: {
        'kms:ViaService': `s3.${this.model.region}.amazonaws.com`,
        'kms:CallerAccount': this.model.account,
      },
    };
    const request = this.request(role, kmsCall);
    const decision = keyPolicy
      ? evaluateKeyPolicy(request, role.policies, keyPolicy)
      : evaluatePolicies(request, { identity: role.policies });
    return decision.effect === 'Allow' ? undefined : this.denial(role, kmsCall, decision);
  }

  /** The assumed-role ARN a call of `role` is made as. */
  sessionArn(role: TemplateRole, session: string): string {
    return `arn:aws:sts::${this.model.account}:assumed-role/${role.name}/${session}`;
  }

  private role(logicalId: string | undefined, what: string): TemplateRole {
    const role = logicalId === undefined ? undefined : this.model.roles.get(logicalId);
    if (!role) throw new Error(`local IAM: ${what} has no role in the template`);
    return role;
  }

  private request(role: TemplateRole, call: LocalCall) {
    return {
      action: call.action,
      resource: call.resource,
      principalArn: role.arn,
      context: {
        'aws:PrincipalArn': role.arn,
        'aws:PrincipalAccount': this.model.account,
        'aws:RequestedRegion': this.model.region,
        // In AWS the SDK reaches every endpoint over TLS 1.2 or newer.
        'aws:SecureTransport': 'true',
        ...call.context,
      },
    };
  }

  private denial(role: TemplateRole, call: LocalCall, decision: Decision): Denial {
    const reason =
      decision.effect === 'ExplicitDeny'
        ? `with an explicit deny in a ${decision.policy === 'identity' ? 'identity-based' : 'resource-based'} policy`
        : `because no identity-based policy allows the ${call.action} action`;
    return {
      action: call.action,
      resource: call.resource,
      message: `User: ${this.sessionArn(role, call.session)} is not authorized to perform: ${call.action} on resource: ${call.resource} ${reason}`,
    };
  }
}

/** The KMS action S3 performs with the caller's permissions for an object action (SSE-KMS). */
function kmsActionFor(s3Action: string): string | undefined {
  switch (s3Action) {
    case 's3:GetObject':
    case 's3:GetObjectVersion':
      return 'kms:Decrypt';
    case 's3:PutObject':
      return 'kms:GenerateDataKey';
    default:
      return undefined;
  }
}
