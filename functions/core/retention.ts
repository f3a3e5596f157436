import { z } from 'zod';
import { backupIdPattern } from './vault-layout.js';

/**
 * Grandfather-father-son retention, pure: which complete backups are kept, and why. No I/O, no clock
 * of its own — the purge (`core/purge-plan.ts`) hands it the backups it found and decides what a
 * "kept" backup protects.
 *
 * Rules (README, "Retention"):
 * - Backups are placed in UTC calendar periods by their id (the UTC start time, `20261126T061500Z`):
 *   hour, day, ISO week (Monday first), month.
 * - For each rule with count N, walking newest first, the newest backup of each of the N most recent
 *   periods **that hold a backup** is kept. Periods without backups do not use up the count, so
 *   when backups stop (an outage, a broken host), the last good ones are never aged out by the
 *   clock alone.
 * - The newest complete backup is always kept (the next backup is differential against it).
 * - Pinned backups (a running restore's, a running backup's base) are kept whatever the counts say.
 * - A backup kept by several rules lists every reason.
 */

/** GFS counts (`vault.retention` in the configuration). */
export const retentionCountsSchema = z.object({
  hourly: z.number().int().min(0),
  daily: z.number().int().min(0),
  weekly: z.number().int().min(0),
  monthly: z.number().int().min(0),
});
/** GFS counts. */
export type RetentionCounts = z.infer<typeof retentionCountsSchema>;

/** The GFS rules, finest first. */
export const retentionRules = ['hourly', 'daily', 'weekly', 'monthly'] as const;
/** One GFS rule. */
export type RetentionRule = (typeof retentionRules)[number];

/** Why a backup is kept. */
export type KeepReason =
  | { readonly kind: 'rule'; readonly rule: RetentionRule; readonly period: string; readonly rank: number }
  | { readonly kind: 'newest' }
  | { readonly kind: 'pinned'; readonly by: string };

/** The decision for one backup. */
export interface RetentionDecision {
  readonly backupId: string;
  readonly keep: boolean;
  readonly reasons: readonly KeepReason[];
}

/** A complete backup as retention sees it. */
export interface RetentionCandidate {
  readonly backupId: string;
  /** Pins (e.g. `restore 20261126T070000Z is running`): a pinned backup is always kept. */
  readonly pinnedBy?: readonly string[];
}

/** The UTC time a backup id stands for; throws naming the id when it is not one. */
export function backupTime(backupId: string): Date {
  if (!backupIdPattern.test(backupId))
    throw new Error(`"${backupId}" is not a backup id (YYYYMMDDTHHMMSSZ, UTC start time)`);
  const iso = `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}T${backupId.slice(9, 11)}:${backupId.slice(11, 13)}:${backupId.slice(13, 15)}Z`;
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) throw new Error(`"${backupId}" is not a valid UTC time`);
  return time;
}

/** ISO 8601 week of a UTC date, as `YYYY-Www` (the week's year may differ from the date's). */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** The calendar period (UTC) of a time under one rule: `2026-11-26T06`, `2026-11-26`, `2026-W48`, `2026-11`. */
export function periodOf(rule: RetentionRule, time: Date): string {
  const iso = time.toISOString();
  switch (rule) {
    case 'hourly':
      return iso.slice(0, 13);
    case 'daily':
      return iso.slice(0, 10);
    case 'weekly':
      return isoWeek(time);
    case 'monthly':
      return iso.slice(0, 7);
  }
}

/** Whether the counts keep anything at all (all zero keeps only the newest: refused at synth). */
export function keepsAnything(counts: RetentionCounts): boolean {
  return retentionRules.some((rule) => counts[rule] > 0);
}

/**
 * Decides, for every complete backup, whether GFS keeps it and why. The result is in the order of
 * `backups` sorted newest first. Ids must be unique backup ids.
 */
export function decideRetention(
  backups: readonly RetentionCandidate[],
  counts: RetentionCounts,
): RetentionDecision[] {
  const seen = new Set<string>();
  for (const b of backups) {
    if (seen.has(b.backupId)) throw new Error(`backup ${b.backupId} is listed twice`);
    seen.add(b.backupId);
  }
  const newestFirst = [...backups].sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
  const reasons = new Map<string, KeepReason[]>(newestFirst.map((b) => [b.backupId, []]));
  const add = (id: string, reason: KeepReason) => reasons.get(id)?.push(reason);

  for (const rule of retentionRules) {
    let left = counts[rule];
    let lastPeriod: string | undefined;
    for (const b of newestFirst) {
      if (left <= 0) break;
      const period = periodOf(rule, backupTime(b.backupId));
      if (period === lastPeriod) continue;
      lastPeriod = period;
      add(b.backupId, { kind: 'rule', rule, period, rank: counts[rule] - left + 1 });
      left -= 1;
    }
  }
  const newest = newestFirst[0];
  if (newest) add(newest.backupId, { kind: 'newest' });
  for (const b of newestFirst) for (const by of b.pinnedBy ?? []) add(b.backupId, { kind: 'pinned', by });

  return newestFirst.map((b) => {
    const r = reasons.get(b.backupId) ?? [];
    return { backupId: b.backupId, keep: r.length > 0, reasons: r };
  });
}

function describeReason(r: KeepReason): string {
  if (r.kind === 'rule') return `${r.rule} #${r.rank} (${r.period})`;
  if (r.kind === 'newest') return 'newest complete backup';
  return `pinned: ${r.by}`;
}

/** One line a person reads: `hourly #3 (2026-11-26T06), daily #1 (2026-11-26)` or `expired`. */
export function describeReasons(reasons: readonly KeepReason[]): string {
  if (reasons.length === 0) return 'expired: no retention rule keeps it';
  return reasons.map(describeReason).join(', ');
}
