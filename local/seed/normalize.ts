import { createHash } from 'node:crypto';
import { types } from 'cassandra-driver';

/**
 * Turns Cassandra values (as the Node.js driver decodes them) into JSON-safe, canonical values, so
 * two reads of equal data give byte-equal JSON: uuid/timeuuid, bigint/counter/varint/decimal, inet,
 * date, time and duration as strings; timestamps as ISO strings; blobs as `0x…` hex; sets sorted;
 * maps and UDTs as objects with sorted keys; tuples and vectors as arrays.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const stringLike = [
  types.Uuid,
  types.Long,
  types.Integer,
  types.BigDecimal,
  types.InetAddress,
  types.LocalDate,
  types.LocalTime,
  types.Duration,
] as const;

/** Orders canonical values: numbers numerically, everything else by canonical JSON. */
export function compareJson(a: Json, b: Json): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = canonicalJson(a);
  const y = canonicalJson(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortedObject(entries: [string, Json][]): { [key: string]: Json } {
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: { [key: string]: Json } = {};
  for (const [key, value] of entries) out[key] = value;
  return out;
}

/** Normalizes one driver value (any CQL type) to canonical JSON. */
export function normalizeValue(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (stringLike.some((type) => value instanceof type)) return String(value);
  if (value instanceof types.Tuple) return value.values().map(normalizeValue);
  if (value instanceof types.Vector) return Array.from(value.elements, normalizeValue);
  if (value instanceof Set) return [...value].map(normalizeValue).sort(compareJson);
  if (value instanceof Map) {
    return sortedObject(
      [...value.entries()].map(([k, v]) => {
        const key = normalizeValue(k);
        return [typeof key === 'string' ? key : canonicalJson(key), normalizeValue(v)];
      }),
    );
  }
  if (Array.isArray(value)) return value.map(normalizeValue);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, normalizeValue);
  if (typeof value === 'object') {
    return sortedObject(Object.entries(value).map(([k, v]) => [k, normalizeValue(v)]));
  }
  return String(value);
}

/** JSON with object keys sorted at every level (a canonical form: equal values, equal text). */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Json)}`).join(',')}}`;
}

/** SHA-256 (hex) of a value's canonical JSON. */
export function hashJson(value: Json): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

const modulus = 1n << 256n;

/**
 * An order-independent digest of a multiset of rows: the sum of the rows' SHA-256 values modulo
 * 2^256, hashed with the count. Rows can be added in any order (token order differs between
 * topologies), and nothing but the running sum is kept.
 */
export class MultisetDigest {
  private sum = 0n;
  private rows = 0;

  /** Adds one row, given the hex SHA-256 of its canonical JSON. */
  add(sha256Hex: string): void {
    this.sum = (this.sum + BigInt(`0x${sha256Hex}`)) % modulus;
    this.rows++;
  }

  /** Number of rows added. */
  get count(): number {
    return this.rows;
  }

  /** The digest (hex SHA-256 over the count and the sum). */
  digest(): string {
    return createHash('sha256')
      .update(`${this.rows}:${this.sum.toString(16).padStart(64, '0')}`)
      .digest('hex');
  }
}
