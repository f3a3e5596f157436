import { describe, expect, it } from 'vitest';
import { compareListings, type ListedObject } from '../../bench/restore-check.js';

const md5 = (c: string) => c.repeat(32);
const source: ListedObject[] = [
  { key: 'a', size: 10, etag: md5('a') },
  { key: 'b', size: 20, etag: md5('b') },
  { key: 'c', size: 30, etag: `${md5('c')}-2` },
];

describe('restore check (bench)', () => {
  it('passes an identical listing, comparing only plain MD5 ETags', () => {
    const restored = source.map((o) => (o.key === 'c' ? { ...o, etag: `${md5('d')}-4` } : o));

    expect(compareListings(source, restored)).toEqual({ differences: [], etagsCompared: 2 });
  });

  it('names a missing key, an extra key, a size and an ETag that differ', () => {
    const restored: ListedObject[] = [
      { key: 'a', size: 11, etag: md5('a') },
      { key: 'b', size: 20, etag: md5('e') },
      { key: 'z', size: 1, etag: md5('f') },
    ];

    expect(compareListings(source, restored).differences).toEqual([
      '"a": 11 bytes, expected 10',
      `"b": ETag ${md5('e')}, expected ${md5('b')}`,
      '"c" missing',
      '"z" not in the source',
    ]);
  });

  it('names a count that differs', () => {
    expect(compareListings(source, source.slice(0, 2)).differences[0]).toBe('2 objects, expected 3');
  });
});
