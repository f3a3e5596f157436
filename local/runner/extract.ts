import { type AslDefinition, isJsonObject, type JsonObject, type JsonValue } from './asl.js';
import { RunnerSetupError } from './errors.js';

/**
 * Reads what the local runner needs out of a synthesized CloudFormation template: the state
 * machine definitions, the Lambda functions (handler module, environment) and the SSM documents,
 * with every CloudFormation intrinsic resolved to fake but consistent local values:
 * - account `000000000000`, region `us-east-1`, partition `aws`, URL suffix `amazonaws.com`;
 * - a Lambda function `X` → name = its `FunctionName` or else its logical id, ARN
 *   `arn:aws:lambda:us-east-1:000000000000:function:<name>`;
 * - a bucket → its `BucketName` if set, else {@link deriveBucketName} of its logical id (override
 *   with `refs` to point at a real local bucket, e.g. the vault);
 * - an SSM document → its `Name` or else its logical id.
 */

/** One resource of a CloudFormation template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
}

/** The parts of a CloudFormation template the runner reads. */
export interface CfnTemplate {
  readonly Resources?: Readonly<Record<string, CfnResource>>;
  readonly Parameters?: Readonly<Record<string, { readonly Default?: unknown }>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

/** Options of {@link extractTemplate}. */
export interface ExtractOptions {
  /** Region of the fake ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Account of the fake ARNs. @default '000000000000' */
  readonly accountId?: string;
  /** Value of `AWS::StackName`. @default 'local' */
  readonly stackName?: string;
  /**
   * Values by logical id that replace the derived ones: `refs.X` is what `{Ref: X}` resolves to
   * (and, for a bucket or function, the name used in its ARN); `refs['X.Attr']` is what
   * `{Fn::GetAtt: [X, Attr]}` resolves to. @default - none
   */
  readonly refs?: Readonly<Record<string, string>>;
  /** Values of template parameters (else their `Default`). @default - none */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * Asset folders by S3 object key (`readAssetDirectories` of the cloud assembly): where each
   * function's `Code.S3Key` was bundled. @default - none (functions have no `code`)
   */
  readonly assets?: Readonly<Record<string, string>>;
}

/** A state machine of the template. */
export interface ExtractedStateMachine {
  readonly logicalId: string;
  /** `StateMachineName` or else the logical id. */
  readonly name: string;
  readonly arn: string;
  /** The parsed Amazon States Language definition, intrinsics resolved. */
  readonly definition: AslDefinition;
}

/** A Lambda function of the template. */
export interface ExtractedFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Template metadata `WireBackupHandler` (`functions/<name>.handler`); absent on functions the CDK adds itself. */
  readonly handler: string | undefined;
  /**
   * The code Lambda runs: the asset folder `Code.S3Key` names (from `options.assets`) and the
   * `Handler` property (`index.handler`: export `handler` of `index.mjs`). Absent when the template
   * was synthesized without bundling or the function's code is inline.
   */
  readonly code?: FunctionCode;
  /** `Environment.Variables`, intrinsics resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** `Timeout` (seconds). @default 3, as in Lambda */
  readonly timeoutSeconds: number;
  /** `MemorySize` (MiB). @default 128, as in Lambda */
  readonly memorySize: number;
}

/** Where a function's bundle is and what Lambda calls in it. */
export interface FunctionCode {
  /** The unzipped asset: what Lambda puts in `/var/task`. */
  readonly directory: string;
  /** `Handler`: `<module>.<export>`, the module relative to `directory` without extension. */
  readonly handler: string;
}

/** An SSM document of the template. */
export interface ExtractedDocument {
  readonly logicalId: string;
  /** `Name` or else the logical id (what `{Ref}` gives and `SendCommand` takes). */
  readonly name: string;
  /** The document content (schemaVersion, parameters, mainSteps), intrinsics resolved. */
  readonly content: JsonObject;
}

/** An EventBridge rule with an event pattern (`AWS::Events::Rule`; schedules are left out). */
export interface ExtractedEventRule {
  readonly logicalId: string;
  readonly enabled: boolean;
  readonly eventPattern: JsonObject;
  /** Targets by id; `arn` is undefined when it does not resolve locally. */
  readonly targets: readonly { readonly id: string; readonly arn: string | undefined }[];
}

/** Everything {@link extractTemplate} found. */
export interface ExtractedTemplate {
  readonly stateMachines: readonly ExtractedStateMachine[];
  readonly functions: readonly ExtractedFunction[];
  readonly documents: readonly ExtractedDocument[];
  readonly eventRules: readonly ExtractedEventRule[];
  /** SSM parameters (`AWS::SSM::Parameter`): name → value, as the control plane's GetParameter serves them. */
  readonly parameters: Readonly<Record<string, ExtractedParameter>>;
}

/** An SSM parameter of the template. */
export interface ExtractedParameter {
  readonly value: string;
  readonly type: string;
  readonly tier: string;
}

/** Template metadata key naming a Lambda's handler module. */
export const handlerMetadataKey = 'WireBackupHandler';

/**
 * Local name of a bucket without `BucketName`: its logical id lowercased, every character outside
 * `[a-z0-9.-]` dropped, cut to 63 characters (`Vault23237E5B` → `vault23237e5b`).
 */
export function deriveBucketName(logicalId: string): string {
  const name = logicalId
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '')
    .slice(0, 63);
  return name.length >= 3 ? name : `${name}bucket`.slice(0, 63);
}

/** Extracts the state machines, Lambda functions and SSM documents of a synthesized template. */
export function extractTemplate(template: CfnTemplate, options: ExtractOptions = {}): ExtractedTemplate {
  const resolver = new IntrinsicResolver(template, options);
  const stateMachines: ExtractedStateMachine[] = [];
  const functions: ExtractedFunction[] = [];
  const documents: ExtractedDocument[] = [];
  const eventRules: ExtractedEventRule[] = [];
  const parameters: Record<string, ExtractedParameter> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::StepFunctions::StateMachine':
        stateMachines.push({
          logicalId,
          name: resolver.stateMachineName(logicalId),
          arn: resolver.getAtt(logicalId, 'Arn', `${logicalId}`),
          definition: resolver.definition(logicalId, props),
        });
        break;
      case 'AWS::Lambda::Function': {
        const where = `${logicalId} Environment.Variables`;
        const variables = resolver.resolve(
          (props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {},
          where,
        );
        const environment: Record<string, string> = {};
        if (isJsonObject(variables)) {
          for (const [key, value] of Object.entries(variables))
            environment[key] = stringify(value, `${where}.${key}`);
        }
        const handler = resource.Metadata?.[handlerMetadataKey];
        const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
        const directory = typeof s3Key === 'string' ? options.assets?.[s3Key] : undefined;
        functions.push({
          logicalId,
          name: resolver.functionName(logicalId),
          arn: resolver.getAtt(logicalId, 'Arn', logicalId),
          handler: typeof handler === 'string' ? handler : undefined,
          ...(directory && typeof props.Handler === 'string'
            ? { code: { directory, handler: props.Handler } }
            : {}),
          environment,
          timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
          memorySize: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
        });
        break;
      }
      case 'AWS::SSM::Document':
        documents.push({
          logicalId,
          name: resolver.ref(logicalId, logicalId) as string,
          content: resolver.documentContent(logicalId, props),
        });
        break;
      case 'AWS::SSM::Parameter':
        parameters[resolver.ref(logicalId, logicalId) as string] = {
          value: stringify(resolver.resolve(props.Value, `${logicalId} Value`), `${logicalId} Value`),
          type: typeof props.Type === 'string' ? props.Type : 'String',
          tier: typeof props.Tier === 'string' ? props.Tier : 'Standard',
        };
        break;
      case 'AWS::Events::Rule': {
        if (props.EventPattern === undefined) break;
        const eventPattern = resolver.resolve(props.EventPattern, `${logicalId} EventPattern`);
        if (!isJsonObject(eventPattern)) {
          throw new RunnerSetupError(
            `${logicalId} EventPattern must be an object (a JSON string is not supported locally)`,
          );
        }
        const targets = (Array.isArray(props.Targets) ? props.Targets : []).map((target: unknown, index) => {
          const t = isJsonObject(target as JsonValue) ? (target as Record<string, unknown>) : {};
          let arn: string | undefined;
          try {
            const resolved = resolver.resolve(t.Arn, `${logicalId} Targets[${index}].Arn`);
            arn = typeof resolved === 'string' ? resolved : undefined;
          } catch {
            arn = undefined;
          }
          return { id: typeof t.Id === 'string' ? t.Id : `Target${index}`, arn };
        });
        eventRules.push({ logicalId, enabled: props.State !== 'DISABLED', eventPattern, targets });
        break;
      }
      default:
        break;
    }
  }
  return { stateMachines, functions, documents, eventRules, parameters };
}

/** `AWS::NoValue`: the property is left out. */
const noValue = Symbol('AWS::NoValue');
type Resolved = JsonValue | typeof noValue;

function stringify(value: JsonValue, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new RunnerSetupError(`${where} resolved to ${JSON.stringify(value)}, expected a string`);
}

/** Resolves CloudFormation intrinsics to local values (see the module comment for the rules). */
class IntrinsicResolver {
  private readonly resources: Readonly<Record<string, CfnResource>>;
  private readonly region: string;
  private readonly account: string;
  private readonly partition = 'aws';
  private readonly stackName: string;

  constructor(
    private readonly template: CfnTemplate,
    private readonly options: ExtractOptions,
  ) {
    this.resources = template.Resources ?? {};
    this.region = options.region ?? 'us-east-1';
    this.account = options.accountId ?? '000000000000';
    this.stackName = options.stackName ?? 'local';
  }

  /** Resolves every intrinsic in `value`; `where` names the property for error messages. */
  resolve(value: unknown, where: string): JsonValue {
    const resolved = this.resolveAny(value, where);
    return resolved === noValue ? null : resolved;
  }

  definition(logicalId: string, props: Readonly<Record<string, unknown>>): AslDefinition {
    const where = `${logicalId} DefinitionString`;
    const substitutions = this.resolve(
      props.DefinitionSubstitutions ?? {},
      `${logicalId} DefinitionSubstitutions`,
    );
    const substitute = (text: string, inJson: boolean): string =>
      text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => {
        if (!isJsonObject(substitutions) || !(key in substitutions)) return whole;
        const value = stringify(
          substitutions[key] as JsonValue,
          `${logicalId} DefinitionSubstitutions.${key}`,
        );
        return inJson ? JSON.stringify(value).slice(1, -1) : value;
      });
    let text: string;
    if (props.DefinitionString !== undefined) {
      text = substitute(stringify(this.resolve(props.DefinitionString, where), where), false);
    } else if (props.Definition !== undefined) {
      text = substitute(JSON.stringify(this.resolve(props.Definition, `${logicalId} Definition`)), true);
    } else {
      throw new RunnerSetupError(
        `state machine ${logicalId} has no DefinitionString or Definition (DefinitionS3Location is not supported locally)`,
      );
    }
    try {
      return JSON.parse(text) as AslDefinition;
    } catch (error) {
      throw new RunnerSetupError(`${where} is not valid JSON after resolving intrinsics`, { cause: error });
    }
  }

  documentContent(logicalId: string, props: Readonly<Record<string, unknown>>): JsonObject {
    let content = props.Content;
    if (typeof content === 'string') {
      try {
        content = JSON.parse(content);
      } catch (error) {
        throw new RunnerSetupError(
          `SSM document ${logicalId}: Content is a string that is not JSON (YAML is not supported locally); give CfnDocument content as an object`,
          { cause: error },
        );
      }
    }
    const resolved = this.resolve(content, `${logicalId} Content`);
    if (!isJsonObject(resolved))
      throw new RunnerSetupError(`SSM document ${logicalId}: Content is not an object`);
    return resolved;
  }

  functionName(logicalId: string): string {
    return this.options.refs?.[logicalId] ?? this.literalProperty(logicalId, 'FunctionName') ?? logicalId;
  }

  stateMachineName(logicalId: string): string {
    return this.literalProperty(logicalId, 'StateMachineName') ?? logicalId;
  }

  /** What `{Ref: logicalId}` resolves to. */
  ref(logicalId: string, where: string): JsonValue {
    const override = this.options.refs?.[logicalId];
    if (override !== undefined) return override;
    const pseudo = this.pseudoParameter(logicalId);
    if (pseudo !== undefined) return pseudo;
    if (this.template.Parameters && logicalId in this.template.Parameters) {
      const value = this.options.parameters?.[logicalId] ?? this.template.Parameters[logicalId]?.Default;
      if (value === undefined) {
        throw new RunnerSetupError(
          `cannot resolve {Ref: ${logicalId}} in ${where}: template parameter ${logicalId} has no Default; pass it in options.parameters`,
        );
      }
      return value as JsonValue;
    }
    const resource = this.resources[logicalId];
    if (!resource)
      throw new RunnerSetupError(
        `cannot resolve {Ref: ${logicalId}} in ${where}: no such resource or parameter`,
      );
    const name = (property: string) => this.literalProperty(logicalId, property) ?? logicalId;
    const arn = (service: string, resourcePart: string, region = this.region, account = this.account) =>
      `arn:${this.partition}:${service}:${region}:${account}:${resourcePart}`;
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        return this.functionName(logicalId);
      case 'AWS::S3::Bucket':
        return this.literalProperty(logicalId, 'BucketName') ?? deriveBucketName(logicalId);
      case 'AWS::SSM::Document':
        return name('Name');
      case 'AWS::SSM::Parameter':
        return name('Name');
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${this.stateMachineName(logicalId)}`);
      case 'AWS::IAM::Role':
        return name('RoleName');
      case 'AWS::SNS::Topic':
        return arn('sns', name('TopicName'));
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${name('QueueName')}`;
      case 'AWS::SecretsManager::Secret':
        return arn('secretsmanager', `secret:${name('Name')}`);
      case 'AWS::KMS::Key':
        return logicalId;
      case 'AWS::KMS::Alias':
        return name('AliasName');
      case 'AWS::Logs::LogGroup':
        return name('LogGroupName');
      case 'AWS::Events::EventBus':
        return name('Name');
      case 'AWS::Events::Rule':
        return name('Name');
      case 'AWS::CloudWatch::Alarm':
        return name('AlarmName');
      default:
        throw new RunnerSetupError(
          `cannot resolve {Ref: ${logicalId}} in ${where}: ${logicalId} is a ${resource.Type}, which the local runner does not model; pass its value in options.refs['${logicalId}']`,
        );
    }
  }

  /** What `{Fn::GetAtt: [logicalId, attribute]}` resolves to. */
  getAtt(logicalId: string, attribute: string, where: string): string {
    const override = this.options.refs?.[`${logicalId}.${attribute}`];
    if (override !== undefined) return override;
    const resource = this.resources[logicalId];
    const fail = (): never => {
      throw new RunnerSetupError(
        `cannot resolve {Fn::GetAtt: [${logicalId}, ${attribute}]} in ${where}: ${
          resource
            ? `attribute ${attribute} of a ${resource.Type} is not modelled locally`
            : 'no such resource'
        }; pass its value in options.refs['${logicalId}.${attribute}']`,
      );
    };
    if (!resource) return fail();
    const r = this.region;
    const a = this.account;
    const p = this.partition;
    const refString = () => String(this.ref(logicalId, where));
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return `arn:${p}:lambda:${r}:${a}:function:${this.functionName(logicalId)}`;
      case 'AWS::S3::Bucket.Arn':
        return `arn:${p}:s3:::${refString()}`;
      case 'AWS::S3::Bucket.DomainName':
        return `${refString()}.s3.amazonaws.com`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${refString()}.s3.${r}.amazonaws.com`;
      case 'AWS::S3::Bucket.DualStackDomainName':
        return `${refString()}.s3.dualstack.${r}.amazonaws.com`;
      case 'AWS::StepFunctions::StateMachine.Arn':
        return refString();
      case 'AWS::StepFunctions::StateMachine.Name':
        return this.stateMachineName(logicalId);
      case 'AWS::IAM::Role.Arn':
        return `arn:${p}:iam::${a}:role/${refString()}`;
      case 'AWS::IAM::Role.RoleId':
        return `AROA${logicalId
          .toUpperCase()
          .replace(/[^A-Z0-9]/g, '')
          .slice(0, 17)}`;
      case 'AWS::SNS::Topic.TopicArn':
        return refString();
      case 'AWS::SNS::Topic.TopicName':
        return this.literalProperty(logicalId, 'TopicName') ?? logicalId;
      case 'AWS::SQS::Queue.Arn':
        return `arn:${p}:sqs:${r}:${a}:${this.literalProperty(logicalId, 'QueueName') ?? logicalId}`;
      case 'AWS::SQS::Queue.QueueName':
        return this.literalProperty(logicalId, 'QueueName') ?? logicalId;
      case 'AWS::SQS::Queue.QueueUrl':
        return refString();
      case 'AWS::SecretsManager::Secret.Id':
        return refString();
      case 'AWS::KMS::Key.Arn':
        return `arn:${p}:kms:${r}:${a}:key/${refString()}`;
      case 'AWS::KMS::Key.KeyId':
        return refString();
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:${p}:logs:${r}:${a}:log-group:${refString()}:*`;
      case 'AWS::Events::EventBus.Arn':
        return `arn:${p}:events:${r}:${a}:event-bus/${refString()}`;
      case 'AWS::Events::EventBus.Name':
        return refString();
      case 'AWS::Events::Rule.Arn':
        return `arn:${p}:events:${r}:${a}:rule/${refString()}`;
      case 'AWS::CloudWatch::Alarm.Arn':
        return `arn:${p}:cloudwatch:${r}:${a}:alarm:${refString()}`;
      case 'AWS::SSM::Parameter.Type':
        return this.literalProperty(logicalId, 'Type') ?? 'String';
      case 'AWS::SSM::Parameter.Value':
        return this.literalProperty(logicalId, 'Value') ?? fail();
      default:
        return fail();
    }
  }

  private pseudoParameter(name: string): JsonValue | undefined {
    switch (name) {
      case 'AWS::Region':
        return this.region;
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Partition':
        return this.partition;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return `arn:${this.partition}:cloudformation:${this.region}:${this.account}:stack/${this.stackName}/00000000-0000-0000-0000-000000000000`;
      case 'AWS::NotificationARNs':
        return [];
      default:
        return undefined;
    }
  }

  /** A property that is a plain string (or resolves to one); undefined when absent. */
  private literalProperty(logicalId: string, property: string): string | undefined {
    const value = this.resources[logicalId]?.Properties?.[property];
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    return stringify(this.resolve(value, `${logicalId} ${property}`), `${logicalId} ${property}`);
  }

  private resolveAny(value: unknown, where: string): Resolved {
    if (Array.isArray(value)) {
      const items: JsonValue[] = [];
      for (const [index, item] of value.entries()) {
        const resolved = this.resolveAny(item, `${where}[${index}]`);
        if (resolved !== noValue) items.push(resolved);
      }
      return items;
    }
    if (!isJsonObject(value)) return value as JsonValue;
    const keys = Object.keys(value);
    const key = keys[0];
    if (keys.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
      return this.intrinsic(key, value[key], where);
    }
    const result: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolveAny(v, `${where}.${k}`);
      if (resolved !== noValue) result[k] = resolved;
    }
    return result;
  }

  private intrinsic(fn: string, arg: unknown, where: string): Resolved {
    const bad = (why: string): never => {
      throw new RunnerSetupError(`cannot resolve {${fn}: ${JSON.stringify(arg)}} in ${where}: ${why}`);
    };
    switch (fn) {
      case 'Ref':
        if (arg === 'AWS::NoValue') return noValue;
        return typeof arg === 'string' ? this.ref(arg, where) : bad('Ref takes a logical id');
      case 'Fn::GetAtt': {
        const parts = typeof arg === 'string' ? splitOnce(arg, '.') : arg;
        if (!Array.isArray(parts) || parts.length !== 2)
          return bad('Fn::GetAtt takes [logicalId, attribute]');
        const [id, attribute] = parts.map((part) => this.resolve(part, where));
        if (typeof id !== 'string' || typeof attribute !== 'string') return bad('Fn::GetAtt takes strings');
        return this.getAtt(id, attribute, where);
      }
      case 'Fn::Join': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') {
          return bad('Fn::Join takes [delimiter, list]');
        }
        const list = this.resolve(arg[1], where);
        if (!Array.isArray(list)) return bad('the list did not resolve to an array');
        return list.map((item, index) => stringify(item, `${where} Fn::Join[${index}]`)).join(arg[0]);
      }
      case 'Fn::Sub':
        return this.sub(arg, where);
      case 'Fn::Select': {
        if (!Array.isArray(arg) || arg.length !== 2) return bad('Fn::Select takes [index, list]');
        const index = Number(this.resolve(arg[0], where));
        const list = this.resolve(arg[1], where);
        if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length) {
          return bad('index out of range');
        }
        return list[index] as JsonValue;
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') {
          return bad('Fn::Split takes [delimiter, string]');
        }
        return stringify(this.resolve(arg[1], where), where).split(arg[0]);
      }
      case 'Fn::FindInMap': {
        if (!Array.isArray(arg) || arg.length < 3) return bad('Fn::FindInMap takes [map, topKey, secondKey]');
        const [map, top, second] = arg.slice(0, 3).map((part) => stringify(this.resolve(part, where), where));
        const found = this.template.Mappings?.[map as string]?.[top as string]?.[second as string];
        return found === undefined ? bad(`no mapping ${map}.${top}.${second}`) : (found as JsonValue);
      }
      case 'Fn::Base64':
        return Buffer.from(stringify(this.resolve(arg, where), where), 'utf8').toString('base64');
      default:
        return bad(`${fn} is not supported by the local runner`);
    }
  }

  private sub(arg: unknown, where: string): string {
    let text: unknown = arg;
    let variables: JsonValue = {};
    if (Array.isArray(arg)) {
      text = arg[0];
      variables = this.resolve(arg[1] ?? {}, where);
    }
    if (typeof text !== 'string') {
      throw new RunnerSetupError(
        `cannot resolve {Fn::Sub: ${JSON.stringify(arg)}} in ${where}: expected a string`,
      );
    }
    return text.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (isJsonObject(variables) && name in variables) return stringify(variables[name] as JsonValue, where);
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::'))
        return this.getAtt(name.slice(0, dot), name.slice(dot + 1), where);
      return stringify(this.ref(name, where), where);
    });
  }
}

function splitOnce(text: string, separator: string): string[] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * Resolves the intrinsics of any value of `template` with the same local values as
 * {@link extractTemplate} (used by `iam/template-policies.ts` for policy documents).
 */
export function resolveIntrinsics(
  template: CfnTemplate,
  value: unknown,
  where: string,
  options: ExtractOptions = {},
): JsonValue {
  return new IntrinsicResolver(template, options).resolve(value, where);
}

/** What `{Fn::GetAtt: [logicalId, attribute]}` resolves to locally. */
export function resolveGetAtt(
  template: CfnTemplate,
  logicalId: string,
  attribute: string,
  options: ExtractOptions = {},
): string {
  return stringify(
    new IntrinsicResolver(template, options).resolve({ 'Fn::GetAtt': [logicalId, attribute] }, logicalId),
    `${logicalId}.${attribute}`,
  );
}
