import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '../../functions/core/env.js';
import {
  clusterSstablePrefix,
  failedKey,
  manifestKey,
  vaultPrefixes,
  wireServerArchiveKey,
} from '../../functions/core/vault-layout.js';
import { S3FaultInjector } from '../../local/faults/s3-fault-injector.js';
import { localConfig, localMinioSecretName, writeLocalSecrets } from '../../local/local-config.js';
import { synthesizedTemplate, synthesizeLocal } from '../../local/local-run.js';
import { localControlPlane } from '../../local/runner/control-plane.js';
import type { CfnTemplate, ExtractedFunction, ExtractedTemplate } from '../../local/runner/extract.js';
import { IamEnforcement } from '../../local/runner/iam/index.js';
import { runStateMachine } from '../../local/runner/run-state-machine.js';
import { LocalSsmExecutor } from '../../local/runner/ssm-executor.js';
import { TaskTokenRegistry } from '../../local/runner/task-tokens.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { deleteVersions } from '../support/vault.js';

/** The vault client a function's bundle builds in its container, from its (local) Lambda environment. */
function clientsOf(environment: Record<string, string>, maxAttempts?: number) {
  const credentials = {
    accessKeyId: environment.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: environment.AWS_SECRET_ACCESS_KEY ?? '',
  };
  return {
    s3: new S3Client({
      endpoint: environment.WIRE_BACKUP_VAULT_ENDPOINT,
      region: environment.AWS_REGION,
      forcePathStyle: true,
      credentials,
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    }),
    secrets: new SecretsManagerClient({
      endpoint: environment.AWS_ENDPOINT_URL_SECRETS_MANAGER,
      region: environment.AWS_REGION,
      credentials,
    }),
  };
}

/** The template with every statement of `roleLogicalId`'s policies that grants `action` on `resourceSuffix` removed. */
function withoutGrant(template: CfnTemplate, roleLogicalId: string, resourceSuffix: string): CfnTemplate {
  interface PolicyProperties {
    Roles: unknown;
    PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] };
  }
  const copy = structuredClone(template) as unknown as {
    Resources: Record<string, { Type: string; Properties: PolicyProperties }>;
  };
  for (const resource of Object.values(copy.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    if (!JSON.stringify(resource.Properties.Roles).includes(roleLogicalId)) continue;
    resource.Properties.PolicyDocument.Statement = resource.Properties.PolicyDocument.Statement.filter(
      (statement) =>
        !(
          JSON.stringify(statement.Action).includes('s3:PutObject') &&
          JSON.stringify(statement.Resource).includes(resourceSuffix)
        ),
    );
  }
  return copy as unknown as CfnTemplate;
}

describe('IAM enforcement of the local runner', () => {
  let stack: StackInfo;
  let extracted: ExtractedTemplate;
  let enforcement: IamEnforcement;
  const fn = (handler: string): ExtractedFunction => {
    const found = extracted.functions.find((f) => f.handler === `functions/${handler}.handler`);
    if (!found) throw new Error(`no function ${handler}`);
    return found;
  };
  const runId = `iam-test-${Date.now()}`;

  beforeAll(async () => {
    stack = readStackInfo();
    writeLocalSecrets(stack);
    extracted = synthesizeLocal(localConfig(stack));
    const { template, stackName } = synthesizedTemplate(extracted);
    enforcement = await IamEnforcement.start(template, stack, { stackName });
  }, 240_000);

  afterAll(async () => {
    await enforcement?.close();
    // Its probe objects (backups/iam-test-…/, minio/iam-test-…) would otherwise stay in the shared
    // vault and sort after every real backup id, as if they were the newest backups.
    if (stack) {
      const s3 = createStackS3Client(stack.vault);
      try {
        await deleteVersions(s3, stack.vault.bucket, Object.values(vaultPrefixes), (key) =>
          key.includes(runId),
        );
      } finally {
        s3.destroy();
      }
    }
  });

  it('lets a function write the vault key its role is granted, and nothing beside it', async () => {
    // Mark Failed may write backups/<id>/failed.json only (the vault grants are per key pattern).
    const { s3 } = clientsOf(enforcement.functionEnvironment(fn('mark-failed')));
    const put = (key: string) =>
      s3.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: key, Body: '{}' }));
    await expect(put(failedKey(runId))).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
    await expect(put(`backups/${runId}/probe.json`)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('fails a vault call the role is not granted with S3’s AccessDenied', async () => {
    const { s3 } = clientsOf(enforcement.functionEnvironment(fn('mark-failed')));
    // mark-failed may write backups/*, not minio/*, and may read nothing.
    await expect(
      s3.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: `minio/${runId}`, Body: 'x' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringMatching(
        /assumed-role\/.+ is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::.+\/minio\/iam-test-/,
      ),
    });
    await expect(
      s3.send(new GetObjectCommand({ Bucket: stack.vault.bucket, Key: `backups/${runId}/probe.json` })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('lets only the purge’s Delete Expired delete object versions, and only below backups/, cassandra/, minio/', async () => {
    const admin = createStackS3Client(stack.vault);
    const bucket = stack.vault.bucket;
    const putVersion = async (key: string) =>
      (await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'probe' }))).VersionId ?? '';
    const sstable = `cassandra/${runId}/probe-Data.db`;
    const restoreFile = `restores/${runId}/probe.json`;
    const sstableVersion = await putVersion(sstable);
    const restoreVersion = await putVersion(restoreFile);
    const deleteVersion = (client: S3Client, key: string, versionId: string) =>
      client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    const denied = (action: string) => ({
      name: 'AccessDenied',
      message: expect.stringMatching(new RegExp(`is not authorized to perform: ${action} `)),
    });

    // Plan Purge and Purge Report decide and report; they cannot delete.
    for (const handler of ['purge-plan', 'purge-report']) {
      const { s3 } = clientsOf(enforcement.functionEnvironment(fn(handler)));
      await expect(deleteVersion(s3, sstable, sstableVersion), handler).rejects.toMatchObject(
        denied('s3:DeleteObjectVersion'),
      );
    }
    const { s3: purge } = clientsOf(enforcement.functionEnvironment(fn('purge-delete')));
    // Delete Expired: exact versions only (no delete marker over a live object), never restores/.
    await expect(purge.send(new DeleteObjectCommand({ Bucket: bucket, Key: sstable }))).rejects.toMatchObject(
      denied('s3:DeleteObject'),
    );
    await expect(deleteVersion(purge, restoreFile, restoreVersion)).rejects.toMatchObject(
      denied('s3:DeleteObjectVersion'),
    );
    // The call its code makes: DeleteObjects by exact version.
    const out = await purge.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [{ Key: sstable, VersionId: sstableVersion }], Quiet: true },
      }),
    );
    expect(out.Errors ?? []).toEqual([]);
    await admin.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: restoreFile, VersionId: restoreVersion }),
    );
    admin.destroy();
  });

  it('refuses a version delete by the bucket policy to any role but Delete Expired, even one IAM allows', async () => {
    // A copy of the stack in which Mark Failed's role was (wrongly) given s3:DeleteObjectVersion.
    const { template, stackName } = synthesizedTemplate(extracted);
    const markFailedRole = enforcement.iam.functionRole(fn('mark-failed').name).logicalId;
    const copy = structuredClone(template) as unknown as {
      Resources: Record<
        string,
        { Type: string; Properties: { Roles?: unknown; PolicyDocument?: { Statement: unknown[] } } }
      >;
    };
    for (const resource of Object.values(copy.Resources))
      if (
        resource.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(resource.Properties.Roles).includes(markFailedRole)
      )
        resource.Properties.PolicyDocument?.Statement.push({
          Effect: 'Allow',
          Action: 's3:DeleteObjectVersion',
          Resource: `arn:aws:s3:::${stack.vault.bucket}/*`,
        });
    const widened = await IamEnforcement.start(copy as unknown as CfnTemplate, stack, { stackName });
    const admin = createStackS3Client(stack.vault);
    try {
      const key = failedKey(`${runId}-policy`);
      const put = await admin.send(
        new PutObjectCommand({ Bucket: stack.vault.bucket, Key: key, Body: '{}' }),
      );
      const { s3 } = clientsOf(widened.functionEnvironment(fn('mark-failed')));
      await expect(
        s3.send(new DeleteObjectCommand({ Bucket: stack.vault.bucket, Key: key, VersionId: put.VersionId })),
      ).rejects.toMatchObject({
        name: 'AccessDenied',
        message: expect.stringContaining(
          'is not authorized to perform: s3:DeleteObjectVersion on resource: arn:aws:s3:::',
        ),
      });
      expect(widened.proxy.refused.at(-1)?.message).toContain('explicit deny in a resource-based policy');
    } finally {
      admin.destroy();
      await widened.close();
    }
  });

  describe('the wire-server archive under its own KMS key', () => {
    const archive = wireServerArchiveKey(`${runId}-kms`);
    const archiveKeyArn = () => fn('verify-archive').environment[envNames.wireServerArchiveKeyArn] ?? '';
    const hostS3 = () => {
      const host = enforcement.hostCredentials('mi-host-probe');
      return new S3Client({
        endpoint: host.endpoint,
        region: stack.vault.region,
        forcePathStyle: true,
        credentials: host,
      });
    };
    const read = (client: S3Client, key: string) =>
      client
        .send(new GetObjectCommand({ Bucket: stack.vault.bucket, Key: key }))
        .then(async (r) => ({ body: await r.Body?.transformToString(), keyId: r.SSEKMSKeyId }));
    const kmsDenied = {
      name: 'AccessDenied',
      message: expect.stringMatching(/is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:/),
    };

    it('lets only the host role and Verify wire-server Archive decrypt it; another reader of backups/* is refused', async () => {
      // Arrange: the host uploads as the archive script does (--sse aws:kms --sse-kms-key-id <archive key>).
      const keyArn = archiveKeyArn();
      expect(keyArn).toMatch(/^arn:aws:kms:.+:key\/VaultArchiveKey/);
      expect(keyArn).not.toBe(enforcement.iam.model.bucketKeys.get(stack.vault.bucket));
      const host = hostS3();
      await host.send(
        new PutObjectCommand({
          Bucket: stack.vault.bucket,
          Key: archive,
          Body: 'secret values',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyArn,
        }),
      );
      const verifier = clientsOf(enforcement.functionEnvironment(fn('verify-archive'))).s3;
      // Plan Purge may read every object of backups/* (IAM), under the vault key only.
      const purgePlan = clientsOf(enforcement.functionEnvironment(fn('purge-plan'))).s3;

      // Act + Assert
      await expect(read(verifier, archive)).resolves.toEqual({ body: 'secret values', keyId: keyArn });
      await expect(read(host, archive)).resolves.toEqual({ body: 'secret values', keyId: keyArn });
      await expect(read(purgePlan, archive)).rejects.toMatchObject(kmsDenied);
      expect(enforcement.proxy.refused.at(-1)).toMatchObject({
        action: 'kms:Decrypt',
        resource: keyArn,
        role: enforcement.iam.functionRole(fn('purge-plan').name).logicalId,
      });
      // Control: the same key written under the vault's key is readable by Plan Purge, so the refusal
      // above is the archive key's doing, not the path's.
      const underVaultKey = wireServerArchiveKey(`${runId}-vault-key`);
      const admin = createStackS3Client(stack.vault);
      try {
        await admin.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: underVaultKey, Body: 'x' }));
      } finally {
        admin.destroy();
      }
      await expect(read(purgePlan, underVaultKey)).resolves.toEqual({ body: 'x', keyId: undefined });
      // Verify wire-server Archive holds no kms:Decrypt on the vault key: it reads the archive key only.
      await expect(read(verifier, underVaultKey)).rejects.toMatchObject(kmsDenied);
    });

    it('keeps the key of a multipart upload for its parts and for every later read of the object', async () => {
      const host = hostS3();
      const key = wireServerArchiveKey(`${runId}-multipart`);
      const created = await host.send(
        new CreateMultipartUploadCommand({
          Bucket: stack.vault.bucket,
          Key: key,
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: archiveKeyArn(),
        }),
      );
      const part = await host.send(
        new UploadPartCommand({
          Bucket: stack.vault.bucket,
          Key: key,
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: 'one part',
        }),
      );
      await host.send(
        new CompleteMultipartUploadCommand({
          Bucket: stack.vault.bucket,
          Key: key,
          UploadId: created.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const purgePlan = clientsOf(enforcement.functionEnvironment(fn('purge-plan'))).s3;
      await expect(read(purgePlan, key)).rejects.toMatchObject(kmsDenied);
      const verifier = clientsOf(enforcement.functionEnvironment(fn('verify-archive'))).s3;
      await expect(read(verifier, key)).resolves.toEqual({ body: 'one part', keyId: archiveKeyArn() });
    });

    it('answers a read whose key lookup the vault fails with a retryable 500, not AccessDenied', async () => {
      // The proxy HEADs the version first to learn its KMS key. When the vault fails that HEAD (a 500
      // InternalError, as the CI fault matrix injects), the read must fail as S3 would, retryably, not
      // be checked against the bucket's default key (which Verify wire-server Archive may not use).
      const key = wireServerArchiveKey(`${runId}-lookup-fails`);
      await hostS3().send(
        new PutObjectCommand({
          Bucket: stack.vault.bucket,
          Key: key,
          Body: 'secret values',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: archiveKeyArn(),
        }),
      );
      const injector = await S3FaultInjector.start(stack.vault.endpoint);
      const faulty = await IamEnforcement.start(
        synthesizedTemplate(extracted).template,
        { ...stack, vault: { ...stack.vault, endpoint: injector.url } },
        { stackName: synthesizedTemplate(extracted).stackName },
      );
      try {
        const environment = faulty.functionEnvironment(fn('verify-archive'));
        const verifier = (maxAttempts: number) => clientsOf(environment, maxAttempts).s3;
        injector.arm({ kind: 'internalError', count: 1, match: (method) => method === 'HEAD' });
        await expect(read(verifier(1), key)).rejects.toMatchObject({
          name: 'InternalError',
          $metadata: { httpStatusCode: 500 },
        });
        expect(injector.injected.internalError).toBe(1);
        expect(faulty.proxy.refused).toEqual([]);
        // The SDK's retry then reads it under its own key.
        injector.arm({ kind: 'internalError', count: 1, match: (method) => method === 'HEAD' });
        await expect(read(verifier(3), key)).resolves.toEqual({
          body: 'secret values',
          keyId: archiveKeyArn(),
        });
        expect(injector.injected.internalError).toBe(2);
      } finally {
        await faulty.close();
        await injector.stop();
      }
    });

    it('refuses the archive under the vault key, SSE-S3 or aws/s3 by bucket policy, writing nothing', async () => {
      const host = hostS3();
      const key = wireServerArchiveKey(`${runId}-wrong-key`);
      const vaultKeyArn = enforcement.iam.model.bucketKeys.get(stack.vault.bucket) ?? '';
      const attempts = [
        { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: vaultKeyArn },
        { ServerSideEncryption: 'AES256' as const },
        { ServerSideEncryption: 'aws:kms' as const },
      ];
      for (const encryption of attempts) {
        await expect(
          host.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: key, Body: 'x', ...encryption })),
          JSON.stringify(encryption),
        ).rejects.toMatchObject({
          name: 'AccessDenied',
          message: expect.stringContaining('is not authorized to perform: s3:PutObject'),
        });
        expect(enforcement.proxy.refused.at(-1)?.message).toContain(
          'explicit deny in a resource-based policy',
        );
      }
      const admin = createStackS3Client(stack.vault);
      try {
        await expect(
          admin.send(new HeadObjectCommand({ Bucket: stack.vault.bucket, Key: key })),
        ).rejects.toMatchObject({ name: 'NotFound' });
      } finally {
        admin.destroy();
      }
    });
  });

  it('serves Secrets Manager only to roles granted the secret', async () => {
    const allowed = clientsOf(enforcement.functionEnvironment(fn('check-minio'))).secrets;
    const denied = clientsOf(enforcement.functionEnvironment(fn('commit'))).secrets;
    const value = await allowed.send(new GetSecretValueCommand({ SecretId: localMinioSecretName }));
    expect(JSON.parse(value.SecretString ?? '{}')).toHaveProperty('accessKeyId', stack.minio.accessKey);
    await expect(
      denied.send(new GetSecretValueCommand({ SecretId: localMinioSecretName })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('is not authorized to perform: secretsmanager:GetSecretValue'),
    });
  });

  it('lets hosts write the SSTable folder as the host role, and never a manifest or a delete', async () => {
    // The credentials a managed instance gets: the stack's hybrid activation role (HostAccess).
    const host = enforcement.hostCredentials('mi-host-probe');
    const s3 = new S3Client({
      endpoint: host.endpoint,
      region: stack.vault.region,
      forcePathStyle: true,
      credentials: host,
    });
    const sstable = `${clusterSstablePrefix(localConfig(stack).clusterName)}${runId}/probe-Data.db`;
    await expect(
      s3.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: sstable, Body: 'x' })),
    ).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
    await expect(
      s3.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: manifestKey(runId), Body: '{}' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket: stack.vault.bucket, Key: sstable })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('is not authorized to perform: s3:DeleteObject'),
    });
  });

  it('runs host scripts with the host role: a bash aws call outside its grant is refused', async () => {
    const instanceId = localConfig(stack).cassandra.nodes[0]?.instanceId ?? '';
    const probe = {
      name: 'iam-host-probe',
      content: {
        schemaVersion: '2.2',
        description: 'prints the host credentials and tries to write a manifest',
        mainSteps: [
          {
            action: 'aws:runShellScript',
            name: 'probe',
            inputs: {
              runCommand: [
                'echo "endpoint=$AWS_ENDPOINT_URL key=$AWS_ACCESS_KEY_ID"',
                `if aws s3api put-object --bucket ${stack.vault.bucket} --key ${manifestKey(runId)} >/dev/null 2>err.txt; then echo put=allowed; else echo "put=refused $(grep -o AccessDenied err.txt | head -n 1)"; fi`,
              ],
            },
          },
        ],
      },
    };
    const executor = new LocalSsmExecutor({
      documents: [probe],
      stackDir: stack.stackDir,
      hostCredentials: (id) => enforcement.hostCredentials(id),
    });
    try {
      const sent = await executor.sendCommand({ DocumentName: probe.name, InstanceIds: [instanceId] });
      await executor.waitForCommand(sent.Command.CommandId);
      const output = await executor.getCommandInvocation({
        CommandId: sent.Command.CommandId,
        InstanceId: instanceId,
      });
      const { accessKeyId, endpoint } = enforcement.hostCredentials(instanceId);
      expect(output.StandardOutputContent).toBe(
        `endpoint=${endpoint} key=${accessKeyId}\nput=refused AccessDenied\n`,
      );
      expect(enforcement.proxy.refused).toContainEqual(
        expect.objectContaining({ role: enforcement.iam.hostRole().logicalId, action: 's3:PutObject' }),
      );
    } finally {
      await executor.close();
    }
  }, 120_000);

  it('refuses SendCommand by the state machine role itself: only host-command-send may send', async () => {
    const executor = new LocalSsmExecutor({ documents: extracted.documents, stackDir: stack.stackDir });
    const ssm = enforcement.guardSsm('wire-backup', runId, executor);
    try {
      expect(() =>
        ssm.sendCommand({
          DocumentName: extracted.documents[0]?.name ?? '',
          InstanceIds: ['mi-0123456789abcdef0'],
          Parameters: {},
        }),
      ).toThrow(
        expect.objectContaining({
          name: 'Ssm.AccessDeniedException',
          message: expect.stringMatching(
            /BackupStateMachineRole.* is not authorized to perform: ssm:SendCommand on resource: arn:aws:ssm:us-east-1:000000000000:document\//,
          ),
        }),
      );
    } finally {
      await executor.close();
    }
  });

  it('evaluates the functions’ control-plane calls (SendCommand, SendTask*) against their own roles', async () => {
    const backupArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:wire-backup';
    const document = `arn:aws:ssm:us-east-1:000000000000:document/${extracted.documents[0]?.name ?? ''}`;
    const instance = `arn:aws:ssm:us-east-1:000000000000:managed-instance/${stack.cassandra.nodes[0]?.instanceId ?? ''}`;
    const keyOf = (handler: string) => enforcement.functionEnvironment(fn(handler)).AWS_ACCESS_KEY_ID;
    const authorize = enforcement.controlPlaneAuthorizer();
    const send = keyOf('host-command-send');
    const complete = keyOf('host-command-complete');
    // The send function: our documents to the configured instances, nothing else.
    expect(authorize(send, 'ssm:SendCommand', document)).toBeUndefined();
    expect(authorize(send, 'ssm:SendCommand', instance)).toBeUndefined();
    expect(
      authorize(
        send,
        'ssm:SendCommand',
        'arn:aws:ssm:us-east-1:000000000000:managed-instance/mi-0123456789abcdef0',
      ),
    ).toMatchObject({ code: 'AccessDeniedException', message: expect.stringContaining('ssm:SendCommand') });
    expect(authorize(send, 'states:SendTaskSuccess', backupArn)).toMatchObject({
      code: 'AccessDeniedException',
    });
    // An instance not in the configuration (a restore into a fresh cluster) once the operator tagged it
    // with this installation; another installation's tag, or none, is refused.
    const fresh = 'arn:aws:ssm:us-east-1:000000000000:managed-instance/mi-0fe5c0ffee0000001';
    const tag = (value: string) => ({ 'ssm:resourceTag/wire-backup:installation': value });
    expect(authorize(send, 'ssm:SendCommand', fresh, tag(stack.clusterName))).toBeUndefined();
    expect(authorize(send, 'ssm:SendCommand', fresh, tag('another-installation'))).toMatchObject({
      code: 'AccessDeniedException',
    });
    expect(authorize(send, 'ssm:SendCommand', fresh)).toMatchObject({ code: 'AccessDeniedException' });
    // The completion: reads invocations, answers tasks of our state machines, sends nothing.
    expect(
      authorize(complete, 'ssm:GetCommandInvocation', 'arn:aws:ssm:us-east-1:000000000000:*'),
    ).toBeUndefined();
    expect(authorize(complete, 'states:SendTaskSuccess', backupArn)).toBeUndefined();
    expect(authorize(complete, 'states:SendTaskFailure', backupArn)).toBeUndefined();
    expect(
      authorize(
        complete,
        'states:SendTaskSuccess',
        'arn:aws:states:us-east-1:000000000000:stateMachine:other',
      ),
    ).toMatchObject({ code: 'AccessDeniedException' });
    expect(authorize(complete, 'ssm:SendCommand', document)).toMatchObject({ code: 'AccessDeniedException' });
    // Any other function's role: no control plane at all; unsigned requests are unknown callers.
    expect(authorize(keyOf('prepare'), 'ssm:SendCommand', document)).toMatchObject({
      code: 'AccessDeniedException',
    });
    expect(authorize(undefined, 'ssm:SendCommand', document)).toMatchObject({
      code: 'UnrecognizedClientException',
    });
  });

  it('lets only Prepare and Restore Prepare describe executions of the backup and restore state machines, and read the configuration', () => {
    const keyOf = (handler: string) => enforcement.functionEnvironment(fn(handler)).AWS_ACCESS_KEY_ID;
    const authorize = enforcement.controlPlaneAuthorizer();
    const execution = (machine: string) => `arn:aws:states:us-east-1:000000000000:execution:${machine}:run-1`;
    const config = 'arn:aws:ssm:us-east-1:000000000000:parameter/wire-backup/config';
    for (const handler of ['prepare', 'restore-prepare']) {
      expect(authorize(keyOf(handler), 'states:DescribeExecution', execution('wire-backup'))).toBeUndefined();
      expect(
        authorize(keyOf(handler), 'states:DescribeExecution', execution('wire-restore')),
      ).toBeUndefined();
      expect(authorize(keyOf(handler), 'states:DescribeExecution', execution('wire-purge'))).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(authorize(keyOf(handler), 'ssm:GetParameter', config)).toBeUndefined();
      expect(
        authorize(keyOf(handler), 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:000000000000:parameter/other'),
      ).toMatchObject({ code: 'AccessDeniedException' });
    }
    expect(authorize(keyOf('purge-plan'), 'ssm:GetParameter', config)).toBeUndefined();
    for (const handler of ['commit', 'host-command-send']) {
      expect(authorize(keyOf(handler), 'states:DescribeExecution', execution('wire-backup'))).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(authorize(keyOf(handler), 'ssm:GetParameter', config)).toMatchObject({
        code: 'AccessDeniedException',
      });
    }
  });

  it('answers a denied control-plane call over the SDK with AccessDeniedException, running nothing', async () => {
    const plane = await localControlPlane();
    const executor = new LocalSsmExecutor({ documents: extracted.documents, stackDir: stack.stackDir });
    const tokens = new TaskTokenRegistry();
    const detach = plane.attach({
      ssm: executor,
      tokens,
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:wire-backup',
      authorize: enforcement.controlPlaneAuthorizer(),
    });
    const environment = enforcement.functionEnvironment(fn('host-command-complete'));
    const ssm = new SSMClient({
      endpoint: plane.url,
      region: 'us-east-1',
      credentials: {
        accessKeyId: environment.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: environment.AWS_SECRET_ACCESS_KEY ?? '',
      },
    });
    try {
      const error = await ssm
        .send(
          new SendCommandCommand({
            DocumentName: extracted.documents[0]?.name ?? '',
            InstanceIds: [stack.cassandra.nodes[0]?.instanceId ?? ''],
          }),
        )
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringMatching(/HostCommandComplete.* is not authorized to perform: ssm:SendCommand/),
      });
    } finally {
      ssm.destroy();
      detach();
      tokens.close();
      await executor.close();
    }
  });

  it('fails a run whose Lambda makes a call its synthesized policy denies, with AccessDenied', async () => {
    // Arrange: the stack as synthesized, except that Prepare's role lost its write grant on backups/*.
    const { template, stackName } = synthesizedTemplate(extracted);
    const prepare = fn('prepare');
    const prepareRole = enforcement.iam.functionRole(prepare.name).logicalId;
    const denying = await IamEnforcement.start(withoutGrant(template, prepareRole, '/backups/*'), stack, {
      stackName,
    });
    const backup = extracted.stateMachines.find((m) => m.name === 'wire-backup');
    if (!backup) throw new Error('no backup state machine');
    const executor = new LocalSsmExecutor({ documents: extracted.documents, stackDir: stack.stackDir });
    try {
      // Act
      const result = await runStateMachine({
        definition: backup.definition,
        stateMachineName: backup.name,
        executionName: runId,
        input: { components: ['minio'] },
        bindings: {
          functions: extracted.functions.map((f) => ({
            ...f,
            environment: { ...f.environment, ...denying.functionEnvironment(f) },
          })),
          ssm: denying.guardSsm(backup.name, runId, executor),
          s3: denying.stateMachineS3Client(backup.name, runId),
          authorize: denying.authorizer(backup.name, runId),
          // Prepare reads its configuration parameter (GetParameter, allowed) before it writes.
          parameters: extracted.parameters,
          authorizeControlPlane: denying.controlPlaneAuthorizer(),
          resources: {
            'arn:aws:states:::events:putEvents': denying.guardPutEvents(backup.name, runId, () => ({
              Entries: [],
              FailedEntryCount: 0,
            })),
          },
        },
      });

      // Assert: Prepare failed as Lambda reports an S3 AccessDenied, and nothing was backed up.
      const failed = result.events.find((e) => e.type === 'StateFailed' && e.state === 'Prepare');
      expect(failed).toMatchObject({
        error: 'AccessDenied',
        cause: expect.stringMatching(
          /is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::.+\/backups\//,
        ),
      });
      expect(result.status).toBe('FAILED');
      expect(denying.proxy.refused.some((r) => r.role === prepareRole && r.action === 's3:PutObject')).toBe(
        true,
      );
    } finally {
      await executor.close();
      await denying.close();
    }
  }, 240_000);
});
