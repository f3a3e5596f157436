import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackInfo } from '../stack-info.js';
import { S3FaultInjector } from './s3-fault-injector.js';
import { type ToxiProxy, ToxiproxyServer, toxiproxyPorts } from './toxiproxy.js';

/**
 * The local stack seen through the fault harness: the vault and the source MinIO behind toxiproxy
 * (TCP faults) and, in front of each, an {@link S3FaultInjector} (S3 error answers). {@link FaultStack.stack}
 * is a `StackInfo` whose endpoints are the proxied ones and whose host profiles point the hosts' AWS CLI
 * at the proxied vault; pass it to `runLocal({ stack })`. Nothing of the normal stack changes: its
 * `stack.json` and host profiles stay as `wire-stack up` wrote them; the fault profiles live in
 * `<stackDir>/fault-hosts/`.
 */
export interface FaultStack {
  /** The stack as the runner and hosts must see it for a fault test. */
  readonly stack: StackInfo;
  /** The real stack (for the test's own checks, which must not go through the faults). */
  readonly direct: StackInfo;
  readonly toxiproxy: ToxiproxyServer;
  readonly vault: ToxiProxy;
  readonly minio: ToxiProxy;
  readonly vaultErrors: S3FaultInjector;
  readonly minioErrors: S3FaultInjector;
  /**
   * Adds bash lines to the fault profile of host `instanceId` (e.g. `ulimit -f 4`), run after its own
   * profile before each command; `''` removes them.
   */
  setHostProfileExtra(instanceId: string, lines: string): void;
  /** Heals every proxy and disarms the injectors. */
  heal(): Promise<void>;
  /** Stops the injectors and, if this process started it, toxiproxy. */
  close(): Promise<void>;
}

const hostPort = (endpoint: string): string => new URL(endpoint).host;

/** Sets up the harness in front of `direct` (toxiproxy started when none answers). */
export async function startFaultStack(direct: StackInfo): Promise<FaultStack> {
  const toxiproxy = await ToxiproxyServer.ensure(direct);
  const { proxyBase } = toxiproxyPorts();
  const vault = await toxiproxy.proxy('vault', proxyBase, hostPort(direct.vault.endpoint));
  const minio = await toxiproxy.proxy('minio', proxyBase + 1, hostPort(direct.minio.endpoint));
  const vaultErrors = await S3FaultInjector.start(vault.url, proxyBase + 50);
  const minioErrors = await S3FaultInjector.start(minio.url, proxyBase + 51);
  const stack: StackInfo = {
    ...direct,
    vault: { ...direct.vault, endpoint: vaultErrors.url },
    minio: { ...direct.minio, endpoint: minioErrors.url },
    hosts: writeFaultHostProfiles(direct, vaultErrors.url),
  };
  const extras = new Map<string, string>();
  return {
    stack,
    direct,
    toxiproxy,
    vault,
    minio,
    vaultErrors,
    minioErrors,
    setHostProfileExtra(instanceId, lines) {
      extras.set(instanceId, lines);
      writeFaultHostProfiles(direct, vaultErrors.url, extras);
    },
    async heal() {
      extras.clear();
      writeFaultHostProfiles(direct, vaultErrors.url, extras);
      vaultErrors.disarm();
      minioErrors.disarm();
      await vault.heal();
      await minio.heal();
    },
    async close() {
      await vaultErrors.stop();
      await minioErrors.stop();
      await toxiproxy.stop();
    },
  };
}

/**
 * Host profiles that source each host's own profile, then point its AWS CLI at `vaultEndpoint`
 * (`<stackDir>/fault-hosts/<id>/host.env`).
 */
function writeFaultHostProfiles(
  stack: StackInfo,
  vaultEndpoint: string,
  extras: ReadonlyMap<string, string> = new Map(),
): StackInfo['hosts'] {
  const hosts: Record<string, { envFile: string; binDir: string }> = {};
  for (const [id, host] of Object.entries(stack.hosts)) {
    const dir = join(stack.stackDir, 'fault-hosts', id);
    mkdirSync(dir, { recursive: true });
    const envFile = join(dir, 'host.env');
    writeFileSync(
      envFile,
      `# Fault-test profile of ${id} (local/faults/fault-stack.ts): the host's own profile, vault behind the fault harness.\n` +
        `source '${host.envFile.replaceAll("'", "'\\''")}'\n` +
        `export AWS_ENDPOINT_URL=${vaultEndpoint}\n${extras.get(id) ? `${extras.get(id)}\n` : ''}`,
    );
    hosts[id] = { envFile, binDir: host.binDir };
  }
  return hosts;
}
