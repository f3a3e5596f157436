import { oldestCassandraVersion } from './cassandra-version.js';
import type { BackupPlan, NodePreflight, PostgresqlPreflight, PreflightedPlan } from './contract/backup.js';
import { isSkipped, type Skipped } from './contract/common.js';
import { PreflightFailedError } from './errors.js';
import { parseNodetoolStatus } from './nodetool.js';

/**
 * Decides whether the backup may go on: every configured node answered its preflight and every node
 * of the ring is `UN`, or — when `cassandra.allowPartial` is set — at least one is, and the others
 * are recorded as down in the plan (and later in the manifest).
 */
export function evaluatePreflight(
  plan: BackupPlan,
  nodes: readonly NodePreflight[],
  postgresql: PostgresqlPreflight | Skipped = { skipped: true },
): PreflightedPlan {
  // The PostgreSQL preflight refuses by failing (archiving off, archiver failing); what it found
  // (where the base backup is taken, which standbys lag) goes on in the plan.
  const postgresqlSource = plan.components.postgresql && !isSkipped(postgresql) ? postgresql : null;
  if (plan.components.postgresql && !postgresqlSource) {
    throw new PreflightFailedError('the PostgreSQL preflight did not report: run the backup again');
  }
  if (!plan.components.cassandra)
    return { ...plan, cluster: { nodes: [], cassandraVersion: null }, postgresqlSource };
  const failed = nodes.filter((n) => n.error || !n.result);
  const ok = nodes.filter((n) => n.result && !n.error);
  const statusText = ok.map((n) => n.result?.nodetoolStatusB64).find((s) => s);
  const ring = statusText ? parseNodetoolStatus(Buffer.from(statusText, 'base64').toString('utf8')) : [];
  const notUp = ring.filter((r) => r.status !== 'U' || r.state !== 'N');
  const problems = [
    ...failed.map(
      (n) => `${n.node.name} (${n.node.instanceId}): ${n.error?.Cause ?? n.error?.Error ?? 'no answer'}`,
    ),
    ...notUp.map((r) => `Cassandra node ${r.address} (host id ${r.hostId}) is ${r.status}${r.state}`),
  ];
  if (ok.length === 0) {
    throw new PreflightFailedError(
      `no Cassandra node passed preflight: ${problems.join('; ')}. Check the nodes and the SSM agent on each host.`,
    );
  }
  if (problems.length > 0 && !plan.cassandra.allowPartial) {
    throw new PreflightFailedError(
      `Cassandra is not healthy: ${problems.join('; ')}. Start the node(s) and retry, or set cassandra.allowPartial to back up the nodes that are up.`,
    );
  }
  const healthy = ok.map((n, i) => ({ ...n.node, captureSchema: i === 0 }));
  return {
    ...plan,
    postgresqlSource,
    cassandra: {
      ...plan.cassandra,
      nodes: healthy,
      downNodes: failed.map((n) => ({
        instanceId: n.node.instanceId,
        name: n.node.name,
        reason: n.error?.Cause ?? 'no answer',
      })),
    },
    // The version each node reported; a cluster in the middle of an upgrade is recorded by its oldest node.
    cluster: {
      nodes: ring,
      cassandraVersion:
        oldestCassandraVersion(ok.map((n) => n.result?.cassandraVersion))?.text ??
        ok[0]?.result?.cassandraVersion ??
        null,
    },
  };
}
