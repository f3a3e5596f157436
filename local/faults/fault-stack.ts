import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackInfo } from '../stack-info.js';
import { S3FaultInjector } from './s3-fault-injector.js';
import { type ToxiProxy, ToxiproxyServer, toxiproxyPorts } from './toxiproxy.js';

/**
 * The local stack seen through the fault harness: the vault and the source MinIO behind toxiproxy
 * (TCP faults) and, in front of each, an {@link S3FaultInjector} (S3 error answers); Cassandra node1's
 * CQL and JMX ports behind toxiproxy too. {@link FaultStack.stack} is a `StackInfo` whose endpoints are
 * the proxied ones and whose host profiles point the hosts' AWS CLI at the proxied vault and node1's
 * `cqlsh` and `nodetool` at the proxied CQL and JMX ports; pass it to `runLocal({ stack })`. Nothing of
 * the normal stack changes: its `stack.json` and host profiles stay as `wire-stack up` wrote them; the
 * fault profiles live in `<stackDir>/fault-hosts/`.
 *
 * JMX through a proxy: nodetool looks the JMX server up in the RMI registry at the port it is given
 * (the proxy), and the registry answers with a stub naming the node's own address and JMX port (the
 * stack starts Cassandra with `com.sun.management.jmxremote.rmi.port` equal to its JMX port, so
 * registry and server share one port). nodetool's calls then go to that port directly, not through
 * the proxy. So the JMX proxy can refuse, reset or slow the lookup every nodetool run starts with (a
 * JMX port that is down or unreachable when the command starts), but cannot cut a call already under
 * way; making it do so needs the node to advertise the proxy (`java.rmi.server.hostname` naming an
 * address toxiproxy listens on with the same port), i.e. a node started for the fault tests only.
 */
export interface FaultStack {
  /** The stack as the runner and hosts must see it for a fault test. */
  readonly stack: StackInfo;
  /** The real stack (for the test's own checks, which must not go through the faults). */
  readonly direct: StackInfo;
  readonly toxiproxy: ToxiproxyServer;
  readonly vault: ToxiProxy;
  readonly minio: ToxiProxy;
  /** Cassandra node1's CQL port (node1's `cqlsh` in the fault profile connects here). */
  readonly cql: ToxiProxy;
  /** Cassandra node1's JMX port (node1's `nodetool` in the fault profile connects here; see above). */
  readonly jmx: ToxiProxy;
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
  const node = direct.cassandra.nodes[0];
  if (!node)
    throw new Error(`the local stack in ${direct.stackDir} has no Cassandra node: run 'wire-stack up'`);
  const cql = await toxiproxy.proxy('cql', proxyBase + 2, `${node.address}:${node.cqlPort}`);
  const jmx = await toxiproxy.proxy('jmx', proxyBase + 3, `${node.address}:${node.jmxPort}`);
  const vaultErrors = await S3FaultInjector.start(vault.url, proxyBase + 50);
  const minioErrors = await S3FaultInjector.start(minio.url, proxyBase + 51);
  const proxied: ProxiedNode = { instanceId: node.instanceId, cql: cql.listen, jmx: jmx.listen };
  const stack: StackInfo = {
    ...direct,
    vault: { ...direct.vault, endpoint: vaultErrors.url },
    minio: { ...direct.minio, endpoint: minioErrors.url },
    hosts: writeFaultHostProfiles(direct, vaultErrors.url, proxied),
  };
  const extras = new Map<string, string>();
  return {
    stack,
    direct,
    toxiproxy,
    vault,
    minio,
    cql,
    jmx,
    vaultErrors,
    minioErrors,
    setHostProfileExtra(instanceId, lines) {
      extras.set(instanceId, lines);
      writeFaultHostProfiles(direct, vaultErrors.url, proxied, extras);
    },
    async heal() {
      extras.clear();
      writeFaultHostProfiles(direct, vaultErrors.url, proxied, extras);
      vaultErrors.disarm();
      minioErrors.disarm();
      await vault.heal();
      await minio.heal();
      await cql.heal();
      await jmx.heal();
    },
    async close() {
      await vaultErrors.stop();
      await minioErrors.stop();
      await toxiproxy.stop();
    },
  };
}

/** The node whose CQL and JMX go through toxiproxy: `host:port` of each proxy. */
interface ProxiedNode {
  readonly instanceId: string;
  readonly cql: string;
  readonly jmx: string;
}

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * Host profiles that source each host's own profile, then point its AWS CLI at `vaultEndpoint`
 * (`<stackDir>/fault-hosts/<id>/host.env`); the proxied node's profile puts `cqlsh` and `nodetool`
 * wrappers bound to the proxies first on its PATH (`<stackDir>/fault-hosts/<id>/bin/`).
 */
function writeFaultHostProfiles(
  stack: StackInfo,
  vaultEndpoint: string,
  proxied: ProxiedNode,
  extras: ReadonlyMap<string, string> = new Map(),
): StackInfo['hosts'] {
  const hosts: Record<string, { envFile: string; binDir: string }> = {};
  for (const [id, host] of Object.entries(stack.hosts)) {
    const dir = join(stack.stackDir, 'fault-hosts', id);
    mkdirSync(dir, { recursive: true });
    const envFile = join(dir, 'host.env');
    const path = id === proxied.instanceId ? writeProxiedTools(stack, join(dir, 'bin'), proxied) : '';
    writeFileSync(
      envFile,
      `# Fault-test profile of ${id} (local/faults/fault-stack.ts): the host's own profile, vault${path ? ', CQL and JMX' : ''} behind the fault harness.\n` +
        `source ${quote(host.envFile)}\n` +
        `export AWS_ENDPOINT_URL=${vaultEndpoint}\n${path}${extras.get(id) ? `${extras.get(id)}\n` : ''}`,
    );
    hosts[id] = { envFile, binDir: host.binDir };
  }
  return hosts;
}

/**
 * `cqlsh` and `nodetool` in `binDir` that reach the node through its proxies (the stack's generic
 * tool wrappers, `<cache>/cassandra-<version>/bin`, with the proxy's address and port); returns the
 * profile line that puts them first on PATH.
 */
function writeProxiedTools(stack: StackInfo, binDir: string, proxied: ProxiedNode): string {
  const tools = join(stack.cacheDir, `cassandra-${stack.cassandra.version}`, 'bin');
  for (const tool of ['cqlsh', 'nodetool']) {
    if (!existsSync(join(tools, tool))) {
      throw new Error(`${join(tools, tool)} not found: run 'local-stack/bin/wire-stack install'`);
    }
  }
  const [cqlHost, cqlPort] = proxied.cql.split(':');
  const [jmxHost, jmxPort] = proxied.jmx.split(':');
  mkdirSync(binDir, { recursive: true });
  const wrapper = (name: string, body: string) => {
    const file = join(binDir, name);
    writeFileSync(
      file,
      `#!/usr/bin/env bash\n# ${name} of the fault profile (local/faults/fault-stack.ts): through toxiproxy.\n${body}\n`,
    );
    chmodSync(file, 0o755);
  };
  wrapper('cqlsh', `exec ${quote(join(tools, 'cqlsh'))} "$@" ${cqlHost} ${cqlPort}`);
  wrapper('nodetool', `exec ${quote(join(tools, 'nodetool'))} -h ${jmxHost} -p ${jmxPort} "$@"`);
  return `export PATH=${quote(binDir)}:"$PATH"\n`;
}
