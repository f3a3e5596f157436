import { describe, expect, it } from 'vitest';
import { VerificationFailedError } from '../../functions/core/errors.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import {
  batchIndexItems,
  type DiffDecision,
  diffAgainstPrevious,
  isUnchanged,
  type ListedObject,
  preferFirst,
} from '../../functions/core/minio-plan.js';
import { Batcher } from '../../functions/core/object-transfer.js';

const sha = 'a'.repeat(64);

// A listing gives milliseconds; the manifest holds the GET header's LastModified, in whole seconds.
function listed(
  key: string,
  size = 10,
  etag = `etag-${key}`,
  lastModified = '2026-11-25T10:20:30.789Z',
): ListedObject {
  return { key, size, etag, lastModified };
}

function previous(key: string, size = 10, etag = `etag-${key}`): ManifestEntry {
  return {
    key,
    size,
    etag,
    sha256: sha,
    versionId: `v-${key}`,
    metadata: {},
    lastModified: '2026-11-25T10:20:30.000Z',
  };
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect(decisions: AsyncIterable<DiffDecision>): Promise<string[]> {
  const out: string[] = [];
  for await (const d of decisions) out.push(`${d.kind}:${d.kind === 'copy' ? d.object.key : d.entry.key}`);
  return out;
}

describe('isUnchanged', () => {
  it('treats the same key, size and ETag as unchanged, ignoring ETag quotes', () => {
    expect(isUnchanged(listed('a', 5, '"abc"'), previous('a', 5, 'abc'))).toBe(true);
  });

  it('treats a different size or ETag as changed', () => {
    expect(isUnchanged(listed('a', 6, 'abc'), previous('a', 5, 'abc'))).toBe(false);
    expect(isUnchanged(listed('a', 5, 'abd'), previous('a', 5, 'abc'))).toBe(false);
  });

  it('treats the same bytes rewritten later (other metadata, same ETag) as changed', () => {
    expect(isUnchanged(listed('a', 5, 'abc', '2026-11-25T10:20:31.002Z'), previous('a', 5, 'abc'))).toBe(
      false,
    );
    expect(isUnchanged(listed('a', 5, 'abc', '2026-11-25T10:20:29.999Z'), previous('a', 5, 'abc'))).toBe(
      false,
    );
  });
});

describe('diffAgainstPrevious', () => {
  it('copies everything when there is no previous manifest', async () => {
    const result = await collect(diffAgainstPrevious(from([listed('a'), listed('b')]), from([])));
    expect(result).toEqual(['copy:a', 'copy:b']);
  });

  it('carries unchanged objects, copies new and changed ones, and reports deleted ones', async () => {
    // Arrange
    const listing = [listed('b'), listed('c', 99), listed('d'), listed('f')];
    const before = [previous('a'), previous('b'), previous('c'), previous('e'), previous('g')];

    // Act
    const result = await collect(diffAgainstPrevious(from(listing), from(before)));

    // Assert
    expect(result).toEqual(['deleted:a', 'carry:b', 'copy:c', 'copy:d', 'deleted:e', 'copy:f', 'deleted:g']);
  });

  it('joins keys in S3 (UTF-8 byte) order, including characters above U+FFFF', async () => {
    // U+FF5E sorts before U+1F600 in UTF-8, after it in UTF-16 code units.
    const keys = ['a b', 'a+b', 'a%20b', 'caf\u00e9', '\uff5e', '\u{1f600}'].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y)),
    );
    const result = await collect(
      diffAgainstPrevious(from(keys.map((k) => listed(k))), from(keys.map((k) => previous(k)))),
    );
    expect(result).toEqual(keys.map((k) => `carry:${k}`));
  });

  it('refuses a listing that is out of key order', async () => {
    const error = await collect(diffAgainstPrevious(from([listed('b'), listed('a')]), from([]))).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect(error.message).toMatch(/source listing is not in S3 key order \("a" after "b"\)/);
  });

  it('refuses a previous manifest that is out of key order', async () => {
    const run = collect(diffAgainstPrevious(from([listed('z')]), from([previous('b'), previous('a')])));
    await expect(run).rejects.toThrow(/previous manifest is not in S3 key order/);
  });
});

describe('Batcher', () => {
  it('closes a batch when it holds the most objects allowed', () => {
    // Arrange
    const batcher = new Batcher<{ size: number; n: number }>(2, 1000);
    const closed: number[][] = [];

    // Act
    for (let n = 1; n <= 5; n++) {
      const batch = batcher.add({ size: 1, n });
      if (batch) closed.push(batch.map((o) => o.n));
    }
    const last = batcher.flush();

    // Assert
    expect(closed).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(last?.map((o) => o.n)).toEqual([5]);
    expect(batcher.flush()).toBeUndefined();
  });

  it('closes a batch before it would pass the byte limit, and gives a larger object a batch of its own', () => {
    // Arrange
    const batcher = new Batcher<{ size: number }>(100, 100);
    const batches: number[][] = [];
    const add = (size: number): void => {
      const batch = batcher.add({ size });
      if (batch) batches.push(batch.map((o) => o.size));
    };

    // Act
    for (const size of [40, 50, 20, 500, 0, 100, 1]) add(size);
    const rest = batcher.flush();
    if (rest) batches.push(rest.map((o) => o.size));

    // Assert
    expect(batches).toEqual([[40, 50], [20], [500], [0, 100], [1]]);
  });

  it('rejects limits that cannot form a batch', () => {
    expect(() => new Batcher(0, 10)).toThrow(RangeError);
    expect(() => new Batcher(1, 0)).toThrow(RangeError);
  });
});

describe('batchIndexItems', () => {
  it('lists every batch file of every separately planned bucket, buckets in the order given', () => {
    // Arrange: three buckets, each planned by its own invocation; one has nothing to copy.
    const plans = [
      { bucket: 'assets', batches: 2, part: 1, parts: 1 },
      { bucket: 'empty', batches: 0, part: 1, parts: 1 },
      { bucket: 'avatars', batches: 1, part: 1, parts: 1 },
    ];

    // Act
    const items = [...batchIndexItems('20261202T150000Z', plans)];

    // Assert
    expect(items).toEqual([
      { bucket: 'assets', batchKey: 'backups/20261202T150000Z/minio/assets/batches/00001.jsonl' },
      { bucket: 'assets', batchKey: 'backups/20261202T150000Z/minio/assets/batches/00002.jsonl' },
      { bucket: 'avatars', batchKey: 'backups/20261202T150000Z/minio/avatars/batches/00001.jsonl' },
    ]);
  });
});

describe("preferFirst (resuming: an interrupted run's entries ahead of the previous manifest's)", () => {
  const entry = (key: string, versionId: string) => ({ key, versionId });
  async function all<T>(stream: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const item of stream) out.push(item);
    return out;
  }

  it("merges in S3 key order and takes the first stream's entry for a key in both", async () => {
    const merged = await all(
      preferFirst(
        from([entry('b', 'resumed'), entry('d', 'resumed')]),
        from([
          entry('a', 'previous'),
          entry('b', 'previous'),
          entry('c', 'previous'),
          entry('e', 'previous'),
        ]),
      ),
    );
    expect(merged).toEqual([
      entry('a', 'previous'),
      entry('b', 'resumed'),
      entry('c', 'previous'),
      entry('d', 'resumed'),
      entry('e', 'previous'),
    ]);
  });

  it('drops an entry out of key order in either stream, reporting it, instead of failing', async () => {
    const dropped: string[] = [];
    const merged = await all(
      preferFirst(
        from([entry('b', 'r'), entry('a', 'r'), entry('d', 'r')]),
        from([entry('c', 'p'), entry('c', 'p2')]),
        (e) => dropped.push(`${e.key}/${e.versionId}`),
      ),
    );
    expect(merged.map((e) => `${e.key}/${e.versionId}`)).toEqual(['b/r', 'c/p', 'd/r']);
    expect(dropped.sort()).toEqual(['a/r', 'c/p2']);
  });

  it('passes either stream through whole when the other is empty', async () => {
    expect(await all(preferFirst(from([]), from([entry('a', 'p')])))).toEqual([entry('a', 'p')]);
    expect(await all(preferFirst(from([entry('a', 'r')]), from([])))).toEqual([entry('a', 'r')]);
  });
});
