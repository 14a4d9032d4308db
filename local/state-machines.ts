import { WiringError } from './errors';
import type { PrintedService } from './service-config';

/**
 * Step Functions state machines of serverless.yml (`stepFunctions.stateMachines`, serverless-step-functions),
 * derived for the local stack. Pure: no AWS calls, so the derivation is unit-testable on a printed config.
 */
export interface StateMachineSpec {
  /** The key under `stepFunctions.stateMachines`. */
  key: string;
  /** `name:` of the state machine, or its key when serverless.yml leaves the name to CloudFormation. */
  name: string;
  arn: string;
  type: 'STANDARD' | 'EXPRESS';
  /** The ASL definition with every reference to a function resolved to its local ARN or name. */
  definition: Record<string, unknown>;
  /** Each Task state (by name, at any depth: Map and Parallel included) and what it invokes. */
  tasks: Record<string, TaskTarget>;
  /** Why the local stack cannot run this state machine (empty when it can). */
  unsupported: string[];
}

/**
 * What a Task state invokes: a function named by its `Resource` ARN, or `arn:aws:states:::lambda:invoke`,
 * whose function is the `FunctionName` of the state's input (resolved when the state runs).
 */
export type TaskTarget =
  | { kind: 'function'; functionKey: string; functionName: string }
  | { kind: 'lambdaInvoke' };

/** A function as the derivation needs it: its key under `functions:` and its deployed name. */
export interface FunctionRef {
  key: string;
  name: string;
}

export interface StateMachineContext {
  region: string;
  accountId: string;
  functions: FunctionRef[];
  /** Resolves an intrinsic that names no function (a bucket's Ref, a table's Arn, ...). */
  resolveOther?: (value: unknown, at: string) => unknown;
}

/** The optimized Lambda integration; `.waitForTaskToken` and other services are not emulated. */
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

/** The logical id serverless gives a function's `AWS::Lambda::Function` (`my-fn` -> `MyDashfnLambdaFunction`). */
export function functionLogicalId(key: string): string {
  const normalized = key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

/** The local ARN of a function. */
export function functionArn(ctx: Pick<StateMachineContext, 'region' | 'accountId'>, name: string): string {
  return `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${name}`;
}

/**
 * The function a `FunctionName` or Lambda `Resource` names: a name, a full or partial ARN
 * (`123456789012:function:name`), with or without a version/alias qualifier. Undefined when none matches.
 */
export function findFunction(functions: FunctionRef[], nameOrArn: string): FunctionRef | undefined {
  const parts = nameOrArn.split(':');
  const at = parts.indexOf('function');
  const name = at >= 0 ? parts[at + 1] : parts[0];
  return functions.find((f) => f.name === name);
}

/**
 * Derives the state machines of `stepFunctions.stateMachines`; what the local stack cannot run is listed in
 * each spec's `unsupported` and said in `warnings`. Throws a WiringError for a malformed entry.
 */
export function deriveStateMachines(
  config: PrintedService,
  ctx: StateMachineContext,
  warnings: string[],
): StateMachineSpec[] {
  const stepFunctions = config.stepFunctions as { stateMachines?: Record<string, unknown> } | undefined;
  const specs: StateMachineSpec[] = [];
  for (const [key, raw] of Object.entries(stepFunctions?.stateMachines ?? {})) {
    const at = `stepFunctions.stateMachines.${key}`;
    if (!isObject(raw)) throw new WiringError(`${at} must be an object`);
    if (!isObject(raw.definition)) {
      throw new WiringError(
        `${at}.definition must be an ASL object (inline or \${file(...)}), got ${typeof raw.definition}`,
      );
    }
    const definition = resolveDefinition(ctx, raw.definition, `${at}.definition`) as Record<string, unknown>;
    const name = raw.name === undefined ? key : String(resolveDefinition(ctx, raw.name, `${at}.name`));
    const type = raw.type === undefined ? 'STANDARD' : String(raw.type).toUpperCase();
    if (type !== 'STANDARD' && type !== 'EXPRESS')
      throw new WiringError(`${at}.type must be STANDARD or EXPRESS`);
    const tasks: Record<string, TaskTarget> = {};
    const unsupported: string[] = [];
    collectTasks(ctx, definition, `${at}.definition`, tasks, unsupported);
    for (const reason of unsupported) warnings.push(`state machine ${name} cannot run locally: ${reason}`);
    specs.push({
      key,
      name,
      arn: `arn:aws:states:${ctx.region}:${ctx.accountId}:stateMachine:${name}`,
      type,
      definition,
      tasks,
      unsupported,
    });
  }
  const names = specs.map((s) => s.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate)
    throw new WiringError(`two state machines in stepFunctions.stateMachines are named ${duplicate}`);
  return specs;
}

/** Walks States (and the States of Map item processors and Parallel branches), recording each Task state. */
function collectTasks(
  ctx: StateMachineContext,
  machine: Record<string, unknown>,
  at: string,
  tasks: Record<string, TaskTarget>,
  unsupported: string[],
): void {
  if (!isObject(machine.States)) throw new WiringError(`${at}.States must be an object`);
  for (const [stateName, state] of Object.entries(machine.States)) {
    const stateAt = `${at}.States.${stateName}`;
    if (!isObject(state)) throw new WiringError(`${stateAt} must be an object`);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (state.Type === 'Map' && isObject(processor)) {
      collectTasks(
        ctx,
        processor,
        `${stateAt}.${state.ItemProcessor ? 'ItemProcessor' : 'Iterator'}`,
        tasks,
        unsupported,
      );
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      state.Branches.forEach((branch, i) => {
        if (isObject(branch)) collectTasks(ctx, branch, `${stateAt}.Branches[${i}]`, tasks, unsupported);
      });
    }
    if (state.Type !== 'Task') continue;
    const target = taskTarget(ctx, stateName, state, unsupported);
    if (!target) continue;
    const seen = tasks[stateName];
    if (seen && JSON.stringify(seen) !== JSON.stringify(target)) {
      unsupported.push(
        `two Task states are named ${stateName} and invoke different functions (locally, names are keys)`,
      );
    }
    tasks[stateName] = target;
  }
}

function taskTarget(
  ctx: StateMachineContext,
  stateName: string,
  state: Record<string, unknown>,
  unsupported: string[],
): TaskTarget | undefined {
  const resource = state.Resource;
  if (typeof resource !== 'string') {
    unsupported.push(`Task ${stateName} has no resolvable Resource (${JSON.stringify(resource)})`);
    return undefined;
  }
  if (resource === LAMBDA_INVOKE) {
    const params = isObject(state.Parameters) ? state.Parameters : {};
    const fnName = params.FunctionName;
    if (typeof fnName === 'string' && !findFunction(ctx.functions, fnName)) {
      unsupported.push(`Task ${stateName} invokes ${fnName}, which is not a function of serverless.yml`);
      return undefined;
    }
    if (fnName === undefined && params['FunctionName.$'] === undefined) {
      unsupported.push(`Task ${stateName} calls ${LAMBDA_INVOKE} without Parameters.FunctionName`);
      return undefined;
    }
    return { kind: 'lambdaInvoke' };
  }
  if (resource.startsWith('arn:aws:lambda:')) {
    const fn = findFunction(ctx.functions, resource);
    if (!fn) {
      unsupported.push(`Task ${stateName} invokes ${resource}, which is not a function of serverless.yml`);
      return undefined;
    }
    return { kind: 'function', functionKey: fn.key, functionName: fn.name };
  }
  unsupported.push(
    `Task ${stateName} uses ${resource}; only Lambda functions (their ARN, or ${LAMBDA_INVOKE}) are emulated`,
  );
  return undefined;
}

// ---------------------------------------------------------------- intrinsics in definitions

/** Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::Join anywhere in a definition (function references first). */
function resolveDefinition(ctx: StateMachineContext, value: unknown, at: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => resolveDefinition(ctx, v, `${at}[${i}]`));
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  const [only] = keys;
  if (keys.length === 1 && only && (only === 'Ref' || only.startsWith('Fn::'))) {
    return resolveDefinition(ctx, resolveIntrinsic(ctx, only, value[only], at), at);
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, resolveDefinition(ctx, v, `${at}.${k}`)]),
  );
}

function resolveIntrinsic(ctx: StateMachineContext, fn: string, arg: unknown, at: string): unknown {
  const byLogicalId = (id: string) => ctx.functions.find((f) => functionLogicalId(f.key) === id);
  switch (fn) {
    case 'Ref': {
      const found = byLogicalId(String(arg));
      if (found) return found.name;
      const pseudo = pseudoParameter(ctx, String(arg));
      if (pseudo !== undefined) return pseudo;
      break;
    }
    case 'Fn::GetAtt': {
      const [id, attr] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
      const found = id ? byLogicalId(id) : undefined;
      if (found && attr === 'Arn') return functionArn(ctx, found.name);
      if (found) throw new WiringError(`${at}: Fn::GetAtt ${id}.${attr} is not supported locally (Arn only)`);
      break;
    }
    case 'Fn::Sub': {
      const [template, vars] = Array.isArray(arg) ? [arg[0], arg[1] ?? {}] : [arg, {}];
      if (typeof template !== 'string') throw new WiringError(`${at}: Fn::Sub expects a string template`);
      return template.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
        if (isObject(vars) && name in vars) return String(resolveDefinition(ctx, vars[name], at));
        const [id, attr] = name.split('.');
        const ref = attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: name };
        return String(resolveDefinition(ctx, ref, at));
      });
    }
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2 || !Array.isArray(arg[1])) {
        throw new WiringError(`${at}: Fn::Join expects [delimiter, [values]]`);
      }
      return arg[1].map((v, i) => String(resolveDefinition(ctx, v, `${at}[${i}]`))).join(String(arg[0]));
    }
  }
  if (!ctx.resolveOther)
    throw new WiringError(`${at}: ${fn} ${JSON.stringify(arg)} cannot be resolved locally`);
  return ctx.resolveOther({ [fn]: arg }, at);
}

function pseudoParameter(ctx: StateMachineContext, name: string): string | undefined {
  const values: Record<string, string> = {
    'AWS::Region': ctx.region,
    'AWS::AccountId': ctx.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  return values[name];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
