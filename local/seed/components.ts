/** Selection of the parts of a Wire installation the seeder, the mutator and the snapshot touch. */

/** Which parts to touch. Absent: all three. Given: only the parts set to `true`. */
export interface WireComponents {
  readonly cassandra?: boolean;
  readonly minio?: boolean;
  readonly wireServer?: boolean;
}

/** Resolves a selection: absent → every part; given → only the parts set to `true` (a whitelist). */
export function selectComponents(selection?: WireComponents): Required<WireComponents> {
  if (!selection) return { cassandra: true, minio: true, wireServer: true };
  return {
    cassandra: selection.cassandra === true,
    minio: selection.minio === true,
    wireServer: selection.wireServer === true,
  };
}
