import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { FunctionEnvironment } from '../../functions/core/env.js';
import { projectRoot } from '../paths.js';

/** Props of {@link WireFunction}. */
export interface WireFunctionProps {
  /** Handler module name under `functions/`, without extension (e.g. `prepare`). */
  readonly handlerName: string;
  /** One sentence: what the function does. */
  readonly description: string;
  /**
   * Environment variables, by the names the handlers read (`envNames` of `functions/core/env.ts`).
   * @default - none
   */
  readonly environment?: FunctionEnvironment;
  /** Timeout. @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** Memory in MiB. @default 512 */
  readonly memorySize?: number;
}

/**
 * A wire-backup Lambda: Node.js 22 on ARM, bundled ESM, JSON logs, X-Ray tracing, one-month log
 * retention. It records its handler as template metadata `WireBackupHandler` so the local runner can
 * bind the state machine's task to the same module.
 */
export class WireFunction extends NodejsFunction {
  /** `functions/<name>.handler`, as recorded in the template metadata. */
  public readonly handlerRef: string;

  constructor(scope: Construct, id: string, props: WireFunctionProps) {
    super(scope, id, {
      entry: join(projectRoot, 'functions', `${props.handlerName}.ts`),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 512,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup: new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH }),
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      bundling: { format: OutputFormat.ESM, minify: true, sourceMap: true, target: 'node22' },
    });
    this.handlerRef = `functions/${props.handlerName}.handler`;
    (this.node.defaultChild as CfnFunction).addMetadata('WireBackupHandler', this.handlerRef);
  }
}
