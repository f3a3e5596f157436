import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Vault, VaultObjectGrant } from './vault.js';

/** Properties of {@link HostAccess}. */
export interface HostAccessProps {
  readonly vault: Vault;
  /** What the host scripts read and write in the vault (key patterns from vault-layout.ts). */
  readonly grant: VaultObjectGrant;
  /** The log group of the host commands' output (SSM `CloudWatchOutputConfig` writes as the host). */
  readonly outputLogGroup: ILogGroup;
}

/**
 * The identity of the operator's hosts (Cassandra nodes, the wire-server deploy host) toward AWS:
 * the role a hybrid activation gives its managed instances (`aws ssm create-activation --iam-role`),
 * with what the SSM agent needs (`AmazonSSMManagedInstanceCore`), writing to the host commands'
 * output log group, and exactly the vault keys the host
 * scripts read and write, never a delete. The stack outputs its name; the README's deploy steps use it.
 * No business logic here: the grant comes from the stack, which derives it from vault-layout.ts.
 */
export class HostAccess extends Construct {
  /** The role of the hybrid activation. */
  public readonly role: Role;

  constructor(scope: Construct, id: string, props: HostAccessProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      description:
        'wire-backup hosts (SSM hybrid activation): SSM agent, and the vault keys the host scripts read and write',
      assumedBy: new ServicePrincipal('ssm.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    props.vault.grantObjects(this.role, props.grant);
    props.outputLogGroup.grantWrite(this.role);
  }
}
