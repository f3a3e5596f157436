import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { envNames } from '../../functions/core/env.js';
import { parseConfig, type WireBackupConfig } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { applyNagChecks, suppressNagFindings } from '../../lib/nag.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';
import { makeTestCa } from '../support/tls-minio.js';

const example = JSON.parse(readFileSync(join(projectRoot, 'config', 'example.json'), 'utf8'));
const network = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
  availabilityZones: ['eu-central-1a', 'eu-central-1b'],
  securityGroupIds: ['sg-0a1b2c3d4e5f60001'],
};

function synth(config: WireBackupConfig) {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WireBackupStack(app, 'WireBackup', { config });
  applyNagChecks(app);
  suppressNagFindings(stack);
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

describe('network placement and MinIO private CA', () => {
  const ca = makeTestCa(mkdtempSync(join(tmpdir(), 'wire-backup-ca-')));
  const config = parseConfig({ ...example, network, minio: { ...example.minio, caBundleFile: ca.caFile } });
  const { stack, template } = synth(config);
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));

  it('runs exactly the functions that talk to MinIO in the configured subnets and security groups', () => {
    const talksToMinio = functions.filter(
      (f) => f.Properties.Environment?.Variables?.[envNames.minioEndpoint],
    );
    // Check MinIO, Plan MinIO, Copy Batch and the restore's four (Finalize MinIO reads the vault only).
    expect(talksToMinio.length).toBeGreaterThanOrEqual(7);
    for (const f of talksToMinio)
      expect(f.Properties.VpcConfig).toEqual({
        SubnetIds: network.subnetIds,
        SecurityGroupIds: network.securityGroupIds,
      });
    for (const f of functions.filter((fn) => !talksToMinio.includes(fn)))
      expect(f.Properties.VpcConfig, f.Properties.Description).toBeUndefined();
  });

  it('gives them the CA bundle, and passes cdk-nag with the VPC execution policy reasoned', () => {
    const pem = readFileSync(ca.caFile, 'utf8').trim();
    for (const f of functions.filter((fn) => fn.Properties.Environment?.Variables?.[envNames.minioEndpoint]))
      expect(f.Properties.Environment.Variables[envNames.minioCaBundle].trim()).toBe(pem);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => e.entry.data)).toEqual([]);
  });

  it('refuses a CA file that holds no certificate, naming the file', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'wire-backup-ca-')), 'not-a-ca.pem');
    writeFileSync(bad, 'hello\n');
    expect(() => synth(parseConfig({ ...example, minio: { ...example.minio, caBundleFile: bad } }))).toThrow(
      `minio.caBundleFile: ${bad} holds no PEM certificate`,
    );
  });

  it('refuses a network whose zones do not match its subnets, and malformed ids', () => {
    expect(() =>
      parseConfig({ ...example, network: { ...network, availabilityZones: ['eu-central-1a'] } }),
    ).toThrow(/network\.availabilityZones: give one zone per subnet/);
    expect(() => parseConfig({ ...example, network: { ...network, securityGroupIds: ['default'] } })).toThrow(
      /network\.securityGroupIds\.0: must be a security group id/,
    );
  });
});

describe('an existing vault bucket', () => {
  const existing = {
    bucketName: 'acme-wire-backups',
    kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  };
  const { stack, template } = synth(parseConfig({ ...example, vault: { ...example.vault, existing } }));

  it('creates no bucket or vault key, and grants on that bucket and key only', () => {
    expect(template.findResources('AWS::S3::Bucket')).toEqual({});
    // The archive key: the stack creates it when the owner names none (and owns its key policy).
    expect(Object.keys(template.findResources('AWS::KMS::Key'))).toEqual([
      expect.stringMatching(/^VaultArchiveKey/),
    ]);
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(`arn:`);
    expect(policies).toContain(':s3:::acme-wire-backups/backups/*/manifest.json');
    expect(policies).toContain(existing.kmsKeyArn);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => e.entry.data)).toEqual([]);
  });

  it('uses an archive key its owner made, granting its users in IAM only', () => {
    const archiveKmsKeyArn = 'arn:aws:kms:eu-central-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab';
    const imported = synth(
      parseConfig({ ...example, vault: { ...example.vault, existing: { ...existing, archiveKmsKeyArn } } }),
    ).template;
    expect(imported.findResources('AWS::KMS::Key')).toEqual({});
    const users = Object.entries(imported.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(archiveKmsKeyArn))
      .map(([id]) => id.replace(/RoleDefaultPolicy[0-9A-F]{8}$/, ''))
      .sort();
    expect(users).toEqual(['ArchiveCopy', 'HostAccess', 'VerifyArchive']);
  });

  it('refuses a name for a created bucket beside it, and a malformed key', () => {
    expect(() =>
      parseConfig({ ...example, vault: { ...example.vault, bucketName: 'other-name', existing } }),
    ).toThrow(
      /vault\.bucketName: names the bucket the stack creates, but vault\.existing uses acme-wire-backups/,
    );
    expect(() =>
      parseConfig({
        ...example,
        vault: { ...example.vault, existing: { ...existing, kmsKeyArn: 'alias/x' } },
      }),
    ).toThrow(/vault\.existing\.kmsKeyArn: must be a KMS key ARN/);
  });
});
