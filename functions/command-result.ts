import { z } from 'zod';
import { parseCommandResult } from './core/command-result.js';
import { parseEvent } from './core/handler-kit.js';

const eventSchema = z.object({
  documentName: z.string(),
  invocation: z.object({
    status: z.string(),
    responseCode: z.number().optional(),
    instanceId: z.string(),
    stdout: z.string().optional(),
    stderr: z.string().optional(),
  }),
});

/** Parses a finished host command into the script's result, or throws HostCommandError. */
export async function handler(event: unknown): Promise<Record<string, unknown>> {
  const { documentName, invocation } = parseEvent('command-result', eventSchema, event);
  return parseCommandResult(documentName, invocation);
}
