import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compareKeys,
  inRange,
  isPlainMd5Etag,
  normalizeEtag,
  partRange,
  planPartsSchema,
  withinRange,
} from '../../functions/core/minio-layout.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  carriedKeyOf,
  legacyMinioObjectKey,
  minioEntryVaultKey,
  minioObjectKey,
  parseBatchKey,
  parseManifestKey,
  planKeyOf,
  planPartsKey,
} from '../../functions/core/vault-layout.js';

describe('minio-layout', () => {
  it('names batch files with a zero-padded number and their results next to them', () => {
    const key = batchKeyOf('20261126T061500Z', 'assets', 7);
    expect(key).toBe('backups/20261126T061500Z/minio/assets/batches/00007.jsonl');
    expect(batchResultKeyOf(key)).toBe('backups/20261126T061500Z/minio/assets/batches/00007.result.jsonl');
    expect(parseBatchKey(key)).toEqual({ backupId: '20261126T061500Z', bucket: 'assets', n: 7 });
    expect(parseBatchKey(batchResultKeyOf(key))).toBeUndefined();
  });

  it("keeps a whole bucket's plan files in its folder and each part's in parts/<part>/", () => {
    const id = '20261203T140000Z';
    expect(planKeyOf(id, 'assets')).toBe(`backups/${id}/minio/assets/plan.json`);
    expect(carriedKeyOf(id, 'assets', { part: 1, parts: 1 })).toBe(
      `backups/${id}/minio/assets/carried.jsonl.gz`,
    );
    expect(planKeyOf(id, 'assets', { part: 2, parts: 3 })).toBe(
      `backups/${id}/minio/assets/parts/0002/plan.json`,
    );
    const partBatch = batchKeyOf(id, 'assets', 7, { part: 3, parts: 3 });
    expect(partBatch).toBe(`backups/${id}/minio/assets/parts/0003/batches/00007.jsonl`);
    expect(parseBatchKey(partBatch)).toEqual({ backupId: id, bucket: 'assets', n: 7 });
    // Beside the manifest, never inside the bucket's working folder (a part's retry clears only its own).
    expect(planPartsKey(id, 'assets')).toBe(`backups/${id}/minio/assets.parts.json`);
  });

  it('splits a bucket at the boundaries: part 1 up to the first, the last after the last', () => {
    const boundaries = ['f', 'm'];
    expect(partRange(boundaries, 1)).toEqual({ upTo: 'f' });
    expect(partRange(boundaries, 2)).toEqual({ after: 'f', upTo: 'm' });
    expect(partRange(boundaries, 3)).toEqual({ after: 'm' });
    expect(partRange([], 1)).toEqual({});
    expect(() => partRange(boundaries, 4)).toThrow(/part 4 does not exist: the bucket is split into 3/);
    // Every key is in exactly one part, the boundary keys included.
    for (const key of ['a', 'f', 'f0', 'm', 'm\u0000', 'z', '\u{1F600}']) {
      const parts = [1, 2, 3].filter((p) => inRange(key, partRange(boundaries, p)));
      expect(parts, key).toHaveLength(1);
    }
  });

  it('takes the entries of a sorted stream in a range and stops reading after it', async () => {
    let read = 0;
    async function* stream() {
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
        read += 1;
        yield { key };
      }
    }
    const got: string[] = [];
    for await (const entry of withinRange(stream(), { after: 'b', upTo: 'd' })) got.push(entry.key);
    expect(got).toEqual(['c', 'd']);
    expect(read).toBe(5); // a b c d, and e ends the range: f is never read
  });

  it('refuses a parts file whose boundaries are not in strictly ascending S3 key order', () => {
    const parts = { bucket: 'assets', manifestKey: 'm', everyObjects: 2, objects: 5 };
    expect(planPartsSchema.safeParse({ ...parts, boundaries: ['b', 'd'] }).success).toBe(true);
    expect(planPartsSchema.safeParse({ ...parts, boundaries: ['d', 'b'] }).success).toBe(false);
    expect(planPartsSchema.safeParse({ ...parts, boundaries: ['b', 'b'] }).success).toBe(false);
    // S3 order is code point order: U+FFFD sorts before an astral character, unlike UTF-16 `<`.
    expect(planPartsSchema.safeParse({ ...parts, boundaries: ['\uFFFD', '\u{1F600}'] }).success).toBe(true);
  });

  it('parses the bucket out of a bucket manifest key, dots included', () => {
    expect(parseManifestKey('backups/20261126T061500Z/minio/wire.assets.manifest.jsonl.gz')).toEqual({
      backupId: '20261126T061500Z',
      bucket: 'wire.assets',
    });
    expect(parseManifestKey('backups/x/manifest.json')).toBeUndefined();
  });

  it('names a vault object by the SHA-256 of its source key (layout 2), whatever the key', () => {
    const sha = (key: string) => createHash('sha256').update(Buffer.from(key, 'utf8')).digest('hex');
    const long = `${'a'.repeat(250)}/${'ü'.repeat(386)}`; // 1,023 bytes of UTF-8
    for (const key of ['v3/a b+c%20ü', 'dir/', long, '🎉']) {
      expect(minioObjectKey('assets', key)).toBe(`minio/_keys/assets/${sha(key)}`);
    }
    expect(minioObjectKey('assets', 'dir/')).not.toBe(minioObjectKey('assets', 'dir'));
    expect(minioObjectKey('assets', 'k')).not.toBe(minioObjectKey('other', 'k'));
  });

  it('reads layout-1 entries (no vaultKey) at minio/<bucket>/<key>, layout-2 ones at their vaultKey', () => {
    expect(minioEntryVaultKey('assets', { key: 'v3/a b' })).toBe('minio/assets/v3/a b');
    expect(legacyMinioObjectKey('assets', 'v3/a b')).toBe('minio/assets/v3/a b');
    const vaultKey = minioObjectKey('assets', 'v3/a b');
    expect(minioEntryVaultKey('assets', { key: 'v3/a b', vaultKey })).toBe(vaultKey);
  });

  it('keeps layout-2 objects where no layout-1 key can be (underscore is no bucket name character)', () => {
    expect(minioObjectKey('assets', 'x').startsWith(legacyMinioObjectKey('_keys', ''))).toBe(true);
    expect(/^[a-z0-9.-]+$/.test('_keys')).toBe(false);
  });

  it('strips ETag quotes and recognises plain MD5 ETags only', () => {
    expect(normalizeEtag('"d41d8cd98f00b204e9800998ecf8427e"')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(isPlainMd5Etag('"d41d8cd98f00b204e9800998ecf8427e"')).toBe(true);
    expect(isPlainMd5Etag('"d41d8cd98f00b204e9800998ecf8427e-3"')).toBe(false);
    expect(isPlainMd5Etag('')).toBe(false);
  });

  it('orders keys by UTF-8 bytes, as S3 lists them', () => {
    const keys = ['b', 'a', '\u{1f600}', '\uff5e', 'a/', 'a+', 'a ', 'ab', '\u00e9'];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareKeys)).toEqual(byBytes);
    expect(compareKeys('same', 'same')).toBe(0);
  });
});
