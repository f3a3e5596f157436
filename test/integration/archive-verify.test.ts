import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWireServerArchive } from '../../functions/core/archive-verify.js';
import { createVaultS3Client } from '../../functions/core/clients.js';
import { ArchiveInvalidError, VerificationFailedError } from '../../functions/core/errors.js';
import { readStackInfo } from '../../local/stack-info.js';

const stack = readStackInfo();
const vault = createVaultS3Client({
  region: stack.vault.region,
  endpoint: stack.vault.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: stack.vault.accessKey, secretAccessKey: stack.vault.secretKey },
});
const bucket = stack.vault.bucket;
const prefix = `backups/it-archive-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}/`;
const expectedEntries = ['values/', 'ansible/inventory'];
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let workDir: string;
let archive: Buffer;
let plainTar: Buffer;

/** Puts bytes into the vault under this run's prefix; returns key and version id. */
async function put(name: string, body: Buffer): Promise<{ key: string; versionId: string | undefined }> {
  const key = `${prefix}${name}`;
  const response = await vault.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { key, versionId: response.VersionId };
}

beforeAll(() => {
  // A wire-server folder shaped like the real one, archived the way the host script does it.
  workDir = mkdtempSync(join(tmpdir(), 'archive-verify-'));
  const folder = join(workDir, 'wire-server');
  mkdirSync(join(folder, 'values', 'wire-server'), { recursive: true });
  mkdirSync(join(folder, 'ansible', 'inventory', 'prod'), { recursive: true });
  writeFileSync(join(folder, 'values', 'wire-server', 'values.yaml'), 'brig:\n  replicaCount: 1\n');
  writeFileSync(join(folder, 'values', 'wire-server', 'secrets.yaml'), 'secret: s3cr3t\n');
  writeFileSync(join(folder, 'ansible', 'inventory', 'prod', 'hosts.ini'), '[cassandra]\nnode1\n');
  execFileSync('tar', ['czf', join(workDir, 'wire-server.tar.gz'), '-C', workDir, 'wire-server']);
  execFileSync('tar', ['cf', join(workDir, 'wire-server.tar'), '-C', workDir, 'wire-server']);
  archive = readFileSync(join(workDir, 'wire-server.tar.gz'));
  plainTar = readFileSync(join(workDir, 'wire-server.tar'));
});

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  const page = await vault.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const version of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
    await vault.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }),
    );
  }
});

describe('verifyWireServerArchive', () => {
  it('accepts a tar.gz made by tar czf and reports its size, checksum, entries and root', async () => {
    // Arrange
    const { key, versionId } = await put('wire-server.tar.gz', archive);

    // Act
    const result = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      ...(versionId ? { versionId } : {}),
      expectedSha256: sha256(archive),
      expectedEntries,
    });

    // Assert
    expect(result).toEqual({
      key,
      bytes: archive.length,
      sha256: sha256(archive),
      entries: 9, // wire-server/, values/, values/wire-server/, 2 yaml files, ansible/, inventory/, prod/, hosts.ini
      rootEntry: 'wire-server/',
    });
  });

  it('rejects an archive that is not gzip-compressed', async () => {
    const { key } = await put('plain.tar', plainTar);
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      expectedSha256: sha256(plainTar),
      expectedEntries,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toMatch(new RegExp(`${key} is not gzip-compressed`));
  });

  it('rejects an empty object', async () => {
    const { key } = await put('empty.tar.gz', Buffer.alloc(0));
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      expectedSha256: sha256(Buffer.alloc(0)),
      expectedEntries,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toMatch(/is empty \(0 bytes\)/);
  });

  it('refuses an archive that is not under the archive key, naming both keys', async () => {
    // Written without --sse-kms-key-id: under the vault's default key, which other roles can decrypt.
    const { key, versionId } = await put('default-key.tar.gz', archive);
    const archiveKeyArn = 'arn:aws:kms:us-east-1:000000000000:key/VaultArchiveKey';
    const verify = (expectedKmsKeyArn?: string) =>
      verifyWireServerArchive({
        vault,
        bucket,
        key,
        ...(versionId ? { versionId } : {}),
        expectedSha256: sha256(archive),
        expectedEntries,
        ...(expectedKmsKeyArn ? { expectedKmsKeyArn } : {}),
      });
    const error = await verify(archiveKeyArn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toMatch(
      new RegExp(`${key}.* is encrypted with the vault’s default key, not the archive key ${archiveKeyArn}`),
    );
    expect((error as Error).message).toContain('--sse-kms-key-id');
    // Control: the same archive passes when no key is required.
    await expect(verify()).resolves.toMatchObject({ key, sha256: sha256(archive) });
  });

  it('names an expected entry the archive lacks', async () => {
    const { key } = await put('missing-entry.tar.gz', archive);
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      expectedSha256: sha256(archive),
      expectedEntries: [...expectedEntries, 'ansible/group_vars/'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toContain(`${key} lacks expected entries "ansible/group_vars/"`);
  });

  it('fails when the SHA-256 differs from the one the host computed', async () => {
    const { key } = await put('wrong-sum.tar.gz', archive);
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      expectedSha256: sha256(Buffer.from('another archive')),
      expectedEntries,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as Error).message).toContain(`${key}: SHA-256 ${sha256(archive)} differs`);
  });

  it('rejects a truncated upload', async () => {
    const truncated = archive.subarray(0, Math.floor(archive.length / 2));
    const { key } = await put('truncated.tar.gz', truncated);
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key,
      expectedSha256: sha256(truncated),
      expectedEntries,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toContain(key);
  });

  it('rejects an archive version that does not exist', async () => {
    const error = await verifyWireServerArchive({
      vault,
      bucket,
      key: `${prefix}never-uploaded.tar.gz`,
      expectedSha256: sha256(archive),
      expectedEntries,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveInvalidError);
    expect((error as Error).message).toMatch(/does not exist/);
  });
});
