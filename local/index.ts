// The embedded local AWS stack: one entry point for `logbase dev` and the tests.
export {
  DataDirError,
  FunctionInvocationError,
  LocalStackStartError,
  ServiceConfigError,
  WiringError,
} from './errors';
export type { FirehoseFaults } from './firehose/server';
export {
  InProcessInvoker,
  type Invoker,
  type InvokeTarget,
  LambdaInvoker,
  type LocalHandler,
} from './invoker';
export { consoleLog, type StackLog, silentLog } from './log';
export { freePort } from './ports';
export { loadServiceConfig, type PrintedService } from './service-config';
export {
  LOCAL_CREDENTIALS,
  type LocalEndpoints,
  type LocalPorts,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from './stack';
export type { StateMachineSpec } from './state-machines';
export {
  type ExecutionRecord,
  LocalStepFunctions,
  type StartedExecution,
  type StateMachineInfo,
  UnknownStateMachineError,
  UnsupportedStateMachineError,
} from './stepfunctions';
export { deriveWiring, type Wiring } from './wiring';
