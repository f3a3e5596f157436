import type { z } from 'zod';
import type { nodeStatusSchema } from './contract/backup.js';
import { PreflightFailedError } from './errors.js';

/**
 * Parsers for `nodetool` output, as printed by Cassandra 3.11, 4.x and 5.0 (the versions Wire
 * installations run), and the cluster health verdict the backup preflight acts on.
 *
 * `nodetool status` prints, per datacenter, a legend and a table whose columns are separated by blanks:
 * `--  Address  Load  Tokens  Owns (effective)  Host ID  Rack` with vnodes, or
 * `--  Address  Load  Owns (effective)  Host ID  Token  Rack` with one token per node. 3.11 pads with
 * printf widths, 4.x and 5.0 with a table builder; the load has a unit (`KiB`, or `KB` before 3.0) or is
 * `?`; ownership is `?` (with a `Note:` trailer) when the keyspaces disagree on replication. Rows are read
 * field by field, never by column offset, so the padding differences do not matter.
 */

/** Up/down as gossip sees it: `U` up, `D` down, `?` unknown to gossip (neither live nor unreachable). */
export type NodeUpDown = 'U' | 'D' | '?';
/** Ring state: `N` normal, `L` leaving, `J` joining, `M` moving. */
export type NodeRingState = 'N' | 'L' | 'J' | 'M';

/** One row of `nodetool status` (its schema, with each field's meaning, is in the contract). */
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

/** A node that is not `UN`, as {@link summarizeClusterHealth} reports it. */
export interface UnhealthyNode {
  readonly address: string;
  /** The two letters of the row, e.g. `DN`, `UJ`. */
  readonly state: string;
  readonly datacenter: string;
  readonly hostId: string | null;
}

/** Verdict on `nodetool status` rows. */
export interface ClusterHealth {
  /** True when the backup may go on: every node `UN`, or `allowPartial` and at least one node `UN`. */
  readonly healthy: boolean;
  /** Every node that is not `UN`. */
  readonly down: readonly UnhealthyNode[];
  /** One sentence a person can act on: which nodes are not `UN` and what to do. */
  readonly message: string;
}

/** What `nodetool info` (with `-T` for every token) tells about the node it runs on. */
export interface NodeInfo {
  /** Host id (the `ID` line). */
  readonly hostId: string;
  readonly datacenter: string | null;
  readonly rack: string | null;
  readonly load: string | null;
  /** Tokens, as decimal strings (they exceed JavaScript's safe integers); empty without `-T`. */
  readonly tokens: readonly string[];
  /** Every `key : value` line, first occurrence, keyed by the trimmed key. */
  readonly fields: Readonly<Record<string, string>>;
}

const unitBytes: Readonly<Record<string, number>> = {
  bytes: 1,
  B: 1,
  KB: 1024,
  KiB: 1024,
  MB: 1024 ** 2,
  MiB: 1024 ** 2,
  GB: 1024 ** 3,
  GiB: 1024 ** 3,
  TB: 1024 ** 4,
  TiB: 1024 ** 4,
  PB: 1024 ** 5,
  PiB: 1024 ** 5,
};

const rowPattern = /^([UD?])([NLJM])\s+(\S+)\s+(.*)$/;
const headerPattern = /^--\s+Address\s+Load\s+/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `123.4%` (or `123,4%` from a host with a comma locale) into 123.4; `?` into null. */
function parseOwns(text: string, line: string): number | null {
  if (text === '?') return null;
  const match = /^(\d+(?:[.,]\d+)?)\s*%$/.exec(text);
  if (!match?.[1]) throw unreadableRow(line, `ownership '${text}'`);
  return Number(match[1].replace(',', '.'));
}

function parseLoadBytes(value: string, unit: string | undefined): number | null {
  const factor = unit === undefined ? 1 : unitBytes[unit];
  const number = Number(value.replace(',', '.'));
  if (factor === undefined || !Number.isFinite(number)) return null;
  return Math.round(number * factor);
}

function unreadableRow(line: string, what: string): PreflightFailedError {
  return new PreflightFailedError(
    `cannot read ${what} in the nodetool status row '${line.trim()}': report the Cassandra version and this output to the wire-backup maintainers`,
  );
}

/**
 * Parses the output of `nodetool status` (Cassandra 3.11, 4.x, 5.0; one or more datacenters; vnodes or
 * one token per node) into one entry per node, in the order printed. Lines outside the node tables
 * (JVM warnings, legends, the `Note:` trailer) are skipped.
 * @throws PreflightFailedError when the output has no node table (nodetool printed an error instead) or a
 * row cannot be read: a row silently skipped could hide a node that is down.
 */
export function parseNodetoolStatus(text: string): NodeStatus[] {
  const nodes: NodeStatus[] = [];
  let datacenter = '';
  let header: { readonly vnodes: boolean; readonly effective: boolean } | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trimEnd();
    const dc = /^Datacenter:\s*(.*)$/.exec(line);
    if (dc) {
      datacenter = dc[1]?.trim() ?? '';
      header = undefined;
      continue;
    }
    if (headerPattern.test(line)) {
      header = { vnodes: /\sTokens\s/.test(line), effective: /Owns \(effective\)/.test(line) };
      continue;
    }
    const row = header ? rowPattern.exec(line) : null;
    if (!row || !header) continue;
    const [, status, state, address, rest = ''] = row;
    const fields = rest.split(/\s+/).filter((field) => field !== '');
    let load = fields.shift() ?? '';
    let loadBytes: number | null = null;
    if (load !== '?') {
      const unit = fields[0] !== undefined && fields[0] in unitBytes ? fields.shift() : undefined;
      loadBytes = parseLoadBytes(load, unit);
      if (unit !== undefined) load = `${load} ${unit}`;
    }
    let tokens = 1;
    if (header.vnodes) {
      const count = fields.shift() ?? '';
      if (!/^\d+$/.test(count)) throw unreadableRow(line, `token count '${count}'`);
      tokens = Number(count);
    }
    const owns = parseOwns(fields.shift() ?? '', line);
    const hostIdText = fields.shift() ?? '';
    if (hostIdText !== 'null' && !uuidPattern.test(hostIdText))
      throw unreadableRow(line, `host id '${hostIdText}'`);
    const token = header.vnodes ? null : (fields.shift() ?? null);
    const rack = fields.join(' ');
    if (rack === '' || (!header.vnodes && token === null)) throw unreadableRow(line, 'the rack');
    nodes.push({
      datacenter,
      status: status as NodeUpDown,
      state: state as NodeRingState,
      address: address ?? '',
      load,
      loadBytes,
      tokens,
      owns,
      ownsEffective: header.effective,
      hostId: hostIdText === 'null' ? null : hostIdText.toLowerCase(),
      token,
      rack,
    });
  }
  if (nodes.length === 0) {
    const error = /^(?:error|nodetool: ).*$/im.exec(text)?.[0];
    throw new PreflightFailedError(
      `nodetool status listed no nodes${error ? ` (${error.trim()})` : ''}: check that Cassandra is running and that nodetool reaches its JMX port`,
    );
  }
  return nodes;
}

const upDownWords: Readonly<Record<NodeUpDown, string>> = { U: 'up', D: 'down', '?': 'unknown to gossip' };
const stateWords: Readonly<Record<NodeRingState, string>> = {
  N: 'normal',
  L: 'leaving',
  J: 'joining',
  M: 'moving',
};

/**
 * Decides whether a backup may go on, from `nodetool status` rows: every node must be `UN` (up, normal),
 * unless `allowPartial` is set, in which case at least one must be. The message names every node that
 * is not `UN` and what to do about it.
 */
export function summarizeClusterHealth(
  nodes: readonly NodeStatus[],
  options: { readonly allowPartial: boolean },
): ClusterHealth {
  const down: UnhealthyNode[] = nodes
    .filter((node) => node.status !== 'U' || node.state !== 'N')
    .map((node) => ({
      address: node.address,
      state: `${node.status}${node.state}`,
      datacenter: node.datacenter,
      hostId: node.hostId,
    }));
  if (nodes.length === 0) {
    return {
      healthy: false,
      down,
      message:
        'nodetool status listed no nodes: check that Cassandra is running and that nodetool reaches its JMX port',
    };
  }
  if (down.length === 0) {
    return { healthy: true, down, message: `all ${nodes.length} Cassandra node(s) are UN` };
  }
  const notUp = nodes.filter((node) => node.status !== 'U' || node.state !== 'N');
  const described = notUp
    .map(
      (node) =>
        `${node.address} (${node.datacenter}/${node.rack}) is ${node.status}${node.state} (${upDownWords[node.status]}, ${stateWords[node.state]})`,
    )
    .join('; ');
  const upCount = nodes.length - down.length;
  const anyTransition = notUp.some((node) => node.state !== 'N');
  const what = anyTransition
    ? 'start the nodes that are down and wait until joining, leaving or moving nodes are UN'
    : down.length === 1
      ? 'start it'
      : 'start them';
  if (options.allowPartial && upCount > 0) {
    return {
      healthy: true,
      down,
      message: `${down.length} of ${nodes.length} Cassandra node(s) not UN, backing up the ${upCount} that are (cassandra.allowPartial is set): ${described}`,
    };
  }
  const fix = options.allowPartial
    ? `${what}: no node is UN`
    : `${what}, or set cassandra.allowPartial in the configuration to back up only the nodes that are UN`;
  return {
    healthy: false,
    down,
    message: `${down.length} of ${nodes.length} Cassandra node(s) not UN: ${described} — ${fix}`,
  };
}

/**
 * Parses the output of `nodetool info` (`-T` adds one `Token : <token>` line per token). Works for
 * 3.11, 4.x and 5.0, which all print `key : value` lines.
 * @throws PreflightFailedError when there is no `ID` line with a host id.
 */
export function parseNodetoolInfo(text: string): NodeInfo {
  const fields: Record<string, string> = {};
  const tokens: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const match = /^([A-Za-z][^:]*?)\s*:\s?(.*)$/.exec(rawLine.trimEnd());
    if (!match) continue;
    const key = match[1] ?? '';
    const value = (match[2] ?? '').trim();
    if (key === 'Token') {
      if (/^-?\w+$/.test(value)) tokens.push(value);
      continue;
    }
    if (!(key in fields)) fields[key] = value;
  }
  const hostId = fields.ID;
  if (hostId === undefined || !uuidPattern.test(hostId)) {
    throw new PreflightFailedError(
      "nodetool info printed no host id (ID line): check that nodetool reaches this node's Cassandra over JMX",
    );
  }
  return {
    hostId: hostId.toLowerCase(),
    datacenter: fields['Data Center'] ?? null,
    rack: fields.Rack ?? null,
    load: fields.Load ?? null,
    tokens,
    fields,
  };
}
