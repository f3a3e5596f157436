/**
 * Cassandra versions as `nodetool version` prints them (`ReleaseVersion: 4.1.10`, `3.11.19`,
 * `5.0.9`, `5.0-rc1`), and the decisions the restore takes from them. Nothing here assumes a
 * version: every decision is taken from what the nodes report.
 */

/** A parsed Cassandra release version. */
export interface CassandraVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** As printed, e.g. `4.1.10`. */
  readonly text: string;
}

/** Parses `4.1.10`, `3.11.19`, `5.0-rc1`, `5.0.9-SNAPSHOT`; null when it is not a Cassandra version. */
export function parseCassandraVersion(text: string | null | undefined): CassandraVersion | null {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~].*)?$/.exec((text ?? '').trim());
  if (!match) return null;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3] ?? 0),
    text: (text ?? '').trim(),
  };
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareCassandraVersions(a: CassandraVersion, b: CassandraVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** The oldest of the versions that parse (a cluster in the middle of an upgrade runs several). */
export function oldestCassandraVersion(
  texts: readonly (string | null | undefined)[],
): CassandraVersion | null {
  let oldest: CassandraVersion | null = null;
  for (const text of texts) {
    const version = parseCassandraVersion(text);
    if (version && (!oldest || compareCassandraVersions(version, oldest) < 0)) oldest = version;
  }
  return oldest;
}

/**
 * How a node of the same topology loads its own SSTables: `nodetool import` exists from Cassandra 4.0
 * on; 3.x has `nodetool refresh` of files placed in the live table directory.
 * `host-scripts/restore-cassandra-node.sh` takes the same decision from the node's own `nodetool version`.
 */
export function sameTopologyLoader(version: CassandraVersion): 'import' | 'refresh' {
  return version.major >= 4 ? 'import' : 'refresh';
}

/**
 * Why a backup taken on `backup` cannot be restored into a cluster running `target`, or null when it
 * can. Cassandra reads the SSTable formats of older major versions (3.11's `md`/`me` in 4.x, 4.x's `nb`
 * in 5.0) but never newer ones: a restore into an older major version is refused.
 */
export function downgradeRefusal(backup: CassandraVersion, target: CassandraVersion): string | null {
  if (target.major >= backup.major) return null;
  return `the backup was taken on Cassandra ${backup.text} and the target runs Cassandra ${target.text}: Cassandra cannot read the SSTables of a newer major version (there is no downgrade). Restore into a cluster running Cassandra ${backup.major}.x or newer`;
}
