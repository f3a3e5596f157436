import { describe, expect, it } from 'vitest';
import { VerificationFailedError } from '../../functions/core/errors.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import { mergeManifestEntries, reconcileBatch } from '../../functions/core/minio-manifest.js';

function entry(key: string, size = 1): ManifestEntry {
  return {
    key,
    size,
    sha256: 'b'.repeat(64),
    etag: 'e',
    versionId: `v-${key}`,
    metadata: {},
    lastModified: '2026-11-26T00:00:00.000Z',
  };
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

async function keys(entries: AsyncIterable<ManifestEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of entries) out.push(e.key);
  return out;
}

describe('reconcileBatch', () => {
  it('returns the copied entries in key order, and names the vanished and the failed ones', () => {
    const batch = reconcileBatch(
      'b1',
      ['a', 'b', 'c', 'd'],
      [
        entry('c'),
        { key: 'b', vanished: true },
        { key: 'd', failed: true, error: 'AccessDenied', cause: 'GetObject s3://x/d failed: AccessDenied' },
        entry('a'),
      ],
    );
    expect(batch.copied.map((e) => e.key)).toEqual(['a', 'c']);
    expect(batch.vanished).toEqual(['b']);
    expect(batch.failed).toEqual([
      { key: 'd', failed: true, error: 'AccessDenied', cause: 'GetObject s3://x/d failed: AccessDenied' },
    ]);
  });

  it('names the batch and the key that has no result', () => {
    const act = (): unknown => reconcileBatch('batches/00002.jsonl', ['a', 'b'], [entry('a')]);
    expect(act).toThrow(VerificationFailedError);
    expect(act).toThrow(/batches\/00002.jsonl: planned object "b" has no copy result/);
  });

  it('rejects results for keys the batch did not plan, and duplicate results', () => {
    expect(() => reconcileBatch('b', ['a'], [entry('a'), entry('x')])).toThrow(
      /"x", which the batch did not plan/,
    );
    expect(() => reconcileBatch('b', ['a'], [entry('a'), entry('a')])).toThrow(/names "a" twice/);
  });
});

describe('mergeManifestEntries', () => {
  it('merges carried and copied entries into one list in key order', async () => {
    const merged = await keys(
      mergeManifestEntries(from([entry('a'), entry('d')]), from([entry('b'), entry('c'), entry('e')])),
    );
    expect(merged).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('rejects a key that is both carried and copied', async () => {
    await expect(keys(mergeManifestEntries(from([entry('a')]), from([entry('a')])))).rejects.toThrow(
      /"a" is both carried and copied/,
    );
  });

  it('rejects an input out of key order', async () => {
    await expect(keys(mergeManifestEntries(from([entry('b'), entry('a')]), from([])))).rejects.toThrow(
      /out of S3 key order/,
    );
  });
});
