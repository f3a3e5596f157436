import { types } from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashJson, MultisetDigest, normalizeValue } from '../../local/seed/normalize.js';

describe('normalizeValue', () => {
  it('turns uuid, timeuuid, bigint, varint, decimal and inet values into strings', () => {
    // Arrange
    const uuid = types.Uuid.fromString('0b6b5a41-3b3c-4d2e-9f1a-2c3d4e5f6a7b');
    const timeuuid = types.TimeUuid.fromString('a9650122-dc6d-11f0-933b-80896c44b46f');
    const values = [
      uuid,
      timeuuid,
      types.Long.fromString('-9223372036854775808'),
      types.Integer.fromString('123456789012345678901234567890'),
      types.BigDecimal.fromString('3.14159265358979323846'),
      types.InetAddress.fromString('2001:db8::1'),
      types.InetAddress.fromString('10.0.0.1'),
    ];

    // Act
    const normalized = values.map(normalizeValue);

    // Assert
    expect(normalized).toEqual([
      '0b6b5a41-3b3c-4d2e-9f1a-2c3d4e5f6a7b',
      'a9650122-dc6d-11f0-933b-80896c44b46f',
      '-9223372036854775808',
      '123456789012345678901234567890',
      '3.14159265358979323846',
      '2001:db8::1',
      '10.0.0.1',
    ]);
  });

  it('writes timestamps as ISO strings, dates, times and durations as CQL literals, blobs as hex', () => {
    // Arrange
    const values = [
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
      types.LocalDate.fromString('2026-02-28'),
      types.LocalTime.fromString('13:14:15.123456789'),
      new types.Duration(1, 2, types.Long.fromNumber(3_000_000_000)),
      Buffer.from([0xde, 0xad, 0x00, 0xff]),
      Buffer.alloc(0),
    ];

    // Act
    const normalized = values.map(normalizeValue);

    // Assert
    expect(normalized).toEqual([
      '2026-01-02T03:04:05.678Z',
      '2026-02-28',
      '13:14:15.123456789',
      '1mo2d3s',
      '0xdead00ff',
      '0x',
    ]);
  });

  it('sorts sets, keeps list order and sorts map keys', () => {
    // Arrange
    const set = new Set([10, 2, 9]);
    const textSet = new Set(['b', 'a', 'c']);
    const list = [3, 1, 2];
    const map = new Map<unknown, unknown>([
      ['z', 1],
      ['a', 2],
    ]);
    const uuidKeyed = new Map([
      [types.Uuid.fromString('0b6b5a41-3b3c-4d2e-9f1a-2c3d4e5f6a7b'), new Set(['y', 'x'])],
    ]);

    // Act
    const normalized = [set, textSet, list, map, uuidKeyed].map(normalizeValue);

    // Assert
    expect(normalized[0]).toEqual([2, 9, 10]);
    expect(normalized[1]).toEqual(['a', 'b', 'c']);
    expect(normalized[2]).toEqual([3, 1, 2]);
    expect(canonicalJson(normalized[3] ?? null)).toBe('{"a":2,"z":1}');
    expect(normalized[4]).toEqual({ '0b6b5a41-3b3c-4d2e-9f1a-2c3d4e5f6a7b': ['x', 'y'] });
  });

  it('normalizes user-defined types, tuples and nested collections field by field', () => {
    // Arrange
    const assets = [
      { typ: 0, key: '3-2-abc', size: 1 },
      { typ: 0, key: '3-2-def', size: null },
    ];
    const perms = { self: types.Long.fromNumber(8191), copy: types.Long.fromNumber(1025) };
    const tuple = new types.Tuple('a', types.Long.fromNumber(1), Buffer.from('x'));

    // Act
    const normalized = [assets, perms, tuple].map(normalizeValue);

    // Assert
    expect(normalized).toEqual([
      [
        { key: '3-2-abc', size: 1, typ: 0 },
        { key: '3-2-def', size: null, typ: 0 },
      ],
      { copy: '1025', self: '8191' },
      ['a', '1', '0x78'],
    ]);
  });

  it('keeps JSON safe: null for absent values, strings for non-finite floats', () => {
    // Arrange
    const values = [null, undefined, Number.NaN, Number.POSITIVE_INFINITY, -0.5, true, 'täxt'];

    // Act
    const normalized = values.map(normalizeValue);

    // Assert
    expect(normalized).toEqual([null, null, 'NaN', 'Infinity', -0.5, true, 'täxt']);
    expect(JSON.parse(JSON.stringify(normalized))).toEqual(normalized);
  });
});

describe('canonicalJson', () => {
  it('gives equal text for equal values whatever the key order', () => {
    // Arrange
    const a = { b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } };
    const b = { a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 };

    // Act
    const [ja, jb] = [canonicalJson(a), canonicalJson(b)];

    // Assert
    expect(ja).toBe(jb);
    expect(ja).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(hashJson(a)).toBe(hashJson(b));
  });
});

describe('MultisetDigest', () => {
  it('gives the same digest whatever the order rows are added in', () => {
    // Arrange
    const rows = ['a', 'b', 'c', 'd'].map((v) => hashJson({ v }));
    const forward = new MultisetDigest();
    const backward = new MultisetDigest();

    // Act
    for (const row of rows) forward.add(row);
    for (const row of [...rows].reverse()) backward.add(row);

    // Assert
    expect(forward.digest()).toBe(backward.digest());
    expect(forward.count).toBe(4);
  });

  it('changes when a row changes, goes missing or is duplicated', () => {
    // Arrange
    const rows = ['a', 'b', 'c'].map((v) => hashJson({ v }));
    const digestOf = (hashes: string[]): string => {
      const digest = new MultisetDigest();
      for (const h of hashes) digest.add(h);
      return digest.digest();
    };

    // Act
    const base = digestOf(rows);
    const changed = digestOf([rows[0] as string, rows[1] as string, hashJson({ v: 'C' })]);
    const missing = digestOf(rows.slice(0, 2));
    const duplicated = digestOf([...rows, rows[0] as string]);

    // Assert
    expect(new Set([base, changed, missing, duplicated]).size).toBe(4);
  });
});
