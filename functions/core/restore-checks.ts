import type { TargetNodeCheck } from './contract/restore.js';
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
