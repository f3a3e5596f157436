import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DigestStream, forEachConcurrent, mapConcurrent, splitLines } from '../../functions/core/streams.js';

async function* chunksOf(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

async function lines(source: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of splitLines(source)) out.push(line);
  return out;
}

describe('DigestStream', () => {
  it('passes bytes through unchanged while computing SHA-256, MD5 and the byte count', async () => {
    // Arrange
    const data = Buffer.alloc(300_000, 7);
    const digest = new DigestStream();
    const received: Buffer[] = [];

    // Act
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), digest, async (source) => {
      for await (const chunk of source) received.push(chunk as Buffer);
    });

    // Assert
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(digest.digest()).toEqual({
      bytes: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      md5: createHash('md5').update(data).digest('hex'),
    });
  });

  it('fails before handing on the last bytes when the end-of-stream check fails', async () => {
    // Arrange
    const digest = new DigestStream({ check: (d) => (d.bytes === 6 ? new Error('too short') : undefined) });
    let received = 0;

    // Act
    const run = pipeline(Readable.from([Buffer.from('abc'), Buffer.from('def')]), digest, async (source) => {
      for await (const chunk of source) received += (chunk as Buffer).length;
    });

    // Assert
    await expect(run).rejects.toThrow('too short');
    expect(received).toBeLessThan(6);
  });
});

describe('splitLines', () => {
  it('splits on newlines across chunk boundaries, tolerating CRLF and a missing last newline', async () => {
    expect(await lines(chunksOf('{"a":1}\n{"b"', ':2}\r\n\n', '{"c":3}'))).toEqual([
      '{"a":1}',
      '{"b":2}',
      '{"c":3}',
    ]);
  });

  it('decodes a multi-byte character split between chunks', async () => {
    const bytes = Buffer.from('caf\u00e9 \u{1f600}\n');
    expect(await lines(chunksOf(bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8)))).toEqual([
      'caf\u00e9 \u{1f600}',
    ]);
  });
});

describe('forEachConcurrent', () => {
  it('never runs more than the given number of calls at once', async () => {
    // Arrange
    let running = 0;
    let peak = 0;

    // Act
    const count = await forEachConcurrent(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
      },
    );

    // Assert
    expect(count).toBe(20);
    expect(peak).toBe(3);
  });

  it('stops starting work after a failure and throws the first error', async () => {
    // Arrange
    const started: number[] = [];

    // Act
    const run = forEachConcurrent(
      Array.from({ length: 100 }, (_, i) => i),
      2,
      async (i) => {
        started.push(i);
        if (i === 3) throw new Error('boom at 3');
      },
    );

    // Assert
    await expect(run).rejects.toThrow('boom at 3');
    expect(started.length).toBeLessThan(10);
  });
});

describe('mapConcurrent', () => {
  it('returns results in input order whatever order they finish in', async () => {
    const source = (async function* () {
      yield* [30, 10, 20];
    })();
    const results = await mapConcurrent(source, 3, async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    expect(results).toEqual([30, 10, 20]);
  });
});
