import { describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import { type BucketManifestSummary, objectsNotCopiedMessage } from '../../functions/core/minio-manifest.js';
import { decodeListedKey } from '../../functions/core/minio-plan.js';
import { describeDifferences } from '../../functions/core/restore-minio-verify.js';
import { restoreInputSchema } from '../../functions/core/restore-plan.js';
import { restoreWarnings } from '../../functions/core/restore-report.js';

describe('decodeListedKey', () => {
  it('decodes a URL-encoded listing key ("+" is a space, %XX a byte) into its UTF-8 text', () => {
    expect(decodeListedKey('a+b%2Bc%25d.txt')).toBe('a b+c%d.txt');
    expect(decodeListedKey('%C3%A9/%E6%97%A5%E6%9C%AC')).toBe('é/日本');
    expect(decodeListedKey('dir/')).toBe('dir/');
    // A literal "%" not followed by two hex digits is itself; text between escapes keeps its characters.
    expect(decodeListedKey('50%off+%C3%A9t%C3%A9/%zz%4')).toBe('50%off été/%zz%4');
  });

  it('keeps a character outside the BMP that a listing sent unescaped (not two U+FFFD)', () => {
    expect(decodeListedKey('😀/a')).toBe('😀/a');
    expect(decodeListedKey('x+😀%2By')).toBe('x 😀+y');
  });

  it('inverts encodeURIComponent for every key shape it produces', () => {
    for (const key of ['plain/key.bin', 'sp ace+plus', 'é/日本/😀', '%25 literal', 'a%2Fb', "~!*()'", '']) {
      expect(decodeListedKey(encodeURIComponent(key))).toBe(key);
    }
  });

  it('returns undefined for a key whose bytes are not UTF-8, instead of a text naming another object', () => {
    expect(decodeListedKey('bad%FFname')).toBeUndefined();
    expect(decodeListedKey('half%C3')).toBeUndefined();
  });
});

describe('objectsNotCopiedMessage', () => {
  const failed = (bucket: string, n: number): BucketManifestSummary['failed'] => ({
    count: n,
    objects: Array.from({ length: Math.min(n, 10) }, (_, i) => ({
      bucket,
      key: `k${i}`,
      error: 'AccessDenied',
      cause: `GetObject s3://${bucket}/k${i} failed: AccessDenied (HTTP 403): Access Denied.`,
    })),
    listKey: `backups/20261126T061500Z/minio/${bucket}/failed-objects.jsonl`,
  });

  it('names each object with bucket, key and cause', () => {
    const message = objectsNotCopiedMessage('vault', [{ bucket: 'assets', failed: failed('assets', 1) }]);
    expect(message).toBe(
      '1 object could not be copied, so this run is not a backup: assets/"k0": GetObject s3://assets/k0 failed: AccessDenied (HTTP 403): Access Denied. — full list: s3://vault/backups/20261126T061500Z/minio/assets/failed-objects.jsonl. Fix or remove these objects on the source, then run the backup again',
    );
  });

  it('names up to ten in all, then gives the count and every full list', () => {
    const message = objectsNotCopiedMessage('vault', [
      { bucket: 'a', failed: failed('a', 8) },
      { bucket: 'b', failed: failed('b', 30) },
      { bucket: 'c', failed: { count: 0, objects: [] } },
    ]);
    expect(message).toMatch(/^38 objects could not be copied/);
    expect(message.match(/failed: AccessDenied/g)).toHaveLength(10);
    expect(message).toContain('b/"k1"');
    expect(message).not.toContain('b/"k2"');
    expect(message).toContain(
      '; and 28 more — full list: s3://vault/backups/20261126T061500Z/minio/a/failed-objects.jsonl, s3://vault/backups/20261126T061500Z/minio/b/failed-objects.jsonl',
    );
  });
});

describe('describeDifferences (headers and tags)', () => {
  const entry: ManifestEntry = {
    key: 'k',
    size: 1,
    sha256: 'a'.repeat(64),
    etag: 'e',
    versionId: 'v',
    metadata: {},
    headers: { contentLanguage: 'de-DE', expires: 'Wed, 01 Jan 2031 00:00:00 GMT' },
    tags: { a: '1' },
    lastModified: '2026-11-26T00:00:00.000Z',
  };

  it('accepts the same headers (an expiry compared as a time) and tags', () => {
    const observed = {
      size: 1,
      contentType: undefined,
      metadata: {},
      headers: { contentLanguage: 'de-DE', expires: 'Wed, 1 Jan 2031 00:00:00 GMT' },
      tags: { a: '1' },
    };
    expect(describeDifferences(entry, observed)).toEqual([]);
  });

  it('names a header and tags that differ', () => {
    const observed = { size: 1, contentType: undefined, metadata: {}, headers: {}, tags: { a: '2' } };
    expect(describeDifferences(entry, observed)).toEqual([
      'contentLanguage null, the manifest says "de-DE"',
      'expires null, the manifest says "Wed, 01 Jan 2031 00:00:00 GMT"',
      'tags {"a":"2"}, the manifest says {"a":"1"}',
    ]);
  });

  it('compares neither for a layout-1 entry, which did not record them', () => {
    const { headers: _h, tags: _t, ...legacy } = entry;
    expect(describeDifferences(legacy, { size: 1, contentType: undefined, metadata: {} })).toEqual([]);
  });
});

describe('restore input minio.extraObjects', () => {
  const base = { backupId: '20261126T061500Z', confirm: '20261126T061500Z' };

  it('reports extra objects unless told to delete them', () => {
    expect(restoreInputSchema.parse(base).minio).toEqual({ extraObjects: 'report' });
    expect(restoreInputSchema.parse({ ...base, minio: { extraObjects: 'delete' } }).minio).toEqual({
      extraObjects: 'delete',
    });
  });

  it('refuses any other value, and unknown fields', () => {
    expect(restoreInputSchema.safeParse({ ...base, minio: { extraObjects: 'remove' } }).success).toBe(false);
    expect(restoreInputSchema.safeParse({ ...base, minio: { extra: 'delete' } }).success).toBe(false);
  });
});

describe('restoreWarnings (MinIO)', () => {
  it('names the objects a restored bucket holds that the backup does not, and the fix', () => {
    const warnings = restoreWarnings({
      verified: {
        cassandra: null,
        rowCounts: null,
        minio: [{ targetBucket: 'assets', objects: 3, bytes: 9, extra: 2, extraKeys: ['x', 'y/'] }],
      },
    });
    expect(warnings).toEqual([
      'bucket assets holds 2 object(s) that the backup does not hold: "x", "y/" — restore again with "minio": {"extraObjects": "delete"} to remove them (recoverably), or remove them by hand',
    ]);
  });
});
