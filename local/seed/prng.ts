import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * Deterministic randomness for the seed data. Every generated thing is addressed by labels
 * (`seed`, entity, index…), so the same labels always give the same values, whatever the order or
 * concurrency of generation, and a larger size is a superset of a smaller one where plans allow.
 */

/** A label part: what addresses one deterministic stream. */
export type Label = string | number;

/** Hashes labels into four 32-bit words (cyrb128), the state of an {@link Rng}. */
function hashLabels(labels: readonly Label[]): [number, number, number, number] {
  const text = labels.join('\u0000');
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** A small, fast, seeded pseudo-random generator (sfc32) addressed by labels. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Creates the generator for these labels; equal labels give equal sequences. */
  constructor(...labels: Label[]) {
    [this.a, this.b, this.c, this.d] = hashLabels(labels);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `count` distinct elements of `items` (all of them when count >= length), in a random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, Math.min(count, copy.length));
  }

  /** `length` pseudo-random bytes (for short values; use {@link deterministicBytes} for bulk). */
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.nextUint32();
      for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (word >>> (k * 8)) & 0xff;
    }
    return out;
  }

  /** `length` lowercase hexadecimal characters. */
  hex(length: number): string {
    return this.bytes(Math.ceil(length / 2))
      .toString('hex')
      .slice(0, length);
  }

  /** A random (version 4 shaped) UUID string. */
  uuid(): string {
    const b = this.bytes(16);
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** The AES-CTR keystream for these labels: fast, deterministic bulk bytes. */
function keystream(labels: readonly Label[]) {
  const digest = createHash('sha256').update(labels.join('\u0000')).digest();
  return createCipheriv('aes-128-ctr', digest.subarray(0, 16), digest.subarray(16, 32));
}

/** `length` deterministic pseudo-random bytes for these labels (object bodies, blobs). */
export function deterministicBytes(length: number, ...labels: Label[]): Buffer {
  return keystream(labels).update(Buffer.alloc(length));
}

/**
 * A stream of `length` deterministic bytes for these labels, produced in chunks so a large object
 * never sits in memory whole; `prefix` (a file magic number, say) replaces the first bytes.
 */
export function deterministicStream(
  length: number,
  labels: readonly Label[],
  prefix: Buffer = Buffer.alloc(0),
): Readable {
  const cipher = keystream(labels);
  const chunkSize = 1024 * 1024;
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= length) {
        this.push(null);
        return;
      }
      const size = Math.min(chunkSize, length - produced);
      const chunk = cipher.update(Buffer.alloc(size));
      if (produced < prefix.length) prefix.copy(chunk, 0, produced, Math.min(prefix.length, produced + size));
      produced += size;
      this.push(chunk);
    },
  });
}
