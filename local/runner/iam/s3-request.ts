/**
 * Maps an S3 REST request (path-style, as the runner's clients send it) to the IAM actions and
 * resources AWS authorizes it by ("Actions, resources, and condition keys for Amazon S3", Service
 * Authorization Reference). A request this table does not know maps to nothing, and the proxy
 * refuses it naming the request: the runner must never allow what it cannot check.
 */

/** One permission a request needs. */
export interface S3Permission {
  readonly action: string;
  readonly bucket: string;
  /** Object key; absent for bucket-level actions. */
  readonly key?: string;
  /** Whether S3 calls KMS for the caller (reading or writing object data). */
  readonly kms: boolean;
  /**
   * The KMS key the request names for the object it writes (`x-amz-server-side-encryption-aws-kms-key-id`);
   * absent: the bucket's default key, or, for a read, the key the object was written with.
   */
  readonly kmsKeyId?: string;
  /** The version a read names (`versionId`), whose key a read must be checked against. */
  readonly versionId?: string;
  /** The multipart upload a part or completion belongs to (written under the upload's key). */
  readonly uploadId?: string;
}

/** What a request needs: its permissions and condition keys. */
export interface S3Authorization {
  readonly permissions: readonly S3Permission[];
  readonly context: Readonly<Record<string, string>>;
}

/** The parts of an HTTP request the mapping reads. */
export interface S3HttpRequest {
  readonly method: string;
  /** Raw path, still percent-encoded (`/bucket/some%20key`). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body, for requests whose permissions depend on it (DeleteObjects). */
  readonly body?: string;
}

/** The permissions `request` needs, or undefined when the mapping does not know it. */
export function authorizationOf(request: S3HttpRequest): S3Authorization | undefined {
  const [, rawBucket = '', ...rest] = request.path.split('/');
  const bucket = decodeURIComponent(rawBucket);
  const key = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  const q = request.query;
  const has = (name: string) => q.has(name);
  const version = has('versionId');
  const method = request.method.toUpperCase();
  const permission = (action: string, objectKey = key, kms = false): S3Permission => ({
    action,
    bucket,
    ...(objectKey === undefined || objectKey === '' ? {} : { key: objectKey }),
    kms,
  });
  if (!bucket) return method === 'GET' ? { permissions: [], context: {} } : undefined;

  if (key === undefined || key === '') {
    const context: Record<string, string> = {};
    for (const name of ['prefix', 'delimiter', 'max-keys']) {
      const value = q.get(name);
      if (value !== null) context[`s3:${name}`] = value;
    }
    const bucketAction = (action: string) => ({ permissions: [permission(action, undefined)], context });
    if (method === 'GET') {
      if (has('versions')) return bucketAction('s3:ListBucketVersions');
      if (has('uploads')) return bucketAction('s3:ListBucketMultipartUploads');
      if (has('location')) return bucketAction('s3:GetBucketLocation');
      if (has('versioning')) return bucketAction('s3:GetBucketVersioning');
      if (has('object-lock')) return bucketAction('s3:GetBucketObjectLockConfiguration');
      if (has('policy')) return bucketAction('s3:GetBucketPolicy');
      if (has('encryption')) return bucketAction('s3:GetEncryptionConfiguration');
      if (has('lifecycle')) return bucketAction('s3:GetLifecycleConfiguration');
      if (has('tagging')) return bucketAction('s3:GetBucketTagging');
      if (has('acl')) return bucketAction('s3:GetBucketAcl');
      if ([...q.keys()].every((name) => listParameters.has(name))) return bucketAction('s3:ListBucket');
      return undefined;
    }
    if (method === 'HEAD') return bucketAction('s3:ListBucket');
    if (method === 'POST' && has('delete')) {
      const keys = [...(request.body ?? '').matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => ({
        key: xmlText(/<Key>([\s\S]*?)<\/Key>/.exec(m[1] ?? '')?.[1] ?? ''),
        version: /<VersionId>/.test(m[1] ?? ''),
      }));
      return {
        permissions: keys.map((k) =>
          permission(k.version ? 's3:DeleteObjectVersion' : 's3:DeleteObject', k.key),
        ),
        context,
      };
    }
    return undefined;
  }

  const h = request.headers;
  const source = h['x-amz-copy-source'];
  const copySource = (): S3Permission[] => {
    if (source === undefined) return [];
    const [path = '', query = ''] = decodeURIComponent(source).replace(/^\//, '').split('?');
    const slash = path.indexOf('/');
    const sourceVersion = new URLSearchParams(query).get('versionId');
    return [
      {
        action: sourceVersion === null ? 's3:GetObject' : 's3:GetObjectVersion',
        bucket: path.slice(0, slash),
        key: path.slice(slash + 1),
        kms: true,
        ...(sourceVersion === null ? {} : { versionId: sourceVersion }),
      },
    ];
  };
  // SSE-KMS of a write (PutObject, CopyObject, CreateMultipartUpload): the key it names and the
  // condition keys S3 puts in the request context (a bucket policy can require a key).
  const sseAlgorithm = h['x-amz-server-side-encryption'];
  const sseKeyId = h['x-amz-server-side-encryption-aws-kms-key-id'];
  const sseContext: Record<string, string> = {
    ...(sseAlgorithm === undefined ? {} : { 's3:x-amz-server-side-encryption': sseAlgorithm }),
    ...(sseKeyId === undefined ? {} : { 's3:x-amz-server-side-encryption-aws-kms-key-id': sseKeyId }),
  };
  const write = (): S3Permission => ({
    ...permission('s3:PutObject', key, true),
    ...(sseKeyId === undefined ? {} : { kmsKeyId: sseKeyId }),
  });
  // UploadPart, UploadPartCopy, CompleteMultipartUpload: under the key the upload was created with.
  const part = (): S3Permission => ({
    ...permission('s3:PutObject', key, true),
    uploadId: q.get('uploadId') ?? '',
  });
  const versionId = q.get('versionId');
  const one = (action: string, kms = false) => ({ permissions: [permission(action, key, kms)], context: {} });
  switch (method) {
    case 'GET':
      if (has('uploadId')) return one('s3:ListMultipartUploadParts');
      if (has('tagging')) return one(version ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging');
      if (has('acl')) return one(version ? 's3:GetObjectVersionAcl' : 's3:GetObjectAcl');
      if (has('retention')) return one('s3:GetObjectRetention');
      if (has('legal-hold')) return one('s3:GetObjectLegalHold');
      if (has('attributes')) return one(version ? 's3:GetObjectVersionAttributes' : 's3:GetObjectAttributes');
      return {
        permissions: [
          {
            ...permission(version ? 's3:GetObjectVersion' : 's3:GetObject', key, true),
            ...(versionId === null ? {} : { versionId }),
          },
        ],
        context: {},
      };
    case 'HEAD':
      return one(version ? 's3:GetObjectVersion' : 's3:GetObject');
    case 'PUT': {
      if (has('tagging')) return one(version ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging');
      if (has('retention')) return one('s3:PutObjectRetention');
      if (has('legal-hold')) return one('s3:PutObjectLegalHold');
      if (has('acl')) return one(version ? 's3:PutObjectVersionAcl' : 's3:PutObjectAcl');
      if (has('uploadId')) return { permissions: [part(), ...copySource()], context: {} };
      const permissions = [write(), ...copySource()];
      if (h['x-amz-object-lock-mode'] || h['x-amz-object-lock-retain-until-date'])
        permissions.push(permission('s3:PutObjectRetention'));
      if (h['x-amz-object-lock-legal-hold']) permissions.push(permission('s3:PutObjectLegalHold'));
      if (h['x-amz-tagging']) permissions.push(permission('s3:PutObjectTagging'));
      return { permissions, context: sseContext };
    }
    case 'POST':
      if (has('uploads')) return { permissions: [write()], context: sseContext };
      if (has('uploadId')) return { permissions: [part()], context: {} };
      if (has('restore')) return one('s3:RestoreObject');
      return undefined;
    case 'DELETE':
      if (has('uploadId')) return one('s3:AbortMultipartUpload');
      if (has('tagging')) return one(version ? 's3:DeleteObjectVersionTagging' : 's3:DeleteObjectTagging');
      return one(version ? 's3:DeleteObjectVersion' : 's3:DeleteObject');
    default:
      return undefined;
  }
}

/** Query parameters of ListObjects (v1 and v2): a GET on the bucket with only these is a listing. */
const listParameters = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'encoding-type',
  'marker',
  'x-id',
]);

function xmlText(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
