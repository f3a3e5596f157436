/**
 * Seed sizes: `smoke` (a few hundred rows and ~18 MiB of objects, seconds), `bench` (about 1 GiB in
 * Cassandra and MinIO together) and `<N>MiB` / `<N>GiB` (scaled). A plan fixes every count the
 * generators need, so a size and a seed fully determine the data.
 */

/** Inclusive range `[min, max]`. */
export type Range = readonly [number, number];

/** How many of each thing to generate. */
export interface SeedPlan {
  /** `smoke`, `bench` or the size as given (`256MiB`). */
  readonly name: string;
  /** Total bytes aimed at (Cassandra + MinIO), 0 for `smoke`. */
  readonly targetBytes: number;
  readonly teams: number;
  readonly users: number;
  readonly conversations: number;
  readonly membersPerConversation: Range;
  readonly clientsPerUser: Range;
  /** Prekeys per client, plus the last-resort key 65535. */
  readonly prekeysPerClient: number;
  /** Connections each user starts (each is written in both directions). */
  readonly connectionsPerUser: number;
  readonly notificationsPerUser: Range;
  /** Size of a notification payload blob, in bytes. */
  readonly notificationBytes: Range;
  readonly objects: {
    /** Small objects (`smallBytes`), besides the fixed special-key objects. */
    readonly small: number;
    readonly smallBytes: Range;
    readonly medium: number;
    readonly mediumBytes: Range;
    /** Objects above the 16 MiB multipart threshold (at least one). */
    readonly large: number;
    readonly largeBytes: Range;
  };
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** The multipart threshold of the backup (objects above it are copied in parts). */
export const multipartThresholdBytes = 16 * MiB;

/** Share of the target size written to Cassandra; the rest goes to MinIO. */
const cassandraShare = 0.4;

const smokePlan: SeedPlan = {
  name: 'smoke',
  targetBytes: 0,
  teams: 2,
  users: 12,
  conversations: 6,
  membersPerConversation: [2, 4],
  clientsPerUser: [1, 2],
  prekeysPerClient: 3,
  connectionsPerUser: 1,
  notificationsPerUser: [1, 3],
  notificationBytes: [200, 800],
  objects: {
    small: 16,
    smallBytes: [1 * KiB, 64 * KiB],
    medium: 2,
    mediumBytes: [256 * KiB, 1 * MiB],
    large: 1,
    largeBytes: [17 * MiB, 17 * MiB],
  },
};

const mean = (range: Range): number => (range[0] + range[1]) / 2;

/**
 * Approximate logical bytes one user brings to Cassandra under `plan` (its rows, its clients and
 * prekeys, its notifications, and its share of conversations). Calibrated against generated rows
 * (see the seed result's byte counts); only used to choose how many users a size needs.
 */
export function estimateBytesPerUser(plan: Omit<SeedPlan, 'users'>): number {
  const fixed = 480 + 60 + 45 + 620 + 2 * 90 + 70 + 60 + 0.6 * 250 + 2 * plan.connectionsPerUser * 110;
  const clients = mean(plan.clientsPerUser) * (260 + (plan.prekeysPerClient + 1) * 160);
  const notifications = mean(plan.notificationsPerUser) * (mean(plan.notificationBytes) + 110);
  const conversations = 0.5 * (260 + mean(plan.membersPerConversation) * 190);
  return fixed + clients + notifications + conversations;
}

/** The plan for `<N>` MiB of data in total. */
function scaledPlan(name: string, targetBytes: number): SeedPlan {
  const shape = {
    name,
    targetBytes,
    teams: 0,
    conversations: 0,
    membersPerConversation: [2, 8] as Range,
    clientsPerUser: [1, 3] as Range,
    prekeysPerClient: 10,
    connectionsPerUser: 2,
    notificationsPerUser: [6, 14] as Range,
    notificationBytes: [1024, 5120] as Range,
  };
  const users = Math.max(
    10,
    Math.round(
      (targetBytes * cassandraShare) / estimateBytesPerUser({ ...shape, objects: smokePlan.objects }),
    ),
  );
  const minioBytes = targetBytes * (1 - cassandraShare);
  const largeBytes: Range = [17 * MiB, 64 * MiB];
  const mediumBytes: Range = [256 * KiB, 8 * MiB];
  const smallBytes: Range = [1 * KiB, 64 * KiB];
  return {
    ...shape,
    users,
    teams: Math.max(2, Math.round(users / 200)),
    conversations: Math.max(4, Math.round(users / 2)),
    objects: {
      large: Math.max(1, Math.round((minioBytes * 0.25) / mean(largeBytes))),
      largeBytes,
      medium: Math.max(1, Math.round((minioBytes * 0.25) / mean(mediumBytes))),
      mediumBytes,
      small: Math.max(8, Math.round((minioBytes * 0.5) / mean(smallBytes))),
      smallBytes,
    },
  };
}

/** A seed size as the CLI and the functions take it. */
export type SeedSize = 'smoke' | 'bench' | `${number}MiB` | `${number}GiB`;

/** Parses a size (`smoke`, `bench`, `<N>MiB`, `<N>GiB`) into a plan; throws naming the accepted forms. */
export function planForSize(size: string): SeedPlan {
  if (size === 'smoke') return smokePlan;
  if (size === 'bench') return scaledPlan('bench', 1024 * MiB);
  const match = /^(\d+(?:\.\d+)?)(MiB|GiB)$/.exec(size);
  const amount = match ? Number(match[1]) : Number.NaN;
  if (!match || !(amount > 0)) {
    throw new Error(`seed: unknown size '${size}': use smoke, bench, <N>MiB or <N>GiB (for example 256MiB)`);
  }
  return scaledPlan(size, Math.round(amount * (match[2] === 'GiB' ? 1024 * MiB : MiB)));
}
