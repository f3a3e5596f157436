import { describe, expect, it } from 'vitest';
import { parseBackupInput } from '../../functions/core/backup-plan.js';
import { allocateBackupId } from '../../functions/core/vault-layout.js';

describe('parseBackupInput', () => {
  it('accepts the schedule’s input and a narrowed manual one', () => {
    expect(parseBackupInput({ trigger: 'schedule' })).toEqual({ trigger: 'schedule' });
    expect(parseBackupInput({ components: ['minio'], reason: 'before upgrade' }).components).toEqual([
      'minio',
    ]);
  });

  it('rejects unknown fields and components with InvalidInputError naming them', () => {
    expect(() => parseBackupInput({ components: ['postgres'] })).toThrowError(/components\.0/);
    expect(() => parseBackupInput({ keyspace: 'brig' })).toThrowError(/Unrecognized key.*keyspace/);
    try {
      parseBackupInput('not an object');
    } catch (error) {
      expect((error as Error).name).toBe('InvalidInputError');
    }
  });
});

describe('allocateBackupId', () => {
  it('is the UTC start second, sortable', () => {
    expect(allocateBackupId(new Date('2026-11-26T06:15:00.123Z'))).toBe('20261126T061500Z');
  });
});
