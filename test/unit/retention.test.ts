import { describe, expect, it } from 'vitest';
import {
  backupTime,
  decideRetention,
  describeReasons,
  isoWeek,
  keepsAnything,
  periodOf,
  type RetentionCounts,
} from '../../functions/core/retention.js';
import { allocateBackupId } from '../../functions/core/vault-layout.js';

const none: RetentionCounts = { hourly: 0, daily: 0, weekly: 0, monthly: 0 };

/** Backup ids every `stepMinutes` from `start`, `count` of them (oldest first). */
function series(start: string, stepMinutes: number, count: number): string[] {
  const t0 = new Date(start).getTime();
  return Array.from({ length: count }, (_, i) => allocateBackupId(new Date(t0 + i * stepMinutes * 60_000)));
}

const kept = (ids: string[], counts: RetentionCounts) =>
  decideRetention(
    ids.map((backupId) => ({ backupId })),
    counts,
  )
    .filter((d) => d.keep)
    .map((d) => d.backupId)
    .sort();

describe('backupTime', () => {
  it('reads the UTC start time from a backup id', () => {
    expect(backupTime('20261126T061500Z').toISOString()).toBe('2026-11-26T06:15:00.000Z');
  });
  it('refuses what is not a backup id, naming it', () => {
    expect(() => backupTime('2026-11-26')).toThrow(/"2026-11-26" is not a backup id/);
    expect(() => backupTime('20261399T000000Z')).toThrow(/not a valid UTC time/);
  });
});

describe('isoWeek', () => {
  it('puts the first days of January into the last week of the previous year when ISO says so', () => {
    expect(isoWeek(new Date('2027-01-01T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
  });
  it('starts weeks on Monday', () => {
    expect(isoWeek(new Date('2026-11-29T23:59:59Z'))).toBe('2026-W48'); // Sunday
    expect(isoWeek(new Date('2026-11-30T00:00:00Z'))).toBe('2026-W49'); // Monday
  });
});

describe('periodOf', () => {
  it('names the UTC hour, day, ISO week and month', () => {
    const t = new Date('2026-11-26T06:15:00Z');
    expect(periodOf('hourly', t)).toBe('2026-11-26T06');
    expect(periodOf('daily', t)).toBe('2026-11-26');
    expect(periodOf('weekly', t)).toBe('2026-W48');
    expect(periodOf('monthly', t)).toBe('2026-11');
  });
});

describe('decideRetention', () => {
  it('keeps the newest backup of each of the last N hours', () => {
    // Two backups per hour for 10 hours: the later one of each of the last 3 hours is kept.
    const ids = series('2026-11-26T00:10:00Z', 30, 20);
    expect(kept(ids, { ...none, hourly: 3 })).toEqual([
      '20261126T074000Z',
      '20261126T084000Z',
      '20261126T094000Z',
    ]);
  });

  it('keeps daily, weekly and monthly representatives from 90 days of hourly backups', () => {
    const ids = series('2026-09-01T00:00:00Z', 60, 90 * 24);
    const decisions = decideRetention(
      ids.map((backupId) => ({ backupId })),
      { hourly: 24, daily: 7, weekly: 4, monthly: 3 },
    );
    const keptIds = decisions.filter((d) => d.keep).map((d) => d.backupId);
    // 24 hourly (the last day, 23:00 of it also the daily), 6 more daily (23:00 of each earlier day),
    // weekly: the newest of the last 4 ISO weeks (2 of them coincide with daily ones), monthly: 3.
    expect(keptIds).toContain('20261129T230000Z'); // newest: hourly #1, daily #1, weekly #1, monthly #1
    expect(keptIds.filter((id) => id.startsWith('20261129'))).toHaveLength(24);
    for (const day of ['20261128', '20261127', '20261126', '20261125', '20261124', '20261123'])
      expect(keptIds).toContain(`${day}T230000Z`);
    expect(keptIds).toContain('20261122T230000Z'); // Sunday: end of 2026-W47 (weekly #2)
    expect(keptIds).toContain('20261115T230000Z'); // weekly #3
    expect(keptIds).toContain('20261108T230000Z'); // weekly #4
    expect(keptIds).toContain('20261031T230000Z'); // monthly #2
    expect(keptIds).toContain('20260930T230000Z'); // monthly #3
    expect(keptIds).toHaveLength(24 + 6 + 3 + 2);
    const newest = decisions.find((d) => d.backupId === '20261129T230000Z');
    expect(newest?.reasons.map((r) => (r.kind === 'rule' ? r.rule : r.kind))).toEqual([
      'hourly',
      'daily',
      'weekly',
      'monthly',
      'newest',
    ]);
  });

  it('does not age out the last backups when backups stopped: empty periods use up no count', () => {
    const ids = ['20260101T010000Z', '20260101T020000Z', '20260101T030000Z'];
    // Months later, with hourly 2 and nothing else, the last two are still kept.
    expect(kept(ids, { ...none, hourly: 2 })).toEqual(['20260101T020000Z', '20260101T030000Z']);
  });

  it('always keeps the newest complete backup, even when every count is zero', () => {
    const ids = series('2026-11-26T00:00:00Z', 60, 5);
    const decisions = decideRetention(
      ids.map((backupId) => ({ backupId })),
      none,
    );
    expect(decisions.filter((d) => d.keep).map((d) => d.backupId)).toEqual(['20261126T040000Z']);
    expect(decisions[0]?.reasons).toEqual([{ kind: 'newest' }]);
  });

  it('keeps pinned backups whatever the counts, with who pinned them', () => {
    const ids = series('2026-11-26T00:00:00Z', 60, 5);
    const decisions = decideRetention(
      ids.map((backupId) => ({
        backupId,
        ...(backupId === '20261126T000000Z' ? { pinnedBy: ['restore 20261126T050000Z is running'] } : {}),
      })),
      { ...none, hourly: 1 },
    );
    const oldest = decisions.find((d) => d.backupId === '20261126T000000Z');
    expect(oldest?.keep).toBe(true);
    expect(describeReasons(oldest?.reasons ?? [])).toBe('pinned: restore 20261126T050000Z is running');
    expect(decisions.filter((d) => d.keep)).toHaveLength(2);
  });

  it('returns the decisions newest first whatever the input order', () => {
    const ids = series('2026-11-26T00:00:00Z', 60, 4).reverse().concat([]);
    const shuffled = [ids[2], ids[0], ids[3], ids[1]].map((backupId) => ({ backupId: backupId ?? '' }));
    expect(decideRetention(shuffled, { ...none, hourly: 2 }).map((d) => d.backupId)).toEqual(ids);
  });

  it('explains expiry and each keeping rule in words', () => {
    const [d] = decideRetention([{ backupId: '20261126T061500Z' }], { ...none, daily: 1 });
    expect(describeReasons(d?.reasons ?? [])).toBe('daily #1 (2026-11-26), newest complete backup');
    expect(describeReasons([])).toMatch(/^expired/);
  });

  it('refuses a backup listed twice', () => {
    expect(() =>
      decideRetention([{ backupId: '20261126T061500Z' }, { backupId: '20261126T061500Z' }], none),
    ).toThrow(/listed twice/);
  });

  it('handles an empty vault', () => {
    expect(decideRetention([], { hourly: 24, daily: 14, weekly: 8, monthly: 12 })).toEqual([]);
  });
});

describe('keepsAnything', () => {
  it('is false only when every count is zero', () => {
    expect(keepsAnything(none)).toBe(false);
    expect(keepsAnything({ ...none, monthly: 1 })).toBe(true);
  });
});
