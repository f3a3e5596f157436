import type { z } from 'zod';
import { createVaultS3Client } from './clients.js';
import { env } from './env.js';
import { InvalidInputError } from './errors.js';

/** Parses a state's event with a zod schema; the error names the function and each bad field. */
export function parseEvent<S extends z.ZodType>(fn: string, schema: S, event: unknown): z.infer<S> {
  const result = schema.safeParse(event);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`${fn}: event rejected (${fields})`);
  }
  return result.data;
}

/** The vault client and bucket every handler uses (built once per container). */
export function vault(): { s3: ReturnType<typeof createVaultS3Client>; bucket: string } {
  return { s3: createVaultS3Client(), bucket: env.vaultBucket() };
}
