import { join, relative } from 'node:path';
import { Duration, Token } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { FunctionEnvironment } from '../../functions/core/env.js';
import { projectRoot } from '../paths.js';

/** Props of {@link WireFunction}. */
export interface WireFunctionProps {
  /** Handler module name under `functions/`, without extension (e.g. `prepare`). */
  readonly handlerName: string;
  /** Handler module file, for code outside `functions/` (test fixtures). @default `functions/<handlerName>.ts` */
  readonly entry?: string;
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
  /** The VPC subnets and security groups to run in (functions that reach on-prem MinIO). @default - no VPC */
  readonly network?: { readonly vpc: IVpc; readonly securityGroups: readonly ISecurityGroup[] };
}

/**
 * How every wire-backup Lambda is bundled: one ESM file for Node 22 that carries everything it
 * imports, so it runs on exactly the dependencies the tests ran (the local runner runs these bundles).
 * - `@aws-sdk/*` is bundled, not left to whatever SDK version the Lambda runtime ships.
 * - CommonJS dependencies (tar-stream's `require('events')`) get a real `require` from the banner:
 *   esbuild's ESM output otherwise throws `Dynamic require of "events" is not supported` on load.
 * - Names are kept: errors take `name` from their class (`functions/core/errors.ts`), and Step
 *   Functions `Retry`/`Catch` match that name, which minification would otherwise rename.
 * - Source maps without embedded sources (small), used through `NODE_OPTIONS=--enable-source-maps`.
 */
export const wireBundling = {
  format: OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  externalModules: [],
  banner:
    "import { createRequire as __wireBackupCreateRequire } from 'node:module'; const require = __wireBackupCreateRequire(import.meta.url);",
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
} as const satisfies BundlingOptions;

/** Lambda's limit on a function's environment variables, names and values together. */
export const lambdaEnvironmentMaxBytes = 4096;

/**
 * The bytes of an environment as Lambda counts them (names and values, UTF-8). A value CloudFormation
 * resolves at deploy (a bucket name) counts as 63 bytes, the longest bucket name.
 */
export function environmentBytes(environment: Readonly<Record<string, unknown>>): number {
  return Object.entries(environment).reduce(
    (sum, [name, value]) =>
      sum +
      Buffer.byteLength(name) +
      (typeof value === 'string' && !Token.isUnresolved(value) ? Buffer.byteLength(value) : 63),
    0,
  );
}

/**
 * A wire-backup Lambda: Node.js 22 on ARM, bundled as {@link wireBundling} says, JSON logs, X-Ray
 * tracing, one-month log retention. It records its handler module as template metadata
 * `WireBackupHandler` (read by people and error messages; the local runner runs the bundle).
 */
export class WireFunction extends NodejsFunction {
  /** `functions/<name>.handler` (the entry module, relative to the repository), as recorded in the template metadata. */
  public readonly handlerRef: string;

  constructor(scope: Construct, id: string, props: WireFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH });
    // Its own role, without AWSLambdaBasicExecutionRole (logs on every log group): it writes its own.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `wire-backup Lambda ${props.handlerName}`,
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    super(scope, id, {
      role,
      entry: props.entry ?? join(projectRoot, 'functions', `${props.handlerName}.ts`),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 512,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      bundling: { ...wireBundling, externalModules: [...wireBundling.externalModules] },
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: { subnets: props.network.vpc.privateSubnets },
            securityGroups: [...props.network.securityGroups],
          }
        : {}),
    });
    const environment = { NODE_OPTIONS: '--enable-source-maps', ...props.environment };
    this.node.addValidation({
      validate: () => {
        const bytes = environmentBytes(environment);
        return bytes > lambdaEnvironmentMaxBytes
          ? [
              `${props.handlerName}: its environment variables take about ${bytes} bytes; Lambda refuses more than ${lambdaEnvironmentMaxBytes} in all (CreateFunction fails): keep large values out of the environment (the configuration is read from its SSM parameter)`,
            ]
          : [];
      },
    });
    const entry = relative(projectRoot, props.entry ?? join(projectRoot, 'functions', props.handlerName));
    this.handlerRef = `${entry.replace(/\.[cm]?[jt]s$/, '')}.handler`;
    (this.node.defaultChild as CfnFunction).addMetadata('WireBackupHandler', this.handlerRef);
  }
}
