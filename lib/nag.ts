import { Aspects, type IAspect, type Stack } from 'aws-cdk-lib';
import { Role } from 'aws-cdk-lib/aws-iam';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { archivePrefixes, vaultPrefixes } from '../functions/core/vault-layout.js';
import { HostAccess } from './constructs/host-access.js';
import { Vault } from './constructs/vault.js';
import { WireFunction } from './constructs/wire-function.js';
import { hostCommandCompleteId, hostCommandSendId, runSettlingIds } from './wire-backup-stack.js';

/**
 * cdk-nag for wire-backup: {@link applyNagChecks} runs the AWS Solutions rules on every stack of the
 * app (`lib/app.ts`, and the stack test), and {@link suppressNagFindings} records the findings that
 * stay by design, each on the one resource it concerns, limited with `appliesTo` to the exact
 * permission, with the reason. No suppression is stack-wide: a new role with a wildcard, a bucket
 * without logs or a broad grant fails `cdk synth` until it is narrowed or reasoned here.
 */

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * `Resource::<VaultBucket….Arn>/<prefix>…` for every top-level folder of vault-layout.ts; for an
 * existing vault bucket (`vault.existing`), `Resource::arn:<AWS::Partition>:s3:::<its name>/<prefix>…`.
 */
function vaultObjectFinding(existingBucket: string | undefined) {
  const bucket = existingBucket
    ? escapeRegExp(`arn:<AWS::Partition>:s3:::${existingBucket}`)
    : '<Vault[A-Za-z0-9]*Bucket[0-9A-F]{8}\\.Arn>';
  const prefixes = Object.values(vaultPrefixes)
    .map((p) => escapeRegExp(p))
    .join('|');
  return { regex: `/^Resource::${bucket}\\/(${prefixes}).*$/g` };
}
/** `Resource::arn:<AWS::Partition>:s3:::<archive bucket>/<prefix>…` for the two folders of the archive bucket. */
const archiveObjectFinding = {
  regex: `/^Resource::arn:<AWS::Partition>:s3:::[A-Za-z0-9.<>:-]+\\/(${Object.values(archivePrefixes)
    .map((p) => escapeRegExp(p))
    .join('|')}).*$/g`,
};
/** The archive's KMS key, in another region and stack: any key of the account there (the alias condition narrows it). */
const archiveKeyFinding = {
  regex: '/^Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:<AWS::AccountId>:key\\/\\*$/g',
};
/** X-Ray, CloudWatch Logs delivery and ssm:GetCommandInvocation: APIs without resource-level permissions. */
const anyResource = 'Resource::*';
/** `lambda:InvokeFunction` on the versions and aliases of a function the state machine calls. */
const functionVersions = { regex: '/^Resource::<[A-Za-z0-9]+\\.Arn>:\\*$/g' };
/** The whole vault, as CDK's DistributedMap grants it to its ItemReader and ResultWriterV2. */
function distributedMapVault(existingBucket: string | undefined) {
  const bucket = existingBucket ? escapeRegExp(existingBucket) : '<Vault[A-Za-z0-9]*Bucket[0-9A-F]{8}>';
  return { regex: `/^Resource::arn:<AWS::Partition>:s3:::${bucket}\\/\\*$/g` };
}
/** Any managed instance or EC2 instance: the send function's statement conditioned on the installation tag. */
const taggedInstances = {
  regex:
    '/^Resource::arn:<AWS::Partition>:(ssm|ec2):<AWS::Region>:<AWS::AccountId>:(managed-instance|instance)\\/\\*$/g',
};
/** Child executions of a state machine's own Distributed Maps. */
const childExecutions = {
  regex: '/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*$/g',
};
/** Executions of the backup and restore state machines (`<name>:*`), which Prepare and Restore Prepare describe. */
const runExecutions = {
  regex:
    '/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:[a-z0-9-]+-(backup|restore):\\*$/g',
};

const reasons = {
  vaultObjects:
    'Vault object grants name the key pattern vault-layout.ts gives this role (e.g. backups/*/manifest.json, cassandra/*): the wildcard stands for a backup id, restore id, host id, host-command reference or MinIO object key, unknown at deploy time. Actions are written out (Get/Put/Delete only where the code does so; no DeleteObjectVersion).',
  archiveObjects:
    'Archive bucket grants name one of its two folders (backups/*, objects/*, archivePrefixes in vault-layout.ts): the wildcard stands for a backup id or an object SHA-256, unknown at deploy time. Get/Put only, no delete.',
  archiveKey:
    'The archive KMS key lives in another stack and region (WireBackupArchive), so its ARN cannot be referenced: the statement names key/* of the archive region, narrowed by kms:ResourceAliases = alias/wire-backup-archive and kms:ViaService = s3.<archive region>.amazonaws.com.',
  xray: 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions: AWS documents Resource "*".',
  stateMachineAnyResource:
    'Resource "*" holds only APIs without resource-level permissions: the CloudWatch Logs vended-delivery actions Step Functions logging needs, and X-Ray tracing.',
  hostCommandComplete:
    'Resource "*" holds only APIs without resource-level permissions: ssm:GetCommandInvocation (the completion reads the invocation an SSM status-change event names; IAM matches it only on "*") and X-Ray tracing.',
  functionVersions:
    'Step Functions LambdaInvoke grants invoke on the function and its versions/aliases (<arn>:*); every function is one of this stack.',
  distributedMapVault:
    'CDK DistributedMap grants its S3 ItemReader/ResultWriterV2 the whole vault (bucket/*); an explicit Deny on this role (NotResource) limits s3:GetObject/PutObject to the batch indexes and map-runs/, see WireBackupStack.',
  childExecutions:
    'A Distributed Map starts, describes and stops its own child executions, whose ARNs carry run ids unknown at deploy time; scoped to this state machine name.',
  runExecutions:
    'Prepare and Restore Prepare call states:DescribeExecution on the execution an earlier run recorded in its started.json, to refuse an overlapping run or mark a stopped one failed (functions/core/abandoned-runs.ts); execution ARNs carry names unknown at deploy time, so the statement names executions of the backup and restore state machines (<name>:*), DescribeExecution only.',
  taggedInstances:
    'A restore may target instances that are not in the configuration (a fresh cluster): SendCommand of our documents on any managed instance or EC2 instance, under the condition that it carries the tag wire-backup:installation=<clusterName>; the operator tags it on purpose (README, "Restoring").',
  lambdaVpc:
    'A function placed in the VPC that reaches on-prem MinIO (config network) needs AWSLambdaVPCAccessExecutionRole: ec2:CreateNetworkInterface and its kin, which support no resource-level scoping; CDK attaches it only to those functions.',
  ssmAgent:
    'AmazonSSMManagedInstanceCore is the policy AWS maintains for the SSM agent of a managed instance (registration, command delivery, session messages); writing it out would freeze a list AWS updates.',
  nodeRuntime:
    'Node.js 22 is pinned on purpose: the local runner, CI and the Lambdas run the same major version (DESIGN.md, "Target Node 22 everywhere"); moving to a newer runtime is a deliberate upgrade.',
} as const;

/** Adds the AWS Solutions checks to every stack of `scope` (an App or a Stack). */
export function applyNagChecks(scope: IConstruct): void {
  Aspects.of(scope).add(new AwsSolutionsChecks({ verbose: true }) as IAspect);
}

/** Records the reasoned, per-resource suppressions of `stack`. */
export function suppressNagFindings(stack: Stack): void {
  const vault = stack.node.findAll().find((n): n is Vault => n instanceof Vault);
  const vaultObjects = vaultObjectFinding(vault?.existingBucketName);
  const wholeVault = distributedMapVault(vault?.existingBucketName);
  for (const node of stack.node.findAll()) {
    if (node instanceof WireFunction) {
      NagSuppressions.addResourceSuppressions(node, [{ id: 'AwsSolutions-L1', reason: reasons.nodeRuntime }]);
      if (node.role instanceof Role) {
        const anyResourceReason =
          node.node.id === hostCommandCompleteId ? reasons.hostCommandComplete : reasons.xray;
        NagSuppressions.addResourceSuppressions(
          node.role,
          [
            {
              id: 'AwsSolutions-IAM4',
              reason: reasons.lambdaVpc,
              appliesTo: [
                'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
              ],
            },
            { id: 'AwsSolutions-IAM5', reason: anyResourceReason, appliesTo: [anyResource] },
            { id: 'AwsSolutions-IAM5', reason: reasons.vaultObjects, appliesTo: [vaultObjects] },
            { id: 'AwsSolutions-IAM5', reason: reasons.archiveObjects, appliesTo: [archiveObjectFinding] },
            { id: 'AwsSolutions-IAM5', reason: reasons.archiveKey, appliesTo: [archiveKeyFinding] },
            ...(node.node.id === hostCommandSendId
              ? [{ id: 'AwsSolutions-IAM5', reason: reasons.taggedInstances, appliesTo: [taggedInstances] }]
              : []),
            ...(runSettlingIds.includes(node.node.id)
              ? [{ id: 'AwsSolutions-IAM5', reason: reasons.runExecutions, appliesTo: [runExecutions] }]
              : []),
          ],
          true,
        );
      }
    }
    if (node instanceof HostAccess) {
      NagSuppressions.addResourceSuppressions(
        node.role,
        [
          {
            id: 'AwsSolutions-IAM4',
            reason: reasons.ssmAgent,
            appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore'],
          },
          { id: 'AwsSolutions-IAM5', reason: reasons.vaultObjects, appliesTo: [vaultObjects] },
          // With `archive`: a restore from the archive reads the backup there (README, "Archive").
          { id: 'AwsSolutions-IAM5', reason: reasons.archiveObjects, appliesTo: [archiveObjectFinding] },
          { id: 'AwsSolutions-IAM5', reason: reasons.archiveKey, appliesTo: [archiveKeyFinding] },
        ],
        true,
      );
    }
    if (node instanceof StateMachine) {
      NagSuppressions.addResourceSuppressions(
        node.role,
        [
          { id: 'AwsSolutions-IAM5', reason: reasons.stateMachineAnyResource, appliesTo: [anyResource] },
          { id: 'AwsSolutions-IAM5', reason: reasons.functionVersions, appliesTo: [functionVersions] },
          { id: 'AwsSolutions-IAM5', reason: reasons.distributedMapVault, appliesTo: [wholeVault] },
          { id: 'AwsSolutions-IAM5', reason: reasons.vaultObjects, appliesTo: [vaultObjects] },
        ],
        true,
      );
      const mapPolicy = node.node.tryFindChild('DistributedMapPolicy');
      if (mapPolicy)
        NagSuppressions.addResourceSuppressions(mapPolicy, [
          { id: 'AwsSolutions-IAM5', reason: reasons.childExecutions, appliesTo: [childExecutions] },
        ]);
    }
  }
}
