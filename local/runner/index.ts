/**
 * The local runner: runs the state machines CDK synthesizes in aws-local-stepfunctions, with the
 * real Lambda handlers, a local SSM executor, Distributed Map support and local secrets.
 */
export type { AslDefinition, AslState, JsonObject, JsonValue } from './asl.js';
export type { ChildOutcome } from './distributed-map.js';
export { RunnerSetupError, StatesError, statesErrorNames } from './errors.js';
export type { RunnerEvent, RunnerEventListener, RunnerEventType } from './events.js';
export {
  type CfnTemplate,
  deriveBucketName,
  type ExtractedDocument,
  type ExtractedFunction,
  type ExtractedStateMachine,
  type ExtractedTemplate,
  type ExtractOptions,
  extractTemplate,
  handlerMetadataKey,
} from './extract.js';
export {
  createLocalBindings,
  createVaultS3Client,
  type LocalBindings,
  type LocalBindingsOptions,
} from './local-bindings.js';
export {
  getLocalSecret,
  getLocalSecretValue,
  LocalSecretNotFoundError,
  localSecretsFile,
} from './local-secrets.js';
export {
  type ExecutionStatus,
  prepareDefinition,
  type RunnerBindings,
  type RunResult,
  type RunStateMachineOptions,
  runStateMachine,
  type SsmApi,
  type TaskHandler,
} from './run-state-machine.js';
export { LocalSsmExecutor, type LocalSsmExecutorOptions, ssmErrorNames } from './ssm-executor.js';
