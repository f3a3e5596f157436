import { describe, expect, it } from 'vitest';
import { parseWalFileName, walNotNeeded } from '../../functions/core/wal-retention.js';

describe('WAL retention', () => {
  const from = { startWalFile: '000000020000000100000007', backupId: '20261202T100000Z' };

  it('parses the names archive_command receives', () => {
    expect(parseWalFileName('000000010000000000000003')).toEqual({
      kind: 'segment',
      timeline: 1,
      position: '0000000000000003',
    });
    expect(parseWalFileName('0000000A00000001000000FF.partial')).toMatchObject({
      kind: 'partial',
      timeline: 10,
    });
    expect(parseWalFileName('000000010000000000000003.00000028.backup')).toMatchObject({ kind: 'backup' });
    expect(parseWalFileName('00000002.history')).toEqual({ kind: 'history', timeline: 2, position: '' });
    for (const bad of [
      '',
      '00000001',
      '000000010000000000000003.gz',
      'x00000010000000000000003',
      '0000000100000000000000030',
    ])
      expect(parseWalFileName(bad), bad).toBeUndefined();
  });

  it('lets go of what lies before the oldest kept backup on its timeline or an earlier one', () => {
    for (const name of [
      '000000020000000100000006',
      '000000020000000000000FFF',
      '000000010000000100000006',
      '000000010000000100000006.partial',
      '000000020000000100000006.00000028.backup',
    ])
      expect(walNotNeeded(name, from), name).toMatch(
        /^WAL before 000000020000000100000007, .*20261202T100000Z/,
      );
  });

  it('keeps the start segment and after, later timelines, history files and anything it cannot read', () => {
    for (const name of [
      '000000020000000100000007',
      '000000020000000100000008',
      '000000020000000200000000',
      '000000030000000000000001',
      '000000010000000100000009',
      '00000001.history',
      '00000002.history',
      'README',
      '000000020000000100000006.gz',
    ])
      expect(walNotNeeded(name, from), name).toBeUndefined();
    // A start that is not a segment name keeps everything.
    expect(
      walNotNeeded('000000010000000000000001', { startWalFile: 'unknown', backupId: 'x' }),
    ).toBeUndefined();
  });
});
