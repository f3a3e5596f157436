import { createHash, randomUUID } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createVaultS3Client } from '../../functions/core/clients.js';
import { VerificationFailedError } from '../../functions/core/errors.js';
import { readJson, readJsonLines, writeJson, writeJsonLines } from '../../functions/core/manifest-io.js';
import { readStackInfo } from '../../local/stack-info.js';

const stack = readStackInfo();
const vault = createVaultS3Client({
  region: stack.vault.region,
  endpoint: stack.vault.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: stack.vault.accessKey, secretAccessKey: stack.vault.secretKey },
});
const bucket = stack.vault.bucket;
const prefix = `backups/it-manifest-io-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}/`;

async function collect<T>(lines: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

async function* generated(count: number): AsyncGenerator<{ key: string; n: number; sha256: string }> {
  for (let n = 0; n < count; n++) {
    // A SHA-256 per line keeps the file about as incompressible as a real manifest.
    yield {
      key: `objects/${String(n).padStart(7, '0')} ü+%`,
      n,
      sha256: createHash('sha256').update(String(n)).digest('hex'),
    };
  }
}

afterAll(async () => {
  const page = await vault.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const version of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
    await vault.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }),
    );
  }
});

describe('manifest-io', () => {
  it('round-trips plain JSON Lines and returns the version id', async () => {
    // Arrange
    const key = `${prefix}plain.jsonl`;
    const entries = [{ a: 1 }, { b: 'ünïcödé 😀' }, { c: null }];

    // Act
    const written = await writeJsonLines(vault, bucket, key, entries);
    const read = await collect(readJsonLines(vault, bucket, key));

    // Assert
    expect(written).toMatchObject({ key, lines: 3 });
    expect(written.versionId).toBeTruthy();
    expect(read).toEqual(entries);
  });

  it('streams a gzip file larger than one upload part and reads it back line by line', async () => {
    // Arrange: 200,000 lines ≈ 26 MB of JSON, > 5 MiB compressed, so the upload is multipart.
    const key = `${prefix}big.jsonl.gz`;

    // Act
    const written = await writeJsonLines(vault, bucket, key, generated(200_000), { gzip: true });
    let count = 0;
    let outOfSequence = 0;
    for await (const entry of readJsonLines<{ n: number }>(vault, bucket, key)) {
      if (entry.n !== count) outOfSequence += 1;
      count += 1;
    }

    // Assert
    expect(written.lines).toBe(200_000);
    expect(count).toBe(200_000);
    expect(outOfSequence).toBe(0);
    const head = await vault.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ETag).toMatch(/-\d+"$/);
    expect(head.ContentType).toBe('application/gzip');
  });

  it('reads in ranged GETs of chunkBytes, none left open for the reader: every line, in order', async () => {
    // Arrange: ~400 KB of gzip read 7,777 bytes a GET (about 50 GETs, boundaries inside lines and
    // inside gzip blocks), and a plain file read 1,000 bytes a GET.
    const gzKey = `${prefix}ranged.jsonl.gz`;
    const plainKey = `${prefix}ranged.jsonl`;
    await writeJsonLines(vault, bucket, gzKey, generated(5_000), { gzip: true });
    await writeJsonLines(vault, bucket, plainKey, generated(300));
    let gets = 0;
    const counting = {
      send: ((command: Parameters<typeof vault.send>[0]) => {
        if (command instanceof GetObjectCommand) gets += 1;
        return vault.send(command);
      }) as typeof vault.send,
    };

    // Act
    const gz = await collect(readJsonLines<{ n: number }>(counting, bucket, gzKey, { chunkBytes: 7_777 }));
    const gzGets = gets;
    const plain = await collect(
      readJsonLines<{ n: number }>(counting, bucket, plainKey, { chunkBytes: 1_000 }),
    );

    // Assert
    const size = (await vault.send(new HeadObjectCommand({ Bucket: bucket, Key: gzKey }))).ContentLength ?? 0;
    expect(gz.map((entry) => entry.n)).toEqual([...Array(5_000).keys()]);
    expect(gzGets).toBe(Math.ceil(size / 7_777));
    expect(plain.map((entry) => entry.n)).toEqual([...Array(300).keys()]);
  });

  it('fails, naming the object, when it is replaced between two ranged GETs', async () => {
    // Arrange
    const key = `${prefix}replaced.jsonl`;
    await writeJsonLines(vault, bucket, key, generated(200));
    const lines = readJsonLines<{ n: number }>(vault, bucket, key, { chunkBytes: 2_000 });
    const first = await lines.next();
    await writeJsonLines(vault, bucket, key, generated(300));

    // Act
    const rest = collect(lines);

    // Assert
    expect(first.value).toMatchObject({ n: 0 });
    await expect(rest).rejects.toThrow(VerificationFailedError);
    await expect(rest).rejects.toThrow(/replaced\.jsonl was replaced while it was read/);
  });

  it('writes an empty list as an empty object that reads back as no lines', async () => {
    const key = `${prefix}empty.jsonl.gz`;
    await writeJsonLines(vault, bucket, key, [], { gzip: true });
    expect(await collect(readJsonLines(vault, bucket, key))).toEqual([]);
  });

  it('commits nothing when the source of lines fails', async () => {
    // Arrange
    const key = `${prefix}failed.jsonl`;
    async function* failing(): AsyncGenerator<unknown> {
      yield { ok: true };
      throw new Error('listing broke');
    }

    // Act
    const run = writeJsonLines(vault, bucket, key, failing());

    // Assert
    await expect(run).rejects.toThrow('listing broke');
    await expect(vault.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).rejects.toBeInstanceOf(
      NoSuchKey,
    );
  });

  it('names the object and line of an entry that does not parse', async () => {
    // Arrange
    const key = `${prefix}corrupt.jsonl`;
    await vault.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"key":"a"}\n{not json\n' }));

    // Act
    const error = await collect(readJsonLines(vault, bucket, key)).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(`s3://${bucket}/${key} line 2 is not a valid entry`);
  });

  it('surfaces a missing object as NoSuchKey', async () => {
    await expect(collect(readJsonLines(vault, bucket, `${prefix}absent.jsonl`))).rejects.toBeInstanceOf(
      NoSuchKey,
    );
  });

  it('round-trips a JSON document with validation', async () => {
    const key = `${prefix}doc.json`;
    const written = await writeJson(vault, bucket, key, { batches: 3 });
    const read = await readJson(vault, bucket, key, (value) => value as { batches: number });
    expect(written.versionId).toBeTruthy();
    expect(read).toEqual({ batches: 3 });
  });
});
