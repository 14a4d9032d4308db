/**
 * `logbase run batch-scoring --stage <stage>` on AWS: finds the stage's state machine by the name
 * serverless.yml gives it (`logbase-<stage>-batch-scoring`), StartExecution with the date, then follows
 * GetExecutionHistory, printing the same progress lines as the local run, and ends with DescribeExecution.
 */
import { resolve } from 'node:path';
import {
  DescribeExecutionCommand,
  type HistoryEvent,
  paginateGetExecutionHistory,
  paginateListStateMachines,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { loadServiceConfig } from '../../local/service-config';
import { deriveWiring } from '../../local/wiring';
import type { Output } from '../stdio';
import { endedLine, progressLine, type TaskLabel } from './progress';

/** The key of the state machine under `stepFunctions.stateMachines`. */
export const BATCH_SCORING_KEY = 'batchScoring';

export interface StageRunOptions {
  stage: string;
  date?: string;
  /** The execution's input as is (`logbase replay` of a state machine fixture); default `{date}` or `{}`. */
  input?: unknown;
  region?: string;
  serviceDir?: string;
}

export interface StageRunDeps {
  sfn: SFNClient;
  /** The state machine's name on the stage (default: from serverless.yml printed for the stage). */
  stateMachineName: string;
  sleep: (ms: number) => Promise<void>;
  /** Between two reads of the history (default 2 s). */
  pollMs: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The name and region serverless.yml gives the batch-scoring state machine of a stage. */
export async function stageStateMachine(options: StageRunOptions): Promise<{ name: string; region: string }> {
  const config = await loadServiceConfig({
    serviceDir: resolve(options.serviceDir ?? resolve(__dirname, '../..')),
    stage: options.stage,
    ...(options.region ? { region: options.region } : {}),
  });
  const machine = deriveWiring(config).stateMachines.find((m) => m.key === BATCH_SCORING_KEY);
  if (!machine) throw new Error(`serverless.yml has no stepFunctions.stateMachines.${BATCH_SCORING_KEY}`);
  return { name: machine.name, region: options.region ?? String(config.provider.region ?? 'ap-northeast-1') };
}

/** Starts and follows a run on a stage; returns the exit code (0 SUCCEEDED, 1 otherwise, 2 not deployed). */
export async function runOnStage(
  options: StageRunOptions,
  io: Output,
  injected: Partial<StageRunDeps> = {},
): Promise<number> {
  let name = injected.stateMachineName;
  let sfn = injected.sfn;
  if (!name || !sfn) {
    // The name and region come from serverless.yml printed for the stage, unless both are given.
    const found =
      name && options.region ? { name, region: options.region } : await stageStateMachine(options);
    name ??= found.name;
    sfn ??= new SFNClient({ region: found.region, maxAttempts: 5 });
  }
  const deps: StageRunDeps = {
    sfn,
    stateMachineName: name,
    sleep: injected.sleep ?? realSleep,
    pollMs: injected.pollMs ?? 2_000,
  };
  try {
    return await startAndFollow(options, io, deps);
  } finally {
    if (!injected.sfn) sfn.destroy();
  }
}

async function startAndFollow(options: StageRunOptions, io: Output, deps: StageRunDeps): Promise<number> {
  const { sfn } = deps;
  let arn: string | undefined;
  for await (const page of paginateListStateMachines({ client: sfn }, {})) {
    arn = page.stateMachines?.find((m) => m.name === deps.stateMachineName)?.stateMachineArn;
    if (arn) break;
  }
  if (!arn) {
    io.err(
      `stage ${options.stage}: no state machine ${deps.stateMachineName} in this account and region (deploy it first: npx sls deploy --stage ${options.stage})`,
    );
    return 2;
  }
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: arn,
      input: JSON.stringify(options.input ?? (options.date ? { date: options.date } : {})),
    }),
  );
  const executionArn = started.executionArn as string;
  const executionId = executionArn.slice(executionArn.lastIndexOf(':') + 1);
  io.out(
    options.input === undefined
      ? `batch-scoring ${options.date ?? '(yesterday, UTC)'} on stage ${options.stage} (${executionArn})`
      : `${deps.stateMachineName} on stage ${options.stage} (${executionArn}), input ${JSON.stringify(options.input)}`,
  );
  const follower = new HistoryFollower(io);
  while (!(await follower.read(sfn, executionArn))) await deps.sleep(deps.pollMs);
  const ended = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (ended.status !== 'SUCCEEDED') {
    const named = follower.lastTask && !ended.cause?.includes(follower.lastTask.state);
    const cause = [ended.cause, named ? `(last task: ${follower.lastTask?.state})` : '']
      .filter(Boolean)
      .join(' ');
    io.err(endedLine({ executionId, status: ended.status ?? 'UNKNOWN', error: ended.error, cause }));
    return 1;
  }
  io.out(JSON.stringify(JSON.parse(ended.output ?? 'null'), null, 2));
  return 0;
}

/** Where an event stands: the Task state it belongs to, its Map item, and when its invocation was scheduled. */
interface Place {
  label?: TaskLabel;
  scheduledAt?: Date;
}

const ENDED = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionTimedOut', 'ExecutionAborted']);
/** Events that leave a Map item (their successors are outside it). */
const LEAVES_ITEM = new Set([
  'MapIterationSucceeded',
  'MapIterationFailed',
  'MapIterationAborted',
  'MapStateExited',
  'MapStateSucceeded',
  'MapStateFailed',
  'MapStateAborted',
]);

/**
 * Reads an execution's history and prints a line per Task invocation started and ended, as the local
 * run does. An event's Task state and Map item come from the event it follows (`previousEventId`).
 */
export class HistoryFollower {
  private readonly places = new Map<number, Place>();
  private seen = 0;
  /** The last Task state an invocation started in. */
  lastTask?: TaskLabel;

  constructor(private readonly io: Output) {}

  /** Reads the history from the start, handles the events not seen yet; true once the execution ended. */
  async read(sfn: SFNClient, executionArn: string): Promise<boolean> {
    let ended = false;
    for await (const page of paginateGetExecutionHistory(
      { client: sfn },
      { executionArn, maxResults: 1000, includeExecutionData: false },
    )) {
      for (const event of page.events ?? []) {
        const id = event.id ?? 0;
        if (ENDED.has(String(event.type))) ended = true;
        if (id <= this.seen) continue;
        this.seen = id;
        this.handle(event);
      }
    }
    return ended;
  }

  private handle(event: HistoryEvent): void {
    const from = this.places.get(event.previousEventId ?? -1) ?? {};
    let place: Place = from;
    const type = String(event.type);
    if (type === 'MapIterationStarted') {
      place = { label: { state: '', shard: event.mapIterationStartedEventDetails?.index } };
    } else if (LEAVES_ITEM.has(type)) {
      place = {};
    } else if (type === 'TaskStateEntered') {
      place = { label: { state: event.stateEnteredEventDetails?.name ?? '?', shard: from.label?.shard } };
    } else if (type === 'LambdaFunctionScheduled' || type === 'TaskScheduled') {
      place = { ...from, scheduledAt: event.timestamp };
      if (from.label) {
        this.lastTask = from.label;
        this.io.out(progressLine(from.label, { kind: 'started' }));
      }
    } else if (type === 'LambdaFunctionSucceeded' || type === 'TaskSucceeded') {
      if (from.label) {
        const seconds = ((event.timestamp?.getTime() ?? 0) - (from.scheduledAt?.getTime() ?? 0)) / 1000;
        this.io.out(progressLine(from.label, { kind: 'done', seconds: Math.max(0, seconds) }));
      }
    } else {
      const failure = failureOf(event);
      if (failure && from.label) this.io.out(progressLine(from.label, { kind: 'failed', ...failure }));
    }
    this.places.set(event.id ?? 0, place);
  }
}

/** The error and message of a failed invocation (a Lambda error's cause is `{errorType, errorMessage}`). */
function failureOf(event: HistoryEvent): { error: string; message: string } | undefined {
  const details =
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.lambdaFunctionStartFailedEventDetails ??
    event.lambdaFunctionScheduleFailedEventDetails ??
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails;
  if (!details) return undefined;
  const error = details.error ?? String(event.type);
  let message = details.cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // a plain-text cause
  }
  return { error, message };
}
