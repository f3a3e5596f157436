import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLocalSecretValue } from '../local-secrets.js';
import type { LocalIam } from './local-iam.js';
import { authorizationOf, type S3Permission } from './s3-request.js';

/**
 * The AWS endpoint of the local runner's Lambdas and Distributed Maps, with IAM in front:
 * - **S3 (the vault)**: each caller signs with credentials that name its role
 *   ({@link LocalIamProxy.credentialsFor}); the proxy maps the request to S3 actions and ARNs
 *   (`s3-request.ts`), evaluates them with {@link LocalIam} (role policies, bucket policy, KMS key
 *   policy) and, when allowed, forwards the request to the vault server re-signed with the vault's
 *   own keys. A denied request gets S3's answer: HTTP 403, `AccessDenied`.
 * - **Per-object KMS keys**: the vault server has no KMS, so the proxy plays S3's part. A write that
 *   names a key (`x-amz-server-side-encryption-aws-kms-key-id`) is checked against that key's policy
 *   and stored with the key's ARN in a metadata entry of the proxy's own ({@link kmsKeyMetadata}; a
 *   caller's entry of that name is dropped); a read is checked against the key of the version it
 *   reads (a HEAD of that version first), parts of a multipart upload against the upload's key, and
 *   anything else against the bucket's default key. Answers carry S3's SSE-KMS headers instead.
 * - **Secrets Manager** (`GetSecretValue`, `DescribeSecret`): evaluated the same way and answered from
 *   the local secrets file (`local-secrets.ts`); a denied call gets `AccessDeniedException`.
 * The source MinIO is on-prem and not governed by IAM: functions reach it directly.
 * Signatures from callers are not verified (the access key id only names the role); this is a local
 * stand-in for AWS's authorization, not for its authentication.
 */

/** The vault answered the proxy's own request with `status`. */
class VaultStatusError extends Error {
  constructor(
    readonly status: number,
    request: string,
  ) {
    super(`the vault answered ${request} (the object's KMS key) with HTTP ${status}`);
  }
}

/** Where the proxy forwards S3 requests. */
export interface ProxyTarget {
  /** `http://127.0.0.1:9100`. */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Options of {@link LocalIamProxy.start}. */
export interface LocalIamProxyOptions {
  readonly iam: LocalIam;
  /** The vault server. */
  readonly target: ProxyTarget;
  /** Local stack directory (its `secrets.json` serves Secrets Manager). */
  readonly stackDir: string;
}

/** Static credentials handed to one caller. */
export interface CallerCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One refused call, as the proxy saw it (also printed for the person running). */
export interface RefusedCall {
  readonly role: string;
  readonly action: string;
  readonly resource: string;
  readonly message: string;
}

/** The running proxy (see the module comment). */
export class LocalIamProxy {
  /** Every call refused so far. */
  readonly refused: RefusedCall[] = [];
  private readonly callers = new Map<string, { role: string; session: string }>();
  /** The KMS key of each multipart upload created with one, by upload id. */
  private readonly uploadKeys = new Map<string, string>();

  private constructor(
    private readonly server: Server,
    private readonly options: LocalIamProxyOptions,
    /** `http://127.0.0.1:<port>`. */
    readonly endpoint: string,
  ) {}

  /** Starts the proxy on a free port of 127.0.0.1. */
  static async start(options: LocalIamProxyOptions): Promise<LocalIamProxy> {
    let proxy: LocalIamProxy | undefined;
    const server = createServer((req, res) => {
      proxy?.handle(req, res).catch((error: unknown) => {
        // A vault answer the proxy could not act on reaches the caller as S3 would give it: 503
        // SlowDown, else 500 InternalError (both retried by the SDK and the AWS CLI).
        const slowDown = error instanceof VaultStatusError && error.status === 503;
        if (!res.headersSent) res.writeHead(slowDown ? 503 : 500, { 'content-type': 'application/xml' });
        res.end(
          s3Error(slowDown ? 'SlowDown' : 'InternalError', `local IAM proxy: ${(error as Error).message}`),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // A proxy kept for the process's lifetime (see runLocal) must not keep the process alive.
    server.unref();
    const { port } = server.address() as AddressInfo;
    proxy = new LocalIamProxy(server, options, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /**
   * Credentials under which calls count as `role`'s (session: the function or execution name). They
   * are the same for the same role and session, so a function's warm containers stay warm across runs.
   */
  credentialsFor(role: string, session: string): CallerCredentials {
    const id = createHash('sha256').update(`${role}/${session}`).digest('hex').toUpperCase();
    const accessKeyId = `ASIALOCAL${id.slice(0, 11)}`;
    this.callers.set(accessKeyId, { role, session });
    return { accessKeyId, secretAccessKey: id.slice(11, 51) };
  }

  /** The role and session of credentials issued by {@link credentialsFor}, or undefined. */
  callerOf(accessKeyId: string): { role: string; session: string } | undefined {
    return this.callers.get(accessKeyId);
  }

  /** Records and prints a call refused outside the proxy (the local control plane's). */
  refuse(role: string, denial: { action: string; resource: string; message: string }): void {
    this.refused.push({ role, ...denial });
    console.error(`local IAM: denied ${denial.action} on ${denial.resource}: ${denial.message}`);
  }

  /** Stops accepting requests. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const credential = /Credential=([^/]+)\/[^/]+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '');
    const caller = credential?.[1] ? this.callers.get(credential[1]) : undefined;
    if (!credential || !caller) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        s3Error(
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records. (local: not issued by the IAM proxy)',
        ),
      );
      return;
    }
    if (credential[2] === 'secretsmanager') return this.secretsManager(req, res, caller);
    return this.s3(req, res, caller);
  }

  private async s3(req: IncomingMessage, res: ServerResponse, caller: { role: string; session: string }) {
    const url = new URL(req.url ?? '/', 'http://local');
    // The raw path, as the client encoded and signed it (URL would normalize it).
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const headers = lowerCaseHeaders(req);
    const method = req.method ?? 'GET';
    // DeleteObjects names its keys in the body: read it to authorize each key.
    const body = method === 'POST' && url.searchParams.has('delete') ? await readBody(req) : undefined;
    const authorization = authorizationOf({
      method,
      path,
      query: url.searchParams,
      headers,
      ...(body === undefined ? {} : { body: body.toString('utf8') }),
    });
    if (!authorization) {
      res.writeHead(501, { 'content-type': 'application/xml' });
      res.end(
        s3Error(
          'NotImplemented',
          `local IAM proxy: ${method} ${path}${url.search} is not mapped to IAM actions (local/runner/iam/s3-request.ts)`,
        ),
      );
      return;
    }
    for (const permission of authorization.permissions) {
      const denial = this.options.iam.checkS3({
        role: caller.role,
        session: caller.session,
        action: permission.action,
        bucket: permission.bucket,
        key: permission.key,
        kms: permission.kms,
        kmsKeyArn: permission.kms ? await this.objectKmsKey(permission) : undefined,
        context: authorization.context,
      });
      if (denial) {
        this.refuse(caller.role, denial);
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end(method === 'HEAD' ? undefined : s3Error('AccessDenied', denial.message));
        return;
      }
    }
    const writeKey = authorization.permissions.find((p) => p.action === 's3:PutObject')?.kmsKeyId;
    await this.forward(req, res, path, url, headers, body, writeKey);
  }

  /**
   * The KMS key S3 would use for `permission`'s object data: the key a write names, the key its
   * multipart upload was created with, the key the read version was written with; undefined for the
   * bucket's default key.
   */
  private async objectKmsKey(permission: S3Permission): Promise<string | undefined> {
    if (permission.kmsKeyId !== undefined) return permission.kmsKeyId;
    if (permission.uploadId !== undefined) return this.uploadKeys.get(permission.uploadId);
    if (permission.action !== 's3:GetObject' && permission.action !== 's3:GetObjectVersion') return undefined;
    if (permission.key === undefined) return undefined;
    const target = new URL(this.options.target.endpoint);
    const path = `/${encodeStrict(permission.bucket)}/${permission.key.split('/').map(encodeStrict).join('/')}`;
    const query = new URLSearchParams(
      permission.versionId === undefined ? {} : { versionId: permission.versionId },
    );
    const headers: Record<string, string> = {
      host: target.host,
      'x-amz-content-sha256': createHash('sha256').update('').digest('hex'),
    };
    signV4('HEAD', path, query, headers, this.options.target);
    const search = query.size > 0 ? `?${query.toString()}` : '';
    const recorded = await new Promise<string | undefined>((resolve, reject) => {
      const head = httpRequest(
        { host: target.hostname, port: target.port, method: 'HEAD', path: `${path}${search}`, headers },
        (response) => {
          response.resume();
          const status = response.statusCode ?? 0;
          const value = response.headers[kmsKeyMetadata];
          if (status === 200) resolve(typeof value === 'string' ? value : undefined);
          // No such object or version (405: a delete marker): the read itself gets the vault's answer.
          else if (status === 404 || status === 405) resolve(undefined);
          // Anything else (500, 503…) says nothing about the object's key: checking the read against
          // the bucket's default key instead would refuse a reader of the archive key with AccessDenied
          // where S3 answers a retryable error.
          else reject(new VaultStatusError(status, `HEAD ${path}${search}`));
        },
      );
      head.on('error', reject);
      head.end();
    });
    return recorded;
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    url: URL,
    incoming: Record<string, string | undefined>,
    body: Buffer | undefined,
    writeKey: string | undefined,
  ): Promise<void> {
    const target = new URL(this.options.target.endpoint);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming)) {
      if (
        value === undefined ||
        hopByHop.has(name) ||
        name === 'authorization' ||
        name.startsWith('x-amz-date')
      )
        continue;
      if (name === 'x-amz-security-token' || name === 'host') continue;
      // The vault server has no KMS: the proxy keeps the object's key itself (see the module comment).
      if (name.startsWith('x-amz-server-side-encryption') || name === kmsKeyMetadata) continue;
      headers[name] = value;
    }
    if (writeKey !== undefined) headers[kmsKeyMetadata] = writeKey;
    const createsUpload = req.method === 'POST' && url.searchParams.has('uploads');
    headers.host = target.host;
    headers['x-amz-content-sha256'] ??= 'UNSIGNED-PAYLOAD';
    signV4(req.method ?? 'GET', path, url.searchParams, headers, this.options.target);
    const upstream = httpRequest({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: `${path}${url.search}`,
      headers,
    });
    await new Promise<void>((resolve, reject) => {
      upstream.on('response', (response) => {
        const answer = { ...response.headers };
        const objectKey = answer[kmsKeyMetadata] ?? writeKey;
        delete answer[kmsKeyMetadata];
        if (typeof objectKey === 'string') {
          answer['x-amz-server-side-encryption'] = 'aws:kms';
          answer['x-amz-server-side-encryption-aws-kms-key-id'] = objectKey;
        }
        res.writeHead(response.statusCode ?? 502, answer);
        if (createsUpload && writeKey !== undefined) {
          // CreateMultipartUpload: remember the upload's key for its parts (a small XML answer).
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const xml = Buffer.concat(chunks);
            const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(xml.toString('utf8'))?.[1];
            if (uploadId) this.uploadKeys.set(uploadId, writeKey);
            res.end(xml);
            resolve();
          });
        } else {
          response.pipe(res);
          response.on('end', resolve);
        }
        response.on('error', reject);
      });
      upstream.on('error', (error) => {
        // The vault did not answer (refused, reset, timed out): the caller sees a broken connection,
        // as it would talking to S3 itself, not an S3 error the proxy made up.
        if (!res.headersSent) res.socket?.destroy();
        reject(error);
      });
      if (body !== undefined) upstream.end(body);
      else req.pipe(upstream);
    });
  }

  private async secretsManager(
    req: IncomingMessage,
    res: ServerResponse,
    caller: { role: string; session: string },
  ): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.split('.').pop() ?? '';
    const input = JSON.parse((await readBody(req)).toString('utf8') || '{}') as { SecretId?: string };
    const reply = (status: number, payload: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    if (operation !== 'GetSecretValue' && operation !== 'DescribeSecret') {
      reply(400, {
        __type: 'InvalidRequestException',
        message: `local Secrets Manager serves GetSecretValue and DescribeSecret only, not ${operation}`,
      });
      return;
    }
    const secretId = String(input.SecretId ?? '');
    const arn = secretArn(secretId, this.options.iam.model.region, this.options.iam.model.account);
    const denial = this.options.iam.check({
      role: caller.role,
      session: caller.session,
      action: `secretsmanager:${operation}`,
      resource: arn,
    });
    if (denial) {
      this.refuse(caller.role, denial);
      reply(400, { __type: 'AccessDeniedException', message: denial.message });
      return;
    }
    try {
      const value = await getLocalSecretValue(arn, this.options.stackDir);
      reply(200, {
        ARN: arn,
        Name: value.Name,
        ...(operation === 'GetSecretValue'
          ? {
              SecretString: value.SecretString,
              VersionId: value.VersionId,
              VersionStages: value.VersionStages,
            }
          : {}),
      });
    } catch (error) {
      reply(400, { __type: (error as Error).name, message: (error as Error).message });
    }
  }
}

/**
 * The ARN AWS gives a secret: `…:secret:<name>-<6 characters>`. Locally the suffix is derived from
 * the name, so every lookup of a name gets the same ARN (a policy's `<name>-??????` matches it).
 */
export function secretArn(secretId: string, region: string, account: string): string {
  if (secretId.startsWith('arn:')) return secretId;
  const suffix = createHash('sha256').update(secretId).digest('base64url').replace(/[-_]/g, 'x').slice(0, 6);
  return `arn:aws:secretsmanager:${region}:${account}:secret:${secretId}-${suffix}`;
}

/**
 * The vault server's user-metadata entry in which the proxy stores the KMS key an object version was
 * written with (S3 keeps it with the version; the vault server has no KMS). Callers never see it.
 */
export const kmsKeyMetadata = 'x-amz-meta-wire-backup-local-sse-kms-key-id';

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function lowerCaseHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function s3Error(code: string, message: string): string {
  const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
}

/** RFC 3986 encoding as SigV4 wants it. */
function encodeStrict(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Signs `headers` in place with AWS Signature Version 4 for S3 (`x-amz-content-sha256` as the caller
 * sent it, so the body is forwarded untouched). The canonical URI is the path as received: S3
 * clients encode it once, as S3 (and MinIO) expect.
 */
function signV4(
  method: string,
  path: string,
  searchParams: URLSearchParams,
  headers: Record<string, string>,
  target: ProxyTarget,
): void {
  const now = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = now.slice(0, 8);
  headers['x-amz-date'] = now;
  const signed = Object.keys(headers)
    .filter(
      (name) =>
        name === 'host' || name.startsWith('x-amz-') || name === 'content-md5' || name === 'content-type',
    )
    .sort();
  const canonicalHeaders = signed
    .map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const query = [...searchParams.entries()]
    .map(([k, v]) => [encodeStrict(k), encodeStrict(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    method,
    path,
    query,
    canonicalHeaders,
    signed.join(';'),
    headers['x-amz-content-sha256'],
  ].join('\n');
  const scope = `${date}/${target.region}/s3/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    now,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${target.secretAccessKey}`, date), target.region), 's3'),
    'aws4_request',
  );
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${target.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
}
