import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  ArchiveListing,
  normalizeEntryPath,
  verifyWireServerArchive,
} from '../../functions/core/archive-verify.js';
import { ArchiveInvalidError, VerificationFailedError } from '../../functions/core/errors.js';

/** Builds a tar (uncompressed) in memory from [name, content | null for a directory]. */
async function tarOf(entries: readonly (readonly [string, string | null])[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of entries) {
    if (content === null) pack.entry({ name, type: 'directory' });
    else pack.entry({ name }, content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A vault that serves one object from memory (GetObject only). */
function vaultServing(bytes: Buffer) {
  return {
    send: async () => ({ Body: Readable.from([bytes]), ContentLength: bytes.length }),
  } as unknown as Parameters<typeof verifyWireServerArchive>[0]['vault'];
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

const wireServer: [string, string | null][] = [
  ['wire-server/', null],
  ['wire-server/values/', null],
  ['wire-server/values/wire-server/values.yaml', 'brig: {}\n'],
  ['wire-server/ansible/', null],
  ['wire-server/ansible/inventory/', null],
  ['wire-server/ansible/inventory/prod/hosts.ini', '[all]\n'],
];

describe('normalizeEntryPath', () => {
  it('drops ./ and / prefixes and trailing slashes', () => {
    expect(normalizeEntryPath('./wire-server/values/')).toBe('wire-server/values');
    expect(normalizeEntryPath('/abs/file')).toBe('abs/file');
    expect(normalizeEntryPath('./')).toBe('');
  });
});

describe('ArchiveListing', () => {
  it('finds the root folder and expected entries relative to it', () => {
    // Arrange
    const listing = new ArchiveListing(['values/', 'ansible/inventory', 'secrets.yaml']);

    // Act
    for (const [name, content] of wireServer) listing.add(name, content === null);

    // Assert
    expect(listing.entries).toBe(6);
    expect(listing.rootEntry).toBe('wire-server/');
    expect(listing.missing()).toEqual(['secrets.yaml']);
  });

  it('accepts an archive made with tar -C folder . (no root folder)', () => {
    const listing = new ArchiveListing(['values/', 'ansible/inventory']);
    for (const name of ['./', './values/', './values/a.yaml', './ansible/inventory/hosts.ini']) {
      listing.add(name, name.endsWith('/'));
    }
    expect(listing.rootEntry).toBe('');
    expect(listing.missing()).toEqual([]);
  });

  it('finds a directory from its files when the archive has no directory entries', () => {
    const listing = new ArchiveListing(['values/']);
    listing.add('wire-server/values/x.yaml', false);
    listing.add('wire-server/other', false);
    expect(listing.missing()).toEqual([]);
  });

  it('does not accept a file where a directory is expected', () => {
    const listing = new ArchiveListing(['values/']);
    listing.add('wire-server/values', false);
    listing.add('wire-server/x', false);
    expect(listing.missing()).toEqual(['values/']);
  });
});

describe('verifyWireServerArchive', () => {
  it('returns size, checksum, entry count and root of a valid archive', async () => {
    // Arrange
    const archive = gzipSync(await tarOf(wireServer));

    // Act
    const result = await verifyWireServerArchive({
      vault: vaultServing(archive),
      bucket: 'vault',
      key: 'backups/1/wire-server.tar.gz',
      expectedSha256: sha256(archive),
      expectedEntries: ['values/', 'ansible/inventory'],
    });

    // Assert
    expect(result).toEqual({
      key: 'backups/1/wire-server.tar.gz',
      bytes: archive.length,
      sha256: sha256(archive),
      entries: 6,
      rootEntry: 'wire-server/',
    });
  });

  it('rejects a gzip stream that holds no TAR', async () => {
    // Arrange
    const notTar = gzipSync(Buffer.alloc(2048, 'x'));

    // Act
    const error = await verifyWireServerArchive({
      vault: vaultServing(notTar),
      bucket: 'vault',
      key: 'k.tar.gz',
      expectedSha256: sha256(notTar),
      expectedEntries: [],
    }).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toMatch(/s3:\/\/vault\/k.tar.gz: the TAR listing does not parse/);
  });

  it('rejects a truncated archive', async () => {
    const archive = gzipSync(await tarOf(wireServer));
    const truncated = archive.subarray(0, archive.length - 40);
    const run = verifyWireServerArchive({
      vault: vaultServing(truncated),
      bucket: 'vault',
      key: 'k.tar.gz',
      expectedSha256: sha256(truncated),
      expectedEntries: [],
    });
    await expect(run).rejects.toThrow(/gzip stream is corrupt or truncated/);
  });

  it('fails with VerificationFailedError when the SHA-256 differs', async () => {
    const archive = gzipSync(await tarOf(wireServer));
    const run = verifyWireServerArchive({
      vault: vaultServing(archive),
      bucket: 'vault',
      key: 'k.tar.gz',
      expectedSha256: 'f'.repeat(64),
      expectedEntries: ['values/'],
    });
    await expect(run).rejects.toBeInstanceOf(VerificationFailedError);
  });
});
