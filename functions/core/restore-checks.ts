import { downgradeRefusal, parseCassandraVersion, sameTopologyLoader } from './cassandra-version.js';
import type { RestorePlan, RestoreTargets, TargetNodeCheck } from './contract/restore.js';
import { RestoreRefusedError, RestoreVerificationError, type WireBackupError } from './errors.js';
import { parseNodetoolStatus } from './nodetool.js';

/**
 * Every node of the target cluster must be up and normal (`UN`) — before a restore (else it is
 * refused, nothing written) and after it (else the restore is not verified).
 */
export function requireClusterUp(
  checks: readonly TargetNodeCheck[],
  when: 'before' | 'after',
): { nodes: number } {
  const ErrorClass: new (message: string) => WireBackupError =
    when === 'before' ? RestoreRefusedError : RestoreVerificationError;
  const text = checks.map((c) => c.result.nodetoolStatusB64).find((s) => s);
  if (!text) throw new ErrorClass('no target node reported nodetool status');
  const ring = parseNodetoolStatus(Buffer.from(text, 'base64').toString('utf8'));
  const down = ring.filter((r) => r.status !== 'U' || r.state !== 'N');
  if (down.length > 0) {
    const names = down.map((r) => `${r.address} is ${r.status}${r.state}`).join(', ');
    throw new ErrorClass(
      when === 'before'
        ? `target Cassandra node(s) not up: ${names}. Start them (or name other targets) before restoring`
        : `after the restore Cassandra node(s) are not up: ${names}. Check the node logs`,
    );
  }
  return { nodes: ring.length };
}

/**
 * Before anything is written: the version every target node reported (`nodetool version`, through its
 * preflight) must be able to read the backup's SSTables — the same major version or a newer one (4.1 into
 * 5.0 is the upgrade path; 5.0 into 4.1 is refused). Also says how the SSTables will be loaded, from the
 * versions the nodes reported: `nodetool import` from 4.0 on, `nodetool refresh` on 3.x (same topology).
 * @throws RestoreRefusedError naming the node, both versions and what to do.
 */
export function requireCompatibleVersions(
  cassandra: NonNullable<RestorePlan['cassandra']>,
  checks: readonly TargetNodeCheck[],
  backupId: string,
): Omit<NonNullable<RestoreTargets['cassandra']>, 'nodes'> {
  const targetVersions: Record<string, string> = {};
  const loaders = new Set<'import' | 'refresh'>();
  const backup = parseCassandraVersion(cassandra.backupVersion);
  for (const check of checks) {
    const reported = check.result.cassandraVersion ?? null;
    const target = parseCassandraVersion(reported);
    if (!target) {
      throw new RestoreRefusedError(
        `target node ${check.target.name} (${check.target.instanceId}) reported no Cassandra version (nodetool version printed ${JSON.stringify(reported)}): check that the nodetool on its PATH belongs to its Cassandra`,
      );
    }
    targetVersions[check.target.instanceId] = target.text;
    loaders.add(sameTopologyLoader(target));
    const refusal = backup ? downgradeRefusal(backup, target) : null;
    if (refusal) {
      throw new RestoreRefusedError(
        `backup ${backupId} cannot be restored into ${check.target.name} (${check.target.instanceId}): ${refusal}. Nothing was written`,
      );
    }
  }
  const loader =
    cassandra.mode === 'import' ? (loaders.has('refresh') ? 'refresh' : 'import') : cassandra.mode;
  return { backupVersion: backup?.text ?? cassandra.backupVersion, targetVersions, loader };
}
