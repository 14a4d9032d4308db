import { basename, extname } from 'node:path';
import { FunctionInvocationError } from '../../local/errors';
import { LambdaInvoker } from '../../local/invoker';
import type { StateMachineSpec } from '../../local/state-machines';
import { LocalStepFunctions } from '../../local/stepfunctions';
import type { Fixture, ReplayOutcome, ReplayTarget } from './replay';

/**
 * Step Functions fixtures (events/sfn/<name>.json). The file's name says what it is the input of:
 * - a state machine's (`batch-scoring.json`, its key in kebab case, or its name): an execution is
 *   started on the local Step Functions runner (aws-local-stepfunctions, as `logbase run
 *   batch-scoring` and the stack use), its Task states invoking the running stack's functions;
 * - one Task state's (`score-shard.json` for the state ScoreShard): with `--invoke`, that state's
 *   function is invoked with it.
 */

/** Raised for an sfn fixture that cannot be replayed (no such state machine or task, --stage, no --invoke). */
export class SfnReplayError extends Error {
  override name = 'SfnReplayError';
}

/** `ScoreShard` -> `score-shard`, `batchScoring` -> `batch-scoring`. */
export const kebab = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[_\s]+/g, '-')
    .toLowerCase();

/** What an sfn fixture's file name names: a state machine, or one Task state and its function. */
export type SfnTarget =
  | { kind: 'execution'; machine: StateMachineSpec }
  | { kind: 'task'; machine: StateMachineSpec; state: string; functionName: string };

export function sfnTarget(file: string, machines: readonly StateMachineSpec[]): SfnTarget {
  const name = basename(file, extname(file));
  const machine = machines.find(
    (m) => kebab(m.key) === name || m.name === name || m.name.endsWith(`-${name}`),
  );
  if (machine) return { kind: 'execution', machine };
  for (const m of machines) {
    for (const [state, task] of Object.entries(m.tasks)) {
      if (kebab(state) === name && task.kind === 'function')
        return { kind: 'task', machine: m, state, functionName: task.functionName };
    }
  }
  const known = [
    ...machines.map((m) => `${kebab(m.key)} (state machine ${m.name})`),
    ...machines.flatMap((m) =>
      Object.entries(m.tasks)
        .filter(([, t]) => t.kind === 'function')
        .map(([state]) => `${kebab(state)} (Task state ${state})`),
    ),
  ];
  throw new SfnReplayError(
    `${file}: an sfn fixture is named after a state machine or one of its Task states; "${name}" is neither (known: ${known.join(', ') || 'none'})`,
  );
}

const short = (value: unknown, max = 300) => {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max)}...` : text;
};

/** Replays one sfn fixture: starts an execution (locally) or invokes one Task state's function (--invoke). */
export async function replaySfn(fixture: Fixture, target: ReplayTarget): Promise<ReplayOutcome> {
  const base = { file: fixture.file, source: fixture.source };
  const what = sfnTarget(fixture.file, target.wiring.stateMachines ?? []);
  const invoker = new LambdaInvoker(target.lambda);
  if (what.kind === 'task') {
    if (!target.invoke) {
      throw new SfnReplayError(
        `${fixture.file} is the input of the Task state ${what.state} (${what.functionName}): replay it with --invoke, or replay the state machine's input (${kebab(what.machine.key)}.json)`,
      );
    }
    try {
      const out = await invoker.invoke({ key: what.state, name: what.functionName }, fixture.event);
      return {
        ...base,
        delivered: `invoked ${what.functionName} (Task state ${what.state}) with the input`,
        stages: [`${what.functionName}: returned ${short(out)}`],
        ok: true,
      };
    } catch (error) {
      const message =
        error instanceof FunctionInvocationError
          ? `${error.errorType}: ${error.errorMessage}`
          : (error as Error).message;
      return {
        ...base,
        delivered: `invoked ${what.functionName} (Task state ${what.state}) with the input`,
        stages: [`${what.functionName}: failed: ${message}`],
        ok: false,
      };
    }
  }
  if (target.local === false) {
    throw new SfnReplayError(
      `${fixture.file}: starting an execution of ${what.machine.name} on a stage (StartExecution) is not supported yet (@aws-sdk/client-sfn is not a dependency of this checkout); start it from the Step Functions console, or replay a Task state's input with --invoke`,
    );
  }
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
    throw new SfnReplayError(
      `the local Step Functions runner (aws-local-stepfunctions) needs Node.js 22; this is ${process.version}`,
    );
  }
  // The stack's runner, in this process: each Task state invokes its function in the running stack.
  const runner = new LocalStepFunctions({
    stateMachines: [what.machine],
    functions: target.wiring.functions,
    invoker,
  });
  try {
    const started = runner.start(what.machine.name, fixture.event);
    const ended = await started.result;
    const ok = ended.status === 'SUCCEEDED';
    return {
      ...base,
      delivered: `started ${what.machine.name} (local Step Functions), execution ${ended.executionId}`,
      stages: [
        ok
          ? `${what.machine.name}: SUCCEEDED, output ${short(ended.output)}`
          : `${what.machine.name}: ${ended.status}: ${ended.error ?? ''} ${ended.cause ?? ''}`.trim(),
      ],
      ok,
    };
  } finally {
    await runner.stop();
  }
}
