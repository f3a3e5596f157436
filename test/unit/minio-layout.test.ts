import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compareKeys, isPlainMd5Etag, normalizeEtag } from '../../functions/core/minio-layout.js';
import {
  batchKeyOf,
  batchResultKeyOf,
  legacyMinioObjectKey,
  minioEntryVaultKey,
  minioObjectKey,
  parseBatchKey,
  parseManifestKey,
} from '../../functions/core/vault-layout.js';

describe('minio-layout', () => {
  it('names batch files with a zero-padded number and their results next to them', () => {
    const key = batchKeyOf('20261126T061500Z', 'assets', 7);
    expect(key).toBe('backups/20261126T061500Z/minio/assets/batches/00007.jsonl');
    expect(batchResultKeyOf(key)).toBe('backups/20261126T061500Z/minio/assets/batches/00007.result.jsonl');
    expect(parseBatchKey(key)).toEqual({ backupId: '20261126T061500Z', bucket: 'assets', n: 7 });
    expect(parseBatchKey(batchResultKeyOf(key))).toBeUndefined();
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
