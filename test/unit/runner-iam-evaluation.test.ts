import { describe, expect, it } from 'vitest';
import {
  type AuthorizationRequest,
  evaluateKeyPolicy,
  evaluatePolicies,
  type PolicyDocument,
  PolicyEvaluationSetupError,
} from '../../local/runner/iam/policy-evaluation.js';

/**
 * The cases follow AWS's documented evaluation logic and examples (IAM User Guide: "Policy evaluation
 * logic", "Determining whether a request is allowed or denied within an account", "IAM JSON policy
 * elements: NotAction", "Condition operators"; S3 User Guide: "Enforce encryption in transit"; KMS
 * Developer Guide: "Default key policy").
 */
const role = 'arn:aws:iam::000000000000:role/wire-backup-prepare';
const bucket = 'arn:aws:s3:::vault';
const request = (action: string, resource: string, context = {}): AuthorizationRequest => ({
  action,
  resource,
  principalArn: role,
  context,
});
const doc = (...Statement: PolicyDocument['Statement'][]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: Statement.flat(),
});
const prefixGrant = doc({
  Effect: 'Allow',
  Action: ['s3:GetObject*', 's3:List*', 's3:PutObject'],
  Resource: [bucket, `${bucket}/backups/*`],
});

describe('evaluatePolicies', () => {
  it('denies implicitly when no statement allows (the default is deny)', () => {
    expect(
      evaluatePolicies(request('s3:PutObject', `${bucket}/minio/x`), { identity: [prefixGrant] }),
    ).toEqual({
      effect: 'ImplicitDeny',
    });
  });

  it('allows an action matched by a wildcard, without regard to case, on a resource under the prefix', () => {
    const decision = evaluatePolicies(request('S3:getobjectversion', `${bucket}/backups/1/manifest.json`), {
      identity: [prefixGrant],
    });
    expect(decision.effect).toBe('Allow');
  });

  it('compares resources with regard to case', () => {
    const decision = evaluatePolicies(request('s3:GetObject', `${bucket}/Backups/1/manifest.json`), {
      identity: [prefixGrant],
    });
    expect(decision.effect).toBe('ImplicitDeny');
  });

  it('lets an explicit deny override any allow', () => {
    const deny = doc({ Effect: 'Deny', Action: 's3:*', Resource: `${bucket}/backups/locked/*` });
    const decision = evaluatePolicies(request('s3:PutObject', `${bucket}/backups/locked/a`), {
      identity: [prefixGrant, deny],
    });
    expect(decision.effect).toBe('ExplicitDeny');
  });

  it('reads NotAction as every action but those listed (the IAM guide’s "everything but IAM" example)', () => {
    const policy = doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    expect(evaluatePolicies(request('s3:ListBucket', bucket), { identity: [policy] }).effect).toBe('Allow');
    expect(
      evaluatePolicies(request('iam:CreateUser', 'arn:aws:iam::000000000000:user/x'), { identity: [policy] })
        .effect,
    ).toBe('ImplicitDeny');
  });

  it('applies the bucket policy that refuses requests without TLS (aws:SecureTransport false)', () => {
    const bucketPolicy = doc({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: [bucket, `${bucket}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    const over = (secure: string) =>
      evaluatePolicies(request('s3:GetObject', `${bucket}/backups/a`, { 'aws:SecureTransport': secure }), {
        identity: [prefixGrant],
        resource: bucketPolicy,
      });
    expect(over('true').effect).toBe('Allow');
    expect(over('false')).toMatchObject({ effect: 'ExplicitDeny', policy: 'resource' });
  });

  it('allows within one account when only the resource-based policy names the role', () => {
    const bucketPolicy = doc({
      Effect: 'Allow',
      Principal: { AWS: role },
      Action: 's3:GetObject',
      Resource: `${bucket}/*`,
    });
    expect(
      evaluatePolicies(request('s3:GetObject', `${bucket}/x`), { identity: [], resource: bucketPolicy }),
    ).toMatchObject({ effect: 'Allow', policy: 'resource' });
  });

  it('treats an Allow to the account root in a resource policy as delegation, not as an allow', () => {
    const bucketPolicy = doc({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:root' },
      Action: 's3:*',
      Resource: `${bucket}/*`,
    });
    expect(
      evaluatePolicies(request('s3:GetObject', `${bucket}/x`), { identity: [], resource: bucketPolicy })
        .effect,
    ).toBe('ImplicitDeny');
  });

  it('matches s3:prefix with StringLike and fails the condition when the key is absent', () => {
    const policy = doc({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucket,
      Condition: { StringLike: { 's3:prefix': ['backups/*'] } },
    });
    const list = (context: Record<string, string>) =>
      evaluatePolicies(request('s3:ListBucket', bucket, context), { identity: [policy] }).effect;
    expect(list({ 's3:prefix': 'backups/2026' })).toBe('Allow');
    expect(list({ 's3:prefix': 'minio/' })).toBe('ImplicitDeny');
    expect(list({})).toBe('ImplicitDeny');
  });

  it('satisfies a negated operator, ...IfExists and ForAllValues when the key is absent', () => {
    const policy = (Condition: Record<string, Record<string, unknown>>) =>
      doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition });
    const decide = (p: PolicyDocument) =>
      evaluatePolicies(request('s3:GetObject', `${bucket}/x`), { identity: [p] });
    expect(decide(policy({ StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } })).effect).toBe('Allow');
    expect(decide(policy({ StringEqualsIfExists: { 'aws:SourceVpc': 'vpc-1' } })).effect).toBe('Allow');
    expect(decide(policy({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a'] } })).effect).toBe('Allow');
    expect(decide(policy({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a'] } })).effect).toBe(
      'ImplicitDeny',
    );
    expect(decide(policy({ Null: { 'aws:SourceVpc': 'true' } })).effect).toBe('Allow');
  });

  it('compares numbers for NumericLessThan (the S3 TLS 1.2 minimum)', () => {
    const bucketPolicy = doc({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: `${bucket}/*`,
      Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
    });
    const over = (tls: string) =>
      evaluatePolicies(request('s3:GetObject', `${bucket}/backups/a`, { 's3:TlsVersion': tls }), {
        identity: [prefixGrant],
        resource: bucketPolicy,
      }).effect;
    expect(over('1.3')).toBe('Allow');
    expect(over('1.1')).toBe('ExplicitDeny');
  });

  it('refuses to guess about a condition operator it does not implement', () => {
    const policy = doc({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } },
    });
    expect(() => evaluatePolicies(request('s3:GetObject', `${bucket}/x`), { identity: [policy] })).toThrow(
      PolicyEvaluationSetupError,
    );
  });
});

describe('evaluateKeyPolicy', () => {
  const key = 'arn:aws:kms:us-east-1:000000000000:key/VaultKey';
  const defaultKeyPolicy = doc({
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::000000000000:root' },
    Action: 'kms:*',
    Resource: '*',
  });
  const decryptGrant = doc({ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: key });

  it('lets IAM policies decide when the default key policy delegates to the account', () => {
    expect(evaluateKeyPolicy(request('kms:Decrypt', key), [decryptGrant], defaultKeyPolicy).effect).toBe(
      'Allow',
    );
    expect(
      evaluateKeyPolicy(request('kms:GenerateDataKey', key), [decryptGrant], defaultKeyPolicy).effect,
    ).toBe('ImplicitDeny');
  });

  it('denies when the key policy neither names the role nor delegates, whatever IAM allows', () => {
    const other = doc({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:role/someone-else' },
      Action: 'kms:*',
      Resource: '*',
    });
    expect(evaluateKeyPolicy(request('kms:Decrypt', key), [decryptGrant], other).effect).toBe('ImplicitDeny');
  });

  it('allows when the key policy names the role itself', () => {
    const direct = doc({ Effect: 'Allow', Principal: { AWS: role }, Action: 'kms:Decrypt', Resource: '*' });
    expect(evaluateKeyPolicy(request('kms:Decrypt', key), [], direct).effect).toBe('Allow');
  });
});
