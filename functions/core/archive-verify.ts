import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import tar from 'tar-stream';
import { ArchiveInvalidError, InvalidInputError, VerificationFailedError } from './errors.js';
import { isNotFoundError, isTransientError, toStorageError } from './minio-errors.js';
import { DigestStream } from './streams.js';

/**
 * Verifies the wire-server folder archive the deploy host streamed into the vault, as the manual
 * procedure checks it by hand (`file`, `ls -lh`, `tar tvf`): non-empty, gzip, a TAR whose listing
 * parses and holds the expected entries, plus the SHA-256 the host computed. The object is read once,
 * as a stream, through SHA-256, gunzip and a TAR parser; entry contents are skipped, never held.
 */

/** Input of {@link verifyWireServerArchive}. */
export interface VerifyWireServerArchiveInput {
  readonly vault: Pick<S3Client, 'send'>;
  readonly bucket: string;
  readonly key: string;
  /** The version the backup wrote (recommended: a later write cannot stand in for it). */
  readonly versionId?: string;
  /** SHA-256 (hex) the host computed while uploading. */
  readonly expectedSha256: string;
  /**
   * Paths that must exist, relative to the archive's root folder (`wire-server/`): `values/` needs a
   * directory (or anything under it), `ansible/inventory` a file or directory of that name.
   */
  readonly expectedEntries: readonly string[];
  /**
   * The KMS key the archive must be encrypted with (the archive's own key): an archive under any other
   * key fails the verification, since other roles could decrypt it. @default - not checked
   */
  readonly expectedKmsKeyArn?: string;
}

/** Outcome of {@link verifyWireServerArchive}. */
export interface WireServerArchiveVerification {
  readonly key: string;
  /** Size of the archive (compressed). */
  readonly bytes: number;
  readonly sha256: string;
  /** Number of TAR entries. */
  readonly entries: number;
  /** The single top-level folder all entries sit in (`wire-server/`), or '' if there is none. */
  readonly rootEntry: string;
}

/** Strips `./` and `/` prefixes and a trailing `/`: `./wire-server/values/` → `wire-server/values`. */
export function normalizeEntryPath(path: string): string {
  return path.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
}

interface Expectation {
  readonly path: string;
  readonly directory: boolean;
  underRoot: boolean;
  atTop: boolean;
}

function matches(expectation: Expectation, path: string, isDirectory: boolean): boolean {
  if (path === expectation.path) return isDirectory || !expectation.directory;
  return path.startsWith(`${expectation.path}/`);
}

/**
 * Tracks a TAR listing entry by entry (memory: the expected entries only): counts entries, finds the
 * common root folder, and which expected paths are present relative to that root (or, for archives
 * made with `tar -C folder .`, relative to the top).
 */
export class ArchiveListing {
  private count = 0;
  private rootCandidate: string | undefined;
  private sharesRoot = true;
  private rootIsFolder = false;
  private readonly expectations: Expectation[];

  constructor(expectedEntries: readonly string[]) {
    this.expectations = expectedEntries.map((entry) => ({
      path: normalizeEntryPath(entry),
      directory: entry.endsWith('/'),
      underRoot: false,
      atTop: false,
    }));
  }

  /** Records one entry (`name` as stored in the TAR header). */
  add(name: string, isDirectory: boolean): void {
    this.count += 1;
    const path = normalizeEntryPath(name);
    if (path === '') return; // `./` itself
    const slash = path.indexOf('/');
    const top = slash === -1 ? path : path.slice(0, slash);
    this.rootCandidate ??= top;
    if (top !== this.rootCandidate) this.sharesRoot = false;
    if (slash !== -1 || isDirectory) this.rootIsFolder ||= top === this.rootCandidate;
    const relative = top === this.rootCandidate ? (slash === -1 ? '' : path.slice(slash + 1)) : undefined;
    for (const expectation of this.expectations) {
      if (matches(expectation, path, isDirectory)) expectation.atTop = true;
      if (relative !== undefined && relative !== '' && matches(expectation, relative, isDirectory)) {
        expectation.underRoot = true;
      }
    }
  }

  /** Entries seen so far. */
  get entries(): number {
    return this.count;
  }

  /** The common root folder with a trailing `/`, or ''. */
  get rootEntry(): string {
    return this.sharesRoot && this.rootIsFolder && this.rootCandidate ? `${this.rootCandidate}/` : '';
  }

  /** Expected entries not found (as given to the constructor, normalized). */
  missing(): string[] {
    const hasRoot = this.rootEntry !== '';
    return this.expectations
      .filter((expectation) => !(expectation.atTop || (hasRoot && expectation.underRoot)))
      .map((expectation) => (expectation.directory ? `${expectation.path}/` : expectation.path));
  }
}

/** Fails the stream unless it starts with the gzip magic number (`1f 8b`). */
class GzipMagicCheck extends Transform {
  private head = Buffer.alloc(0);
  private checked = false;

  constructor(private readonly describe: () => string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.checked) {
      callback(null, chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 2) {
      callback();
      return;
    }
    this.checked = true;
    callback(this.verify(), this.head);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.checked) {
      callback(this.verify());
      return;
    }
    callback();
  }

  private verify(): ArchiveInvalidError | null {
    if (this.head[0] === 0x1f && this.head[1] === 0x8b) return null;
    const first = [...this.head.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
    return new ArchiveInvalidError(
      `${this.describe()} is not gzip-compressed (it starts with ${first || 'nothing'}, not 1f 8b) — the host must stream 'tar -cf - … | gzip'`,
    );
  }
}

/** Maps a failure while reading the archive to what went wrong. */
function archiveFailure(where: string, error: unknown): unknown {
  if (error instanceof ArchiveInvalidError || error instanceof VerificationFailedError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (code.startsWith('Z_')) {
    return new ArchiveInvalidError(
      `${where}: the gzip stream is corrupt or truncated (${message}) — the upload was cut short or altered; rerun the backup`,
      { cause: error },
    );
  }
  if (/tar header|end of data|Header exceeds|Invalid header/i.test(message)) {
    return new ArchiveInvalidError(
      `${where}: the TAR listing does not parse (${message}) — the archive is not a TAR or is truncated; rerun the backup`,
      { cause: error },
    );
  }
  if (isTransientError(error)) return toStorageError(error, `reading ${where}`);
  return new ArchiveInvalidError(`${where}: cannot be read as a gzip'd TAR (${message})`, { cause: error });
}

/**
 * Verifies the wire-server archive in one streamed read (see the module comment). Fails with
 * {@link ArchiveInvalidError} (missing, empty, not gzip, TAR does not parse, expected entry absent) or
 * {@link VerificationFailedError} (SHA-256 differs), each naming the key and what is wrong.
 */
export async function verifyWireServerArchive(
  input: VerifyWireServerArchiveInput,
): Promise<WireServerArchiveVerification> {
  const { vault, bucket, key, versionId } = input;
  const expectedSha256 = input.expectedSha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expectedSha256)) {
    throw new InvalidInputError(
      `expectedSha256 "${input.expectedSha256}" is not a hex SHA-256 (64 hex digits)`,
    );
  }
  const where = `s3://${bucket}/${key}${versionId ? ` (version ${versionId})` : ''}`;

  let response: GetObjectCommandOutput;
  try {
    response = await vault.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
    );
  } catch (error) {
    if (isNotFoundError(error)) {
      throw new ArchiveInvalidError(`${where} does not exist — the host's upload did not complete`, {
        cause: error,
      });
    }
    throw toStorageError(error, `GetObject ${where}`);
  }
  const body = response.Body as Readable;
  if (input.expectedKmsKeyArn !== undefined && response.SSEKMSKeyId !== input.expectedKmsKeyArn) {
    body.destroy();
    throw new ArchiveInvalidError(
      `${where} is encrypted with ${response.SSEKMSKeyId ? `KMS key ${response.SSEKMSKeyId}` : 'the vault’s default key'}, not the archive key ${input.expectedKmsKeyArn}: roles other than the restore path could decrypt it — the host uploaded it without --sse-kms-key-id; deploy the stack’s WireBackup-WireServerArchive document (kmsKeyArn) and run the backup again`,
    );
  }
  if (response.ContentLength === 0) {
    body.destroy();
    throw new ArchiveInvalidError(
      `${where} is empty (0 bytes) — the host's tar produced nothing; check the folder path`,
    );
  }

  const digest = new DigestStream({ md5: false });
  const gunzip = createGunzip();
  // pipeline() destroys every stage when one fails, so the first error reaches the reader of gunzip.
  pipeline(body, digest, new GzipMagicCheck(() => where), gunzip, () => {});
  const extract = tar.extract();
  const listing = new ArchiveListing(input.expectedEntries);

  const feed = async (): Promise<void> => {
    try {
      for await (const chunk of gunzip) {
        if (!extract.write(chunk as Buffer)) {
          await new Promise<void>((resolve) => {
            const settle = (): void => {
              extract.off('drain', settle);
              extract.off('close', settle);
              resolve();
            };
            extract.on('drain', settle);
            extract.on('close', settle);
          });
          if (extract.destroyed) return;
        }
      }
      extract.end(undefined); // streamx's end() takes an optional final chunk
    } catch (error) {
      extract.destroy(error as Error);
    }
  };
  try {
    const feeding = feed();
    for await (const entry of extract) {
      listing.add(entry.header.name, entry.header.type === 'directory');
      entry.resume();
    }
    await feeding;
  } catch (error) {
    throw archiveFailure(where, error);
  } finally {
    body.destroy();
  }

  const { bytes, sha256 } = digest.digest();
  if (bytes === 0) {
    throw new ArchiveInvalidError(
      `${where} is empty (0 bytes) — the host's tar produced nothing; check the folder path`,
    );
  }
  if (response.ContentLength !== undefined && bytes !== response.ContentLength) {
    throw new VerificationFailedError(
      `${where}: read ${bytes} bytes, the vault announced ${response.ContentLength} — rerun the verification`,
    );
  }
  if (listing.entries === 0) {
    throw new ArchiveInvalidError(
      `${where} is a TAR with no entries — the wire-server folder was empty or not found`,
    );
  }
  const missing = listing.missing();
  if (missing.length > 0) {
    throw new ArchiveInvalidError(
      `${where} lacks expected entries ${missing.map((entry) => `"${entry}"`).join(', ')} (relative to "${listing.rootEntry || '/'}") — check the wire-server path and wireServer.expectedEntries`,
    );
  }
  if (sha256 !== expectedSha256) {
    throw new VerificationFailedError(
      `${where}: SHA-256 ${sha256} differs from the ${expectedSha256} the host computed — the archive was altered or cut in transit; rerun the backup`,
    );
  }
  return { key, bytes, sha256, entries: listing.entries, rootEntry: listing.rootEntry };
}
