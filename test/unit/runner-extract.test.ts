import { App, Duration, Stack } from 'aws-cdk-lib';
import { type CfnFunction, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import {
  DefinitionBody,
  DistributedMap,
  ItemBatcher,
  JsonPath,
  Pass,
  ResultWriterV2,
  S3JsonLItemReader,
  StateMachine,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { describe, expect, it } from 'vitest';
import { type CfnTemplate, deriveBucketName, extractTemplate } from '../../local/runner/extract.js';

/** A tiny stack with what the runner reads: a Lambda with metadata, a bucket, a document, a state machine. */
function synthStack(): CfnTemplate {
  const app = new App({
    context: {
      'aws:cdk:bundling-stacks': [],
      '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
    },
  });
  const stack = new Stack(app, 'RunnerExtract');
  const vault = new Bucket(stack, 'Vault');
  const fn = new LambdaFunction(stack, 'Echo', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => ({})'),
    timeout: Duration.seconds(30),
    environment: { GREETING: 'hello', VAULT_BUCKET: vault.bucketName, VAULT_ARN: vault.bucketArn },
  });
  (fn.node.defaultChild as CfnFunction).addMetadata('WireBackupHandler', 'test/fixtures/runner/echo.handler');
  const document = new CfnDocument(stack, 'Preflight', {
    name: 'WireBackup-Test-Preflight',
    documentType: 'Command',
    content: {
      schemaVersion: '2.2',
      parameters: {
        role: { type: 'String', allowedPattern: '^(cassandra|wireServer)$', interpolationType: 'ENV_VAR' },
      },
      mainSteps: [
        { action: 'aws:runShellScript', name: 'run', inputs: { runCommand: ['echo "$SSM_role"'] } },
      ],
    },
  });
  const invoke = new LambdaInvoke(stack, 'Invoke Echo', {
    lambdaFunction: fn,
    payload: TaskInput.fromObject({ bucket: vault.bucketName, document: document.ref, region: stack.region }),
    resultPath: '$.echo',
  });
  const send = new CallAwsService(stack, 'Send Preflight', {
    service: 'ssm',
    action: 'sendCommand',
    parameters: { DocumentName: document.ref, InstanceIds: ['mi-00000000000000c01'] },
    iamResources: ['*'],
    resultPath: '$.command',
  });
  const copy = new DistributedMap(stack, 'Copy Objects', {
    itemReader: new S3JsonLItemReader({ bucket: vault, key: JsonPath.stringAt('$.batchesKey') }),
    itemSelector: { 'batch.$': '$$.Map.Item.Value' },
    itemBatcher: new ItemBatcher({ maxItemsPerBatch: 10 }),
    resultWriterV2: new ResultWriterV2({ bucket: vault, prefix: 'map-runs' }),
    resultPath: '$.copyRun',
  });
  copy.itemProcessor(new Pass(stack, 'Copy One'));
  new StateMachine(stack, 'Backup', {
    definitionBody: DefinitionBody.fromChainable(invoke.next(send).next(copy)),
  });
  return app.synth().getStackByName('RunnerExtract').template as CfnTemplate;
}

function logicalIdOf(template: CfnTemplate, type: string): string {
  const found = Object.entries(template.Resources ?? {}).find(([, resource]) => resource.Type === type);
  if (!found) throw new Error(`no ${type} in the template`);
  return found[0];
}

describe('extractTemplate', () => {
  it('resolves Lambda, bucket, document and pseudo-parameter intrinsics in the definition', () => {
    // Arrange
    const template = synthStack();
    const functionId = logicalIdOf(template, 'AWS::Lambda::Function');
    const bucketName = deriveBucketName(logicalIdOf(template, 'AWS::S3::Bucket'));

    // Act
    const extracted = extractTemplate(template);

    // Assert
    expect(extracted.stateMachines).toHaveLength(1);
    const states = extracted.stateMachines[0]?.definition.States ?? {};
    expect(states['Invoke Echo']).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${functionId}`,
        Payload: { bucket: bucketName, document: 'WireBackup-Test-Preflight', region: 'us-east-1' },
      },
    });
    expect(states['Send Preflight']).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:ssm:sendCommand',
      Parameters: { DocumentName: 'WireBackup-Test-Preflight' },
    });
    expect(states['Copy Objects']).toMatchObject({
      Type: 'Map',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } },
      ItemReader: {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSONL' },
        Parameters: { Bucket: bucketName, 'Key.$': '$.batchesKey' },
      },
      ItemBatcher: { MaxItemsPerBatch: 10 },
      ResultWriter: {
        Resource: 'arn:aws:states:::s3:putObject',
        Parameters: { Bucket: bucketName, Prefix: 'map-runs' },
      },
    });
  });

  it('exposes each function with its handler metadata and resolved environment', () => {
    // Arrange
    const template = synthStack();
    const bucketName = deriveBucketName(logicalIdOf(template, 'AWS::S3::Bucket'));

    // Act
    const [fn] = extractTemplate(template).functions;

    // Assert
    expect(fn).toMatchObject({
      handler: 'test/fixtures/runner/echo.handler',
      timeoutSeconds: 30,
      arn: expect.stringMatching(/^arn:aws:lambda:us-east-1:000000000000:function:Echo[0-9A-F]{8}$/),
      environment: { GREETING: 'hello', VAULT_BUCKET: bucketName, VAULT_ARN: `arn:aws:s3:::${bucketName}` },
    });
  });

  it('returns documents by name with their content', () => {
    // Arrange
    const template = synthStack();

    // Act
    const { documents } = extractTemplate(template);

    // Assert
    expect(documents).toEqual([
      expect.objectContaining({
        name: 'WireBackup-Test-Preflight',
        content: expect.objectContaining({ schemaVersion: '2.2', parameters: { role: expect.any(Object) } }),
      }),
    ]);
  });

  it('uses refs to point a bucket at a local bucket name', () => {
    // Arrange
    const template = synthStack();
    const bucketId = logicalIdOf(template, 'AWS::S3::Bucket');

    // Act
    const extracted = extractTemplate(template, { refs: { [bucketId]: 'wire-backup-vault' } });

    // Assert
    const copy = extracted.stateMachines[0]?.definition.States['Copy Objects'];
    expect(copy).toMatchObject({ ItemReader: { Parameters: { Bucket: 'wire-backup-vault' } } });
    expect(extracted.functions[0]?.environment.VAULT_ARN).toBe('arn:aws:s3:::wire-backup-vault');
  });

  it('fails naming the intrinsic and the resource it cannot resolve', () => {
    // Arrange
    const template: CfnTemplate = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Environment: { Variables: { TABLE: { 'Fn::ImportValue': 'shared-table' } } } },
        },
      },
    };

    // Act
    const extract = () => extractTemplate(template);

    // Assert
    expect(extract).toThrow(/Fn::ImportValue.*Fn Environment\.Variables\.TABLE/);
  });

  it('fails on a Ref to a resource type it does not model and says how to supply it', () => {
    // Arrange
    const template: CfnTemplate = {
      Resources: {
        Table: { Type: 'AWS::DynamoDB::Table' },
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Environment: { Variables: { TABLE: { Ref: 'Table' } } } },
        },
      },
    };

    // Act
    const extract = () => extractTemplate(template);

    // Assert
    expect(extract).toThrow(
      /\{Ref: Table\} in Fn Environment\.Variables\.TABLE: Table is a AWS::DynamoDB::Table.*options\.refs\['Table'\]/,
    );
  });
});
