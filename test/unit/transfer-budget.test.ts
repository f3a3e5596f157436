import { describe, expect, it } from 'vitest';
import { ByteBudget, bufferBytesOf, transferSettingsOf } from '../../functions/core/object-transfer.js';
import { minioObjectKey } from '../../functions/core/vault-layout.js';
import { isInSample, sampleSlotOf } from '../../functions/core/verify-sample.js';

const MiB = 1024 * 1024;

describe('ByteBudget', () => {
  it('lets small reservations run together and makes one that does not fit wait for releases', async () => {
    const budget = new ByteBudget(10);
    const a = await budget.acquire(4);
    const b = await budget.acquire(4);
    let cGranted = false;
    const c = budget.acquire(4).then((release) => {
      cGranted = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(cGranted).toBe(false);
    a();
    const releaseC = await c;
    expect(cGranted).toBe(true);
    b();
    releaseC();
  });

  it('runs a reservation larger than the budget alone, after everything held is released', async () => {
    const budget = new ByteBudget(10);
    const small = await budget.acquire(3);
    let bigGranted = false;
    const big = budget.acquire(1000).then((release) => {
      bigGranted = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(bigGranted).toBe(false);
    small();
    const releaseBig = await big;
    expect(bigGranted).toBe(true);
    // Waiters are served in order: a small one queued behind the big one waits for it.
    let laterGranted = false;
    const later = budget.acquire(1).then((release) => {
      laterGranted = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(laterGranted).toBe(false);
    releaseBig();
    (await later)();
    expect(laterGranted).toBe(true);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new ByteBudget(0)).toThrow(/memoryBudgetBytes must be positive/);
  });
});

describe('bufferBytesOf', () => {
  it('reserves a small object its size and a multipart one its parts in flight plus the one filling', () => {
    const settings = transferSettingsOf({});
    expect(bufferBytesOf(4096, settings)).toBe(4096);
    expect(bufferBytesOf(1024 * MiB, settings)).toBe((settings.queueSize + 1) * settings.partSizeBytes);
    // With the defaults, 32 objects of 64 KiB fit the budget together; two 1 GiB objects do not.
    expect(32 * bufferBytesOf(64 * 1024, settings)).toBeLessThanOrEqual(settings.memoryBudgetBytes);
    expect(2 * bufferBytesOf(1024 * MiB, settings)).toBeGreaterThan(settings.memoryBudgetBytes);
  });
});

describe('carried-object sample', () => {
  it('moves to the next slot each hour and wraps at the divisor', () => {
    expect(sampleSlotOf('1970-01-01T00:59:59Z', 720)).toBe(0);
    expect(sampleSlotOf('1970-01-01T01:00:00Z', 720)).toBe(1);
    expect(sampleSlotOf('1970-01-31T00:00:00Z', 720)).toBe(0);
    expect(() => sampleSlotOf('not a date')).toThrow(/not a timestamp/);
  });

  it('puts every key in exactly one slot, the same with or without a layout-2 vault key', () => {
    const divisor = 24;
    const counts = new Array<number>(divisor).fill(0);
    for (let i = 0; i < 2400; i++) {
      const key = `v3/persistent/${i}`;
      const slots = [];
      for (let slot = 0; slot < divisor; slot++) {
        const withVaultKey = isInSample({ key, vaultKey: minioObjectKey('assets', key) }, { divisor, slot });
        expect(isInSample({ key }, { divisor, slot })).toBe(withVaultKey);
        if (withVaultKey) slots.push(slot);
      }
      expect(slots).toHaveLength(1);
      counts[slots[0] as number] = (counts[slots[0] as number] ?? 0) + 1;
    }
    // Roughly even: every slot gets some of the 2,400 keys (100 expected each).
    for (const count of counts) expect(count).toBeGreaterThan(50);
  });
});
