import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackInfo } from '../stack-info.js';

/**
 * toxiproxy (github.com/Shopify/toxiproxy, v2.12.0, built by `wire-stack install` into
 * `$WIRE_BACKUP_CACHE/bin/toxiproxy-server`) between the runner and hosts and the local services, for
 * the fault tests only: a TCP proxy per service whose connections can be refused (proxy disabled), cut
 * (`reset_peer`), stalled (`timeout`) or slowed (`latency`, `bandwidth`). Driven through its HTTP API
 * (`WIRE_FAULTS_TOXIPROXY_PORT`, default 8474); proxies listen on 127.0.0.1 from
 * `WIRE_FAULTS_PROXY_PORT_BASE` (default 20000) upwards. The normal stack never goes through it.
 */

/** Where the toxiproxy API and the proxies listen (environment, else the defaults). */
export function toxiproxyPorts(env: NodeJS.ProcessEnv = process.env): { api: number; proxyBase: number } {
  const port = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0 || n >= 65536) {
      throw new Error(`${name} is ${JSON.stringify(raw)}: set it to a TCP port (1-65535)`);
    }
    return n;
  };
  return {
    api: port('WIRE_FAULTS_TOXIPROXY_PORT', 8474),
    proxyBase: port('WIRE_FAULTS_PROXY_PORT_BASE', 20000),
  };
}

/** A toxic as toxiproxy's API takes it (`type` is one of toxiproxy's toxics). */
export interface ToxicSpec {
  readonly name: string;
  readonly type: 'latency' | 'bandwidth' | 'timeout' | 'reset_peer' | 'slow_close' | 'limit_data';
  readonly stream?: 'upstream' | 'downstream';
  readonly toxicity?: number;
  readonly attributes: Readonly<Record<string, number>>;
}

/** One proxy: `listen` is what clients are pointed at, `upstream` the real service. */
export class ToxiProxy {
  constructor(
    private readonly api: ToxiproxyServer,
    readonly name: string,
    /** `127.0.0.1:<port>`. */
    readonly listen: string,
    readonly upstream: string,
  ) {}

  /** `http://127.0.0.1:<port>` for an HTTP service behind this proxy. */
  get url(): string {
    return `http://${this.listen}`;
  }

  /** Refuses new connections and closes open ones (the service is unreachable), or lets them through again. */
  async setEnabled(enabled: boolean): Promise<void> {
    await this.api.request('PATCH', `/proxies/${this.name}`, { enabled });
  }

  async addToxic(toxic: ToxicSpec): Promise<void> {
    await this.api.request('POST', `/proxies/${this.name}/toxics`, {
      stream: 'downstream',
      toxicity: 1,
      ...toxic,
    });
  }

  async removeToxic(name: string): Promise<void> {
    await this.api.request('DELETE', `/proxies/${this.name}/toxics/${name}`);
  }

  /** Enabled, no toxics. */
  async heal(): Promise<void> {
    const state = (await this.api.request('GET', `/proxies/${this.name}`)) as {
      toxics?: { name: string }[];
    };
    for (const t of state.toxics ?? []) await this.removeToxic(t.name);
    await this.setEnabled(true);
  }
}

/** The toxiproxy server: started by {@link ToxiproxyServer.ensure} unless one already answers on the API port. */
export class ToxiproxyServer {
  private constructor(
    /** `http://127.0.0.1:<api port>`. */
    readonly apiUrl: string,
    private readonly child: ChildProcess | undefined,
  ) {}

  /**
   * Returns the server answering on the API port, starting `toxiproxy-server` from the stack's cache
   * when none does (its log: `<stackDir>/toxiproxy.log`).
   */
  static async ensure(stack: StackInfo, env: NodeJS.ProcessEnv = process.env): Promise<ToxiproxyServer> {
    const { api } = toxiproxyPorts(env);
    const apiUrl = `http://127.0.0.1:${api}`;
    if (await answers(apiUrl)) return new ToxiproxyServer(apiUrl, undefined);
    const bin = join(stack.cacheDir, 'bin', 'toxiproxy-server');
    if (!existsSync(bin)) {
      throw new Error(
        `toxiproxy-server not found at ${bin}: run 'local-stack/bin/wire-stack install' (it builds toxiproxy v2.12.0 with go install)`,
      );
    }
    mkdirSync(stack.stackDir, { recursive: true });
    const log = openSync(join(stack.stackDir, 'toxiproxy.log'), 'a');
    const child = spawn(bin, ['-host', '127.0.0.1', '-port', String(api)], {
      stdio: ['ignore', log, log],
      detached: false,
    });
    const deadline = Date.now() + 15_000;
    while (!(await answers(apiUrl))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill();
        throw new Error(
          `toxiproxy-server did not answer on ${apiUrl} (port in use? see ${join(stack.stackDir, 'toxiproxy.log')})`,
        );
      }
      await sleep(100);
    }
    return new ToxiproxyServer(apiUrl, child);
  }

  /** Creates (or replaces) the proxy `name` listening on `127.0.0.1:<port>` in front of `upstream`. */
  async proxy(name: string, port: number, upstream: string): Promise<ToxiProxy> {
    await this.request('DELETE', `/proxies/${name}`).catch(() => undefined);
    const listen = `127.0.0.1:${port}`;
    await this.request('POST', '/proxies', { name, listen, upstream, enabled: true });
    return new ToxiProxy(this, name, listen, upstream);
  }

  /** Heals every proxy (enabled, no toxics). */
  async reset(): Promise<void> {
    await this.request('POST', '/reset');
  }

  /** Stops the server if this process started it. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child?.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
  }

  /** One API call; throws with toxiproxy's message on a non-2xx answer. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text.trim()}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }
}

async function answers(apiUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${apiUrl}/version`, { signal: AbortSignal.timeout(1000) });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}
