import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';

/**
 * The rotating verification sample shared by Finalize MinIO (carried objects) and Finalize Node (reused
 * SSTables): cost per run follows the change, and every referenced vault version is still looked at
 * regularly. Pure functions; `test/unit/transfer-budget.test.ts` checks the rotation.
 */

/**
 * The rotating sample of carried entries a run re-checks: an entry is in it when a 32-bit number taken
 * from the SHA-256 of its source key, modulo `divisor`, equals `slot`. Consecutive slots cover every
 * entry once per `divisor` runs (see {@link sampleSlotOf}).
 */
export interface VerifySample {
  readonly divisor: number;
  readonly slot: number;
}

/**
 * What a backup references without writing it (MinIO objects carried from the previous manifest,
 * SSTables reused by a node) is re-checked once every this many hourly runs (30 days): a run HEADs about
 * 1/720 of them (10 M objects: about 14,000 HEADs, not 10 M), and every referenced version is looked at
 * again within a month. What a run writes is always checked (MinIO: by the copy batch that wrote it;
 * SSTables: by Finalize Node).
 */
export const sampleDivisor = 720;

/** The sample slot of a run started at `startedAt`: its hour since the epoch, modulo `divisor`. */
export function sampleSlotOf(startedAt: string, divisor = sampleDivisor): number {
  const hours = Math.floor(Date.parse(startedAt) / 3_600_000);
  if (!Number.isFinite(hours)) throw new InvalidInputError(`startedAt "${startedAt}" is not a timestamp`);
  return ((hours % divisor) + divisor) % divisor;
}

/** True when the entry falls in the sample (its layout-2 vault key already ends in the key's SHA-256). */
export function isInSample(
  entry: { readonly key: string; readonly vaultKey?: string | undefined },
  sample: VerifySample,
): boolean {
  const hashed =
    entry.vaultKey && /[0-9a-f]{64}$/.test(entry.vaultKey) ? entry.vaultKey.slice(-64) : undefined;
  const hex = hashed ?? createHash('sha256').update(entry.key, 'utf8').digest('hex');
  return Number.parseInt(hex.slice(0, 8), 16) % sample.divisor === sample.slot;
}
