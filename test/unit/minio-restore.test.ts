import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  BackupNotFoundError,
  InvalidInputError,
  RestoreRefusedError,
  VerificationFailedError,
} from '../../functions/core/errors.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import {
  checkRestoredBytes,
  isCompleteResult,
  summarizeRestored,
} from '../../functions/core/restore-minio-copy.js';
import {
  nonEmptyTargetMessage,
  planBucketRestore,
  restoreBatchItemsOf,
} from '../../functions/core/restore-minio-plan.js';
import {
  type BucketRestoreVerification,
  describeDifferences,
  ExampleList,
  joinManifestWithTarget,
  type RestoreJoin,
  verificationFailureMessage,
} from '../../functions/core/restore-minio-verify.js';
import { restoreBatchIndexKey, restoreBatchKeyOf } from '../../functions/core/vault-layout.js';

const entry = (key: string, size = 1, extra: Partial<ManifestEntry> = {}): ManifestEntry => ({
  key,
  size,
  sha256: 'a'.repeat(64),
  etag: 'e',
  versionId: `v-${key}`,
  metadata: {},
  lastModified: '2026-11-26T00:00:00.000Z',
  ...extra,
});

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A fake S3 client: answers from `handlers` by command name and records every command sent. */
function fakeS3(handlers: Record<string, (input: Record<string, unknown>) => unknown>) {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const client = {
    config: {},
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      sent.push({ name, input: command.input });
      const handler = handlers[name];
      if (!handler) throw new Error(`unexpected ${name}`);
      return handler(command.input);
    },
  };
  return { client: client as unknown as S3Client, sent };
}

const notFound = (name: string) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });

const manifestBody = (entries: readonly ManifestEntry[]) => () => ({
  Body: Readable.from([gzipSync(entries.map((e) => `${JSON.stringify(e)}\n`).join(''))]),
});

describe('restore layout', () => {
  it('puts batch files under restores/<id>/minio/<bucket>/batches with five-digit numbers', () => {
    expect(restoreBatchKeyOf('r1', 'assets', 7)).toBe('restores/r1/minio/assets/batches/00007.jsonl');
    expect(restoreBatchIndexKey('r1')).toBe('restores/r1/minio/batches.jsonl');
  });

  it('lists every batch of a plan as index items naming source and target bucket', () => {
    const items = restoreBatchItemsOf({
      sourceBucket: 'assets',
      targetBucket: 'assets-restored',
      manifestKey: 'backups/b/minio/assets.manifest.jsonl.gz',
      objects: 3,
      bytes: 3,
      batches: 2,
      batchKeys: ['k1', 'k2'],
      dryRun: false,
      targetState: 'missing',
    });
    expect(items).toEqual([
      { bucket: 'assets', targetBucket: 'assets-restored', batchKey: 'k1' },
      { bucket: 'assets', targetBucket: 'assets-restored', batchKey: 'k2' },
    ]);
  });
});

describe('nonEmptyTargetMessage', () => {
  it('names the bucket, the object count and the fix', () => {
    expect(nonEmptyTargetMessage('assets-restored', 12, false)).toBe(
      'target bucket assets-restored holds 12 objects: pass overwrite, or choose an empty bucket',
    );
  });

  it('says "at least" when the count stopped at one listing page', () => {
    expect(nonEmptyTargetMessage('b', 1000, true)).toMatch(/holds at least 1000 objects/);
    expect(nonEmptyTargetMessage('b', 1, false)).toMatch(/holds 1 object:/);
  });
});

describe('ExampleList', () => {
  it('keeps the first items up to the limit and counts them all', () => {
    const list = new ExampleList<number>(2);
    for (const n of [1, 2, 3, 4]) list.add(n);
    expect(list.examples).toEqual([1, 2]);
    expect(list.count).toBe(4);
  });
});

describe('checkRestoredBytes', () => {
  const expected = entry('a b+c', 3, { sha256: 'b'.repeat(64), versionId: 'ver-1' });

  it('accepts the size and SHA-256 the manifest recorded', () => {
    expect(
      checkRestoredBytes('s3://v/minio/x/a b+c', expected, { bytes: 3, sha256: 'b'.repeat(64), md5: '' }),
    ).toBe(undefined);
  });

  it('names key and version and calls the vault copy corrupt when the SHA-256 differs', () => {
    const error = checkRestoredBytes('s3://v/minio/x/a b+c', expected, {
      bytes: 3,
      sha256: 'c'.repeat(64),
      md5: '',
    });
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect(error?.message).toMatch(
      /s3:\/\/v\/minio\/x\/a b\+c version ver-1 \(key "a b\+c"\): SHA-256 c+ differs/,
    );
    expect(error?.message).toMatch(/the vault copy is corrupt/);
  });

  it('names key and version when the byte count differs', () => {
    const error = checkRestoredBytes('w', expected, { bytes: 2, sha256: 'b'.repeat(64), md5: '' });
    expect(error?.message).toMatch(/version ver-1 \(key "a b\+c"\): read 2 bytes, the manifest says 3/);
  });
});

describe('isCompleteResult and summarizeRestored', () => {
  const entries = [entry('a', 2), entry('b', 5)];
  const line = (e: ManifestEntry) => ({
    key: e.key,
    size: e.size,
    sha256: e.sha256,
    versionId: e.versionId,
    targetEtag: 't',
  });

  it('accepts a result covering every entry in order and sums it', () => {
    const lines = entries.map(line);
    expect(isCompleteResult(entries, lines)).toBe(true);
    expect(summarizeRestored('k', lines)).toEqual({ batchKey: 'k', restoredObjects: 2, restoredBytes: 7 });
  });

  it('rejects a partial result or one written for other versions', () => {
    const first = entries[0] as ManifestEntry;
    expect(isCompleteResult(entries, [line(first)])).toBe(false);
    expect(
      isCompleteResult(entries, [line(first), { ...line(entries[1] as ManifestEntry), versionId: 'x' }]),
    ).toBe(false);
  });
});

describe('joinManifestWithTarget', () => {
  it('pairs keys present in both and reports missing and extra ones, in S3 key order', async () => {
    // Arrange
    const manifest = [entry('a'), entry('b'), entry('d'), entry('\u{1F600}')];
    const listing = [
      { key: 'b', size: 1 },
      { key: 'c', size: 1 },
      { key: '\uFF5E', size: 1 },
      { key: '\u{1F600}', size: 1 },
    ];

    // Act
    const joined = await collect(joinManifestWithTarget(from(manifest), from(listing)));

    // Assert
    const summary = joined.map(
      (item: RestoreJoin) => `${item.kind}:${'entry' in item ? item.entry.key : item.object.key}`,
    );
    expect(summary).toEqual([
      'missing:a',
      'both:b',
      'extra:c',
      'missing:d',
      'extra:\uFF5E',
      'both:\u{1F600}',
    ]);
  });

  it('fails when the target listing is out of order', async () => {
    const listing = [
      { key: 'b', size: 1 },
      { key: 'a', size: 1 },
    ];
    const error = await collect(joinManifestWithTarget(from([entry('a')]), from(listing))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerificationFailedError);
  });
});

describe('describeDifferences', () => {
  const expected = entry('k', 3, {
    contentType: 'image/png',
    metadata: { owner: 'alice', 'asset-token': 't' },
    sha256: 'b'.repeat(64),
  });

  it('finds nothing when size, content type, metadata and SHA-256 agree (metadata keys case-insensitive)', () => {
    const observed = {
      size: 3,
      contentType: 'image/png',
      metadata: { Owner: 'alice', 'asset-token': 't' },
      sha256: 'b'.repeat(64),
    };
    expect(describeDifferences(expected, observed)).toEqual([]);
  });

  it('names every field that differs', () => {
    const observed = {
      size: 4,
      contentType: 'application/octet-stream',
      metadata: { owner: 'bob', extra: 'x' },
      sha256: 'c'.repeat(64),
    };
    expect(describeDifferences(expected, observed)).toEqual([
      'size 4, the manifest says 3',
      'content type "application/octet-stream", the manifest says "image/png"',
      'metadata {"asset-token":null,"extra":"x","owner":"bob"}, the manifest says {"asset-token":"t","extra":null,"owner":"alice"}',
      `SHA-256 ${'c'.repeat(64)}, the manifest says ${'b'.repeat(64)}`,
    ]);
  });

  it('does not compare the content type when the manifest recorded none', () => {
    const noType = entry('k', 1);
    expect(
      describeDifferences(noType, { size: 1, contentType: 'binary/octet-stream', metadata: {} }),
    ).toEqual([]);
  });
});

describe('verificationFailureMessage', () => {
  const result: BucketRestoreVerification = {
    sourceBucket: 'assets',
    targetBucket: 'assets-restored',
    manifestKey: 'backups/b/minio/assets.manifest.jsonl.gz',
    objects: 30,
    bytes: 100,
    deep: true,
    missing: ['gone'],
    missingCount: 3,
    mismatched: [{ key: 'changed', problems: ['size 1, the manifest says 2'] }],
    mismatchedCount: 1,
    extra: ['stray'],
    extraCount: 1,
  };

  it('names the bucket, the counts and the first differences, and leaves extras out unless strict', () => {
    const message = verificationFailureMessage(result, false);
    expect(message).toMatch(/^target bucket assets-restored: 3 missing \("gone", and 2 more\); 1 different/);
    expect(message).toContain('"changed": size 1, the manifest says 2');
    expect(message).not.toContain('stray');
    expect(verificationFailureMessage(result, true)).toContain('1 not in the backup ("stray")');
  });
});

describe('planBucketRestore', () => {
  const manifestKey = 'backups/20261126T061500Z/minio/assets.manifest.jsonl.gz';
  const base = { vaultBucket: 'vault', manifestKey, targetBucket: 'assets-restored', restoreId: 'r-1' };

  it('refuses a non-empty target that holds an object not of the backup, without overwrite, writing nothing', async () => {
    // Arrange: the target holds "a" (the backup's, same size) and "b" (not the backup's).
    const vault = fakeS3({ GetObjectCommand: manifestBody([entry('a', 10), entry('c', 30)]) });
    const target = fakeS3({
      ListObjectsV2Command: () => ({
        Contents: [
          { Key: 'a', Size: 10 },
          { Key: 'b', Size: 20 },
        ],
      }),
    });

    // Act
    const error = await planBucketRestore({
      ...base,
      vault: vault.client,
      target: target.client,
      overwrite: false,
    }).catch((e: unknown) => e);

    // Assert: only reads (the listing, the manifest); nothing written anywhere.
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect((error as Error).message).toBe(
      'target bucket assets-restored holds 2 objects, not only this backup\'s ("b" is not, or differs in size): pass overwrite, or choose an empty bucket',
    );
    expect(vault.sent.map((c) => c.name)).toEqual(['GetObjectCommand']);
    expect(target.sent.map((c) => c.name)).toEqual(['ListObjectsV2Command', 'ListObjectsV2Command']);
  });

  it('plans a dry run into a missing bucket with reads only: no bucket, no batch files', async () => {
    // Arrange
    const entries = [entry('a', 10), entry('b', 20), entry('c', 30)];
    const vault = fakeS3({ GetObjectCommand: manifestBody(entries) });
    const target = fakeS3({
      ListObjectsV2Command: () => {
        throw notFound('NoSuchBucket');
      },
    });

    // Act
    const plan = await planBucketRestore({
      ...base,
      vault: vault.client,
      target: target.client,
      overwrite: false,
      dryRun: true,
      batchMaxObjects: 2,
    });

    // Assert
    expect(plan).toEqual({
      sourceBucket: 'assets',
      targetBucket: 'assets-restored',
      manifestKey,
      objects: 3,
      bytes: 60,
      batches: 2,
      batchKeys: [restoreBatchKeyOf('r-1', 'assets', 1), restoreBatchKeyOf('r-1', 'assets', 2)],
      dryRun: true,
      targetState: 'missing',
    });
    expect(vault.sent.map((c) => c.name)).toEqual(['GetObjectCommand']);
    expect(target.sent.map((c) => c.name)).toEqual(['ListObjectsV2Command']);
  });

  it('fails with BackupNotFoundError naming the manifest when it does not exist', async () => {
    const vault = fakeS3({
      GetObjectCommand: () => {
        throw notFound('NoSuchKey');
      },
    });
    const target = fakeS3({ ListObjectsV2Command: () => ({ Contents: [] }) });
    const error = await planBucketRestore({
      ...base,
      vault: vault.client,
      target: target.client,
      overwrite: false,
      dryRun: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupNotFoundError);
    expect((error as Error).message).toContain(`s3://vault/${manifestKey} does not exist`);
  });

  it('rejects a manifest whose keys are out of order (duplicates included)', async () => {
    const vault = fakeS3({ GetObjectCommand: manifestBody([entry('a'), entry('a')]) });
    const target = fakeS3({ ListObjectsV2Command: () => ({ Contents: [] }) });
    const error = await planBucketRestore({
      ...base,
      vault: vault.client,
      target: target.client,
      overwrite: false,
      dryRun: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toMatch(/not in S3 key order/);
  });

  it('rejects a restore id that cannot name a vault folder, and a key that is not a bucket manifest', async () => {
    const vault = fakeS3({});
    const target = fakeS3({});
    const badId = await planBucketRestore({
      ...base,
      restoreId: '../x',
      vault: vault.client,
      target: target.client,
      overwrite: true,
    }).catch((e: unknown) => e);
    const badKey = await planBucketRestore({
      ...base,
      manifestKey: 'backups/x/manifest.json',
      vault: vault.client,
      target: target.client,
      overwrite: true,
    }).catch((e: unknown) => e);
    expect(badId).toBeInstanceOf(InvalidInputError);
    expect(badKey).toBeInstanceOf(InvalidInputError);
    expect([...vault.sent, ...target.sent]).toEqual([]);
  });
});
