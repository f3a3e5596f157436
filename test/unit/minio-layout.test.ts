import { describe, expect, it } from 'vitest';
import { compareKeys, isPlainMd5Etag, normalizeEtag } from '../../functions/core/minio-layout.js';
import {
  batchKeyOf,
  batchResultKeyOf,
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

  it('keeps the source key verbatim under minio/<bucket>/', () => {
    expect(minioObjectKey('assets', 'v3/a b+c%20ü')).toBe('minio/assets/v3/a b+c%20ü');
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
