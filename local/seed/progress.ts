/** Progress reporting shared by the seeder, the mutator and the snapshot. */

/** Phase of the work a progress event belongs to. */
export type SeedPhase =
  | 'reset'
  | 'schema'
  | 'cassandra'
  | 'minio'
  | 'wire-server'
  | 'flush'
  | 'mutate'
  | 'snapshot';

/** One progress event: what is happening and, for counted work, how far it is. */
export interface SeedProgress {
  readonly phase: SeedPhase;
  readonly message: string;
  readonly done?: number;
  readonly total?: number;
}

/** Receives progress events (for example to print them on stderr). */
export type ProgressListener = (event: SeedProgress) => void;
