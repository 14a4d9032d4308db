import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { FunctionInvocationError, WiringError } from './errors';
import type { Invoker } from './invoker';
import { errorMessage } from './log';
import { type FunctionRef, findFunction, type StateMachineSpec, type TaskTarget } from './state-machines';

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Awaited<ReturnType<TaskHandlers[string]>>;

/** A state machine name (or key, or ARN) that serverless.yml does not define. */
export class UnknownStateMachineError extends Error {
  override name = 'UnknownStateMachineError';
}

/** A state machine the local stack cannot run (a Task state calls something other than a function). */
export class UnsupportedStateMachineError extends Error {
  override name = 'UnsupportedStateMachineError';
}

/** A state machine as `list()` shows it. */
export interface StateMachineInfo {
  key: string;
  name: string;
  arn: string;
  type: 'STANDARD' | 'EXPRESS';
  /** Why it cannot run locally; empty when it can. */
  unsupported: string[];
}

/** How an execution ended (the minimal history the local stack keeps). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One execution: its status and, once ended, its output or its error and cause (as DescribeExecution says). */
export interface ExecutionRecord {
  executionId: string;
  executionArn: string;
  stateMachine: string;
  status: ExecutionStatus;
  input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
}

/** A started execution: `result` resolves (never rejects) with the ended record. */
export interface StartedExecution {
  executionId: string;
  executionArn: string;
  result: Promise<ExecutionRecord>;
}

export interface LocalStepFunctionsOptions {
  stateMachines: StateMachineSpec[];
  functions: FunctionRef[];
  /** Runs the functions Task states call: the same invoker as S3 and Kinesis events. */
  invoker: Invoker;
  /** Executions kept for `describe` (oldest dropped first; default 100). */
  historySize?: number;
}

/**
 * Runs the state machines of serverless.yml with aws-local-stepfunctions, every Task state invoking its
 * function through the stack's Invoker (serverless-offline's Lambda endpoint, or in-process handlers).
 */
export class LocalStepFunctions {
  private readonly machines = new Map<string, { spec: StateMachineSpec; machine?: StateMachine }>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, { abort: () => void; result: Promise<ExecutionRecord> }>();
  private readonly historySize: number;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.historySize = options.historySize ?? 100;
    for (const spec of options.stateMachines) {
      let machine: StateMachine | undefined;
      if (spec.unsupported.length === 0) {
        try {
          machine = new StateMachine(spec.definition as unknown as StateMachineDefinition);
        } catch (error) {
          throw new WiringError(
            `state machine ${spec.name} (stepFunctions.stateMachines.${spec.key}): ${errorMessage(error)}`,
          );
        }
      }
      this.machines.set(spec.name, { spec, machine });
    }
  }

  /** The state machines of serverless.yml. */
  list(): StateMachineInfo[] {
    return [...this.machines.values()].map(({ spec }) => ({
      key: spec.key,
      name: spec.name,
      arn: spec.arn,
      type: spec.type,
      unsupported: [...spec.unsupported],
    }));
  }

  /**
   * Starts an execution of a state machine (by name, key or ARN) with `input`. Throws an
   * UnknownStateMachineError listing the known names, or an UnsupportedStateMachineError saying why not.
   */
  start(nameOrArn: string, input: unknown = {}, executionName: string = randomUUID()): StartedExecution {
    const { spec, machine } = this.lookup(nameOrArn);
    if (!machine) {
      throw new UnsupportedStateMachineError(
        `state machine ${spec.name} cannot run locally: ${spec.unsupported.join('; ')}`,
      );
    }
    const executionArn = `${spec.arn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    if (this.executions.has(executionName)) {
      throw new UnsupportedStateMachineError(
        `an execution named ${executionName} already exists (ExecutionAlreadyExists)`,
      );
    }
    const record: ExecutionRecord = {
      executionId: executionName,
      executionArn,
      stateMachine: spec.name,
      status: 'RUNNING',
      input: structuredClone(input),
      startDate: new Date(),
    };
    this.remember(record);
    const execution = machine.run(structuredClone(input) as JsonValue, {
      overrides: { taskResourceLocalHandlers: this.handlers(spec) },
      context: {
        Execution: { Id: executionArn, Name: executionName },
        StateMachine: { Id: spec.arn, Name: spec.name },
      },
    });
    const result = execution.result.then(
      (output) => Object.assign(record, { status: 'SUCCEEDED', output }),
      (error) => Object.assign(record, failure(error)),
    );
    const ended = result.then((r) => {
      r.stopDate = new Date();
      this.running.delete(executionName);
      return { ...r };
    });
    this.running.set(executionName, { abort: execution.abort, result: ended });
    return { executionId: executionName, executionArn, result: ended };
  }

  /** An execution's record (running or ended), or undefined when unknown or dropped from the history. */
  describe(executionId: string): ExecutionRecord | undefined {
    const record = this.executions.get(executionId);
    return record ? { ...record } : undefined;
  }

  /** Aborts every running execution and waits for them to end. */
  async stop(): Promise<void> {
    const running = [...this.running.values()];
    for (const execution of running) execution.abort();
    await Promise.all(running.map((e) => e.result));
  }

  private lookup(nameOrArn: string) {
    const found =
      this.machines.get(nameOrArn) ??
      [...this.machines.values()].find(({ spec }) => spec.key === nameOrArn || spec.arn === nameOrArn);
    if (!found) {
      const known = [...this.machines.keys()];
      throw new UnknownStateMachineError(
        `no state machine ${nameOrArn} in serverless.yml (stepFunctions.stateMachines); known: ${
          known.length ? known.join(', ') : 'none'
        }`,
      );
    }
    return found;
  }

  private remember(record: ExecutionRecord): void {
    this.executions.set(record.executionId, record);
    for (const [id, old] of this.executions) {
      if (this.executions.size <= this.historySize) break;
      if (old.status !== 'RUNNING') this.executions.delete(id);
    }
  }

  /** One local handler per Task state name: what aws-local-stepfunctions runs instead of calling AWS. */
  private handlers(spec: StateMachineSpec): TaskHandlers {
    return Object.fromEntries(
      Object.entries(spec.tasks).map(([stateName, target]) => [
        stateName,
        (input: JsonValue) => this.runTask(target, input) as Promise<JsonValue>,
      ]),
    );
  }

  private async runTask(target: TaskTarget, input: unknown): Promise<unknown> {
    if (target.kind === 'function') {
      return this.invoke({ key: target.functionKey, name: target.functionName }, input);
    }
    // arn:aws:states:::lambda:invoke: the input is the state's Parameters, the result Lambda's Invoke response.
    const params = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const fn =
      typeof params.FunctionName === 'string'
        ? findFunction(this.options.functions, params.FunctionName)
        : undefined;
    if (!fn) {
      throw new TaskError(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${String(params.FunctionName)} (not a function of serverless.yml)`,
      );
    }
    const payload = await this.invoke(fn, params.Payload ?? {});
    return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
  }

  /** Invokes a function; its error becomes the Task state's error, named by its errorType, as on AWS. */
  private async invoke(fn: FunctionRef, event: unknown): Promise<unknown> {
    try {
      return (await this.options.invoker.invoke(fn, event)) ?? null;
    } catch (error) {
      throw TaskError.from(error);
    }
  }
}

/** A Task state's failure: `name` is the error Retry/Catch match, `message` the cause. */
class TaskError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }

  /**
   * A function error is named by its errorType, with Lambda's JSON cause; an Invoke API failure by its
   * exception (`Lambda.<Exception>`), as Step Functions reports them.
   */
  static from(error: unknown): TaskError {
    if (error instanceof FunctionInvocationError) {
      const message = error.message.slice(`${error.functionName} failed: ${error.errorType}: `.length);
      return new TaskError(
        error.errorType,
        JSON.stringify({ errorType: error.errorType, errorMessage: message }),
      );
    }
    if (error instanceof Error && '$metadata' in error)
      return new TaskError(`Lambda.${error.name}`, error.message);
    const [name, message] = error instanceof Error ? [error.name, error.message] : ['Error', String(error)];
    return new TaskError(name, JSON.stringify({ errorType: name, errorMessage: message }));
  }
}

function failure(error: unknown): Partial<ExecutionRecord> {
  if (error instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'the execution ran past TimeoutSeconds' };
  }
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  const cause = error instanceof ExecutionError ? error.cause : error;
  if (cause instanceof Error) return { status: 'FAILED', error: cause.name, cause: cause.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: errorMessage(error) };
}
