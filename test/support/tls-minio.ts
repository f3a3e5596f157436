import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A MinIO serving HTTPS with a certificate of a private CA made for the test (openssl), as an
 * installation with a company CA runs it. The binary is the one `wire-stack install` caches.
 */
export interface TlsMinio {
  readonly endpoint: string;
  /** PEM of the CA that issued the server certificate. */
  readonly caPem: string;
  /** Path of that PEM file. */
  readonly caFile: string;
  readonly accessKey: string;
  readonly secretKey: string;
  stop(): Promise<void>;
}

/** Makes a CA and a certificate for 127.0.0.1, issued by it, in `dir` (openssl). */
export function makeTestCa(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'rsa:2048', '-nodes'];
  run(
    'req',
    '-x509',
    ...key,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=wire-backup test CA',
  );
  run('req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts the TLS MinIO; `minioBinary` is `$WIRE_BACKUP_CACHE/bin/minio`; `port`: a free one by default. */
export async function startTlsMinio(minioBinary: string, options: { port?: number } = {}): Promise<TlsMinio> {
  const dir = mkdtempSync(join(tmpdir(), 'wire-backup-tls-minio-'));
  const { caFile, certFile, keyFile } = makeTestCa(dir);
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  writeFileSync(join(certs, 'public.crt'), readFileSync(certFile));
  writeFileSync(join(certs, 'private.key'), readFileSync(keyFile));
  const port = options.port ?? (await freePort());
  const consolePort = await freePort();
  const accessKey = 'tlstestadmin';
  const secretKey = 'tlstestadmin-secret';
  const child: ChildProcess = spawn(
    minioBinary,
    [
      'server',
      join(dir, 'data'),
      '--address',
      `127.0.0.1:${port}`,
      '--console-address',
      `127.0.0.1:${consolePort}`,
      '--certs-dir',
      certs,
    ],
    {
      env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey },
      stdio: 'ignore',
    },
  );
  const endpoint = `https://127.0.0.1:${port}`;
  const caPem = readFileSync(caFile, 'utf8');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await new Promise<boolean>((resolve) => {
      import('node:https').then(({ get }) => {
        const req = get(`${endpoint}/minio/health/ready`, { ca: caPem }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
      });
    });
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`TLS MinIO on ${endpoint} not ready after 30 s`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    endpoint,
    caPem,
    caFile,
    accessKey,
    secretKey,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
