import { z } from 'zod';

/**
 * What every part of the contract shares: the components a backup or restore covers, the result of
 * a component a run did not select, and an error as a Step Functions Catch hands it on.
 */

/** Components a backup (or restore) can cover. */
export const componentNames = ['wireServer', 'cassandra', 'minio', 'postgresql'] as const;
/** One component. */
export type ComponentName = (typeof componentNames)[number];

/** Which components a run covers. */
export const componentsSchema = z.object({
  wireServer: z.boolean(),
  cassandra: z.boolean(),
  minio: z.boolean(),
  /** PostgreSQL (Wire 5.24+); manifests written before it existed lack the field: false. */
  postgresql: z.boolean().default(false),
});

/** What a Parallel branch of a component the run does not cover returns (`componentBranch`). */
export const skippedSchema = z.object({ skipped: z.literal(true) });
/** A component branch's result. */
export type Skipped = z.infer<typeof skippedSchema>;

/** A component branch's result: `schema`, or {@link skippedSchema} when the component is not selected. */
export const branchResult = <T extends z.ZodType>(schema: T) => z.union([skippedSchema, schema]);

/** Whether a branch result is the {@link skippedSchema} of a component the run did not select. */
export const isSkipped = (result: unknown): result is Skipped => skippedSchema.safeParse(result).success;

/** An error as a Step Functions Catch puts it at its `resultPath`. */
export const caughtErrorSchema = z.object({ Error: z.string().optional(), Cause: z.string().optional() });
/** An error caught by a state's Catch. */
export type CaughtError = z.infer<typeof caughtErrorSchema>;
