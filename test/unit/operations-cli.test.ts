import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDeployedStack } from '../../cli/deployed.js';
import { matchesPattern, toDeliveredEvent } from '../../local/event-router.js';

describe('resolveDeployedStack', () => {
  const outputsFile = (content: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'outputs-')), 'cdk-outputs.json');
    writeFileSync(file, JSON.stringify(content));
    return file;
  };
  const outputs = {
    VaultBucketName: 'vault',
    BackupStateMachineArn: 'arn:backup',
    RestoreStateMachineArn: 'arn:restore',
    PurgeStateMachineArn: 'arn:purge',
  };
  it('reads the outputs cdk deploy wrote, flags overriding', () => {
    const file = outputsFile({ WireBackup: outputs });
    expect(resolveDeployedStack({ outputs: file, 'vault-bucket': 'other' })).toEqual({
      vaultBucket: 'other',
      backupStateMachineArn: 'arn:backup',
      restoreStateMachineArn: 'arn:restore',
      purgeStateMachineArn: 'arn:purge',
    });
  });
  it('names the missing output and both ways to give it', () => {
    const file = outputsFile({ WireBackup: { ...outputs, PurgeStateMachineArn: undefined } });
    expect(() => resolveDeployedStack({ outputs: file })).toThrow(
      /PurgeStateMachineArn is unknown: pass --outputs .* or --purge-arn/,
    );
  });
  it('asks for --stack when the file holds another stack', () => {
    const file = outputsFile({ A: outputs, B: outputs });
    expect(() => resolveDeployedStack({ outputs: file })).toThrow(
      /no outputs of stack WireBackup \(has: A, B\): pass --stack/,
    );
  });
});

describe('event router patterns', () => {
  const entry = {
    time: '2026-12-02T00:00:00Z',
    Source: 'wire-backup',
    DetailType: 'Backup Completed',
    Detail: JSON.stringify({ backupId: '20261202T000000Z' }),
  };
  it('delivers the event as EventBridge does, detail parsed', () => {
    expect(toDeliveredEvent(entry, 'eu-west-1')).toMatchObject({
      source: 'wire-backup',
      'detail-type': 'Backup Completed',
      region: 'eu-west-1',
      detail: { backupId: '20261202T000000Z' },
    });
  });
  it('matches on source and detail-type lists and nested detail values', () => {
    const event = toDeliveredEvent(entry, 'eu-west-1');
    expect(matchesPattern({ source: ['wire-backup'], 'detail-type': ['Backup Completed'] }, event)).toBe(
      true,
    );
    expect(matchesPattern({ source: ['wire-backup'], 'detail-type': ['Backup Failed'] }, event)).toBe(false);
    expect(matchesPattern({ detail: { backupId: ['20261202T000000Z'] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { backupId: ['other'] } }, event)).toBe(false);
  });
});
