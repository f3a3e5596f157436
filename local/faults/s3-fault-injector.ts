import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP-level injector of S3 errors, for what toxiproxy (TCP) cannot express: it forwards every
 * request to `upstream` unchanged (signatures stay valid: the Host header is the client's, which the
 * upstream MinIO accepts as it signs with the path) and, while a fault is armed, answers matching
 * requests with S3's `503 SlowDown` or `500 InternalError`, or forwards them and cuts the response
 * body halfway (`truncate`). Fault tests only (`npm run test:faults`).
 */

/** What the injector does to a matching request. */
export type S3FaultKind = 'slowDown' | 'internalError' | 'truncate';

/** An armed fault. */
export interface S3Fault {
  readonly kind: S3FaultKind;
  /** Requests it applies to (then it disarms). @default unlimited */
  readonly count?: number;
  /** Which requests: method (`GET`, `PUT`…) and the path (`/<bucket>/<key>`). @default every request */
  readonly match?: (method: string, path: string) => boolean;
}

const s3ErrorBody = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource></Resource><RequestId>fault-injector</RequestId></Error>`;

/** The running injector. */
export class S3FaultInjector {
  private fault: S3Fault | undefined;
  private left = 0;
  /** Requests answered with a fault so far, by kind. */
  readonly injected: Record<S3FaultKind, number> = { slowDown: 0, internalError: 0, truncate: 0 };

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    /** `http://127.0.0.1:<port>`. */
    readonly url: string,
  ) {}

  /** Starts the injector on `port` (0: any free port) of 127.0.0.1 in front of `upstream` (`http://host:port`). */
  static async start(upstream: string, port = 0): Promise<S3FaultInjector> {
    let injector: S3FaultInjector | undefined;
    const server = createServer((req, res) => injector?.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address() as AddressInfo;
    injector = new S3FaultInjector(server, new URL(upstream), `http://127.0.0.1:${address.port}`);
    return injector;
  }

  /** Arms `fault` (replacing any armed one). */
  arm(fault: S3Fault): void {
    this.fault = fault;
    this.left = fault.count ?? Number.POSITIVE_INFINITY;
  }

  /** Lets every request through again. */
  disarm(): void {
    this.fault = undefined;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take(method: string, path: string): S3FaultKind | undefined {
    const fault = this.fault;
    if (!fault || this.left <= 0) return undefined;
    if (fault.match && !fault.match(method, path)) return undefined;
    this.left -= 1;
    if (this.left <= 0) this.fault = undefined;
    this.injected[fault.kind] += 1;
    return fault.kind;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const kind = this.take(method, path);
    if (kind === 'slowDown' || kind === 'internalError') {
      // Drain the request body first, as S3 does, so the client sees the answer, not a reset.
      req.resume();
      req.on('end', () => {
        const [status, code, message] =
          kind === 'slowDown'
            ? [503, 'SlowDown', 'Please reduce your request rate. (injected)']
            : [500, 'InternalError', 'We encountered an internal error. Please try again. (injected)'];
        res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'fault-injector' });
        res.end(s3ErrorBody(code, message));
      });
      return;
    }
    const upstream = httpRequest({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method,
      path: req.url,
      headers: req.headers,
    });
    upstream.on('response', (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      const length = Number(response.headers['content-length'] ?? '0');
      if (kind !== 'truncate' || length < 2) {
        response.pipe(res);
        return;
      }
      // Send half of the announced body, then cut the connection: the client sees a short read.
      let sent = 0;
      const half = Math.floor(length / 2);
      response.on('data', (chunk: Buffer) => {
        if (sent >= half) return;
        const part = chunk.subarray(0, half - sent);
        sent += part.length;
        res.write(part);
        if (sent >= half) {
          response.destroy();
          // Flush what was written (headers and half the body), then close: a short read, not a reset.
          res.socket?.end();
        }
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  }
}
