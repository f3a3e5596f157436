/**
 * Wires the runner to the running local stack: the vault S3 client (endpoint and keys from
 * `stack.json`, path-style as MinIO needs), the SSM executor over the template's documents and the
 * stack's host profiles, and the template's Lambda functions.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { stackDir as defaultStackDir, readStackInfo, type StackInfo } from '../stack-info.js';
import type { ExtractedTemplate } from './extract.js';
import type { RunnerBindings } from './run-state-machine.js';
import { LocalSsmExecutor } from './ssm-executor.js';

/** An S3 client for the vault of the local stack (the "AWS S3" side). */
export function createVaultS3Client(stack: StackInfo): S3Client {
  return new S3Client({
    endpoint: stack.vault.endpoint,
    region: stack.vault.region,
    credentials: { accessKeyId: stack.vault.accessKey, secretAccessKey: stack.vault.secretKey },
    forcePathStyle: true,
  });
}

/** Options of {@link createLocalBindings}. */
export interface LocalBindingsOptions {
  /** What `extractTemplate` found in the synthesized template. */
  readonly template: ExtractedTemplate;
  /** Local stack directory. @default `$WIRE_STACK_DIR` or `<repo>/.local-stack` */
  readonly stackDir?: string;
}

/** Bindings for {@link runStateMachine} plus what must be closed after the run. */
export interface LocalBindings {
  readonly bindings: RunnerBindings;
  readonly ssm: LocalSsmExecutor;
  readonly s3: S3Client;
  readonly stack: StackInfo;
  /** Kills host commands still running and releases the S3 client. */
  close(): Promise<void>;
}

/**
 * Bindings against the running local stack (reads `stack.json`; throws with the fix when the stack
 * is down). Progress of host commands reaches the `onEvent` given to `runStateMachine`.
 */
export function createLocalBindings(options: LocalBindingsOptions): LocalBindings {
  const dir = options.stackDir ?? defaultStackDir();
  const stack = readStackInfo(dir);
  const s3 = createVaultS3Client(stack);
  const ssm = new LocalSsmExecutor({
    documents: options.template.documents,
    stackDir: dir,
    hosts: stack.hosts,
  });
  return {
    bindings: {
      functions: options.template.functions,
      ssm,
      s3,
      eventRules: options.template.eventRules,
      parameters: options.template.parameters,
    },
    ssm,
    s3,
    stack,
    async close() {
      await ssm.close();
      s3.destroy();
    },
  };
}
