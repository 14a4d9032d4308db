import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { runOnStage } from '../../../cli/batch/stage-run';

const NAME = 'logbase-dev-batch-scoring';
const MACHINE = `arn:aws:states:ap-northeast-1:123456789012:stateMachine:${NAME}`;
const EXECUTION = `arn:aws:states:ap-northeast-1:123456789012:execution:${NAME}:run-7`;
const T0 = Date.parse('2026-12-01T00:30:00Z');

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
};

/** A history event: [id, previous id, type, seconds after T0, details]. */
type Row = [number, number, string, number, Partial<HistoryEvent>?];
const events = (rows: Row[]): HistoryEvent[] =>
  rows.map(([id, previousEventId, type, s, details]) => ({
    id,
    previousEventId,
    type: type as HistoryEvent['type'],
    timestamp: new Date(T0 + s * 1000),
    ...details,
  }));
const entered = (name: string) => ({ stateEnteredEventDetails: { name } });
const lambdaFailed = (error: string, message: string) => ({
  lambdaFunctionFailedEventDetails: {
    error,
    cause: JSON.stringify({ errorType: error, errorMessage: message, trace: [] }),
  },
});

/** A run: ArticleStats, a Map of two shards (shard 1's ScoreShard failing once, then retried), Summarize. */
const SUCCEEDED: Row[] = [
  [1, 0, 'ExecutionStarted', 0],
  [2, 1, 'TaskStateEntered', 0, entered('ArticleStats')],
  [3, 2, 'LambdaFunctionScheduled', 0],
  [4, 3, 'LambdaFunctionStarted', 0.1],
  [5, 4, 'LambdaFunctionSucceeded', 2.5],
  [6, 5, 'TaskStateExited', 2.5],
  [7, 6, 'MapStateEntered', 2.5, entered('ScoreShards')],
  [8, 7, 'MapStateStarted', 2.5],
  [9, 8, 'MapIterationStarted', 2.5, { mapIterationStartedEventDetails: { name: 'ScoreShards', index: 0 } }],
  [10, 8, 'MapIterationStarted', 2.5, { mapIterationStartedEventDetails: { name: 'ScoreShards', index: 1 } }],
  [11, 9, 'TaskStateEntered', 2.5, entered('ScoreShard')],
  [12, 10, 'TaskStateEntered', 2.5, entered('ScoreShard')],
  [13, 11, 'LambdaFunctionScheduled', 2.5],
  [14, 12, 'LambdaFunctionScheduled', 2.5],
  [15, 14, 'LambdaFunctionFailed', 3, lambdaFailed('AccessDenied', 'Access Denied')],
  [16, 13, 'LambdaFunctionSucceeded', 3.5],
  [17, 15, 'LambdaFunctionScheduled', 4],
  [18, 17, 'LambdaFunctionSucceeded', 5.2],
  [19, 16, 'TaskStateExited', 3.5],
  [20, 18, 'TaskStateExited', 5.2],
  [21, 19, 'MapIterationSucceeded', 3.5],
  [22, 20, 'MapIterationSucceeded', 5.2],
  [23, 22, 'MapStateSucceeded', 5.2],
  [24, 23, 'MapStateExited', 5.2],
  [25, 24, 'TaskStateEntered', 5.2, entered('Summarize')],
  [26, 25, 'LambdaFunctionScheduled', 5.2],
  [27, 26, 'LambdaFunctionSucceeded', 5.5],
  [28, 27, 'TaskStateExited', 5.5],
  [29, 28, 'ExecutionSucceeded', 5.5],
];

const sfn = mockClient(SFNClient);
const client = () => new SFNClient({ region: 'ap-northeast-1' });

beforeEach(() => {
  sfn.reset();
  sfn
    .on(ListStateMachinesCommand)
    .resolvesOnce({
      stateMachines: [
        { name: 'other', stateMachineArn: 'arn:other', type: 'STANDARD', creationDate: new Date() },
      ],
      nextToken: 'p2',
    })
    .resolvesOnce({
      stateMachines: [{ name: NAME, stateMachineArn: MACHINE, type: 'STANDARD', creationDate: new Date() }],
    });
  sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date(T0) });
});

describe('logbase run batch-scoring --stage', () => {
  it('starts the stage state machine with the date, prints a line per Task invocation with its shard, and the summary', async () => {
    // Prepare: the history read three times: half the run, then all of it over two pages
    const { io, out, err } = capture();
    const all = events(SUCCEEDED);
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: all.slice(0, 14) })
      .resolvesOnce({ events: all.slice(0, 20), nextToken: 'h2' })
      .resolvesOnce({ events: all.slice(20) });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', output: JSON.stringify({ date: '2026-11-30', users: 5 }) });
    const sleeps: number[] = [];

    // Act
    const code = await runOnStage({ stage: 'dev', date: '2026-11-30' }, io, {
      sfn: client(),
      stateMachineName: NAME,
      sleep: async (ms) => void sleeps.push(ms),
    });

    // Assess
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: MACHINE,
      input: '{"date":"2026-11-30"}',
    });
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[2]?.args[0].input.nextToken).toBe('h2');
    expect(sleeps).toEqual([2000]);
    expect(out).toEqual([
      `batch-scoring 2026-11-30 on stage dev (${EXECUTION})`,
      '  ArticleStats ...',
      '  ArticleStats done in 2.5 s',
      '  ScoreShard [shard 0] ...',
      '  ScoreShard [shard 1] ...',
      '  ScoreShard [shard 1] failed: AccessDenied: Access Denied',
      '  ScoreShard [shard 0] done in 1.0 s',
      '  ScoreShard [shard 1] ...',
      '  ScoreShard [shard 1] done in 1.2 s',
      '  Summarize ...',
      '  Summarize done in 0.3 s',
      JSON.stringify({ date: '2026-11-30', users: 5 }, null, 2),
    ]);
  });

  it('exits 1 for a failed run, naming the failed task and its error from the execution cause', async () => {
    // Prepare
    const { io, out, err } = capture();
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: events([
        [1, 0, 'ExecutionStarted', 0],
        [2, 1, 'TaskStateEntered', 0, entered('PushCandidates')],
        [3, 2, 'LambdaFunctionScheduled', 0],
        [4, 3, 'LambdaFunctionFailed', 1, lambdaFailed('Error', 'disk full')],
        [5, 4, 'TaskStateExited', 1],
        [6, 5, 'PassStateEntered', 1, entered('PushCandidatesFailed')],
        [7, 6, 'ExecutionFailed', 2, { executionFailedEventDetails: { error: 'BatchTaskFailed' } }],
      ]),
    });
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'BatchTaskFailed',
      cause: 'PushCandidates failed: Error: disk full',
    });

    // Act
    const code = await runOnStage({ stage: 'prod' }, io, { sfn: client(), stateMachineName: NAME });

    // Assess
    expect(code).toBe(1);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input).toBe('{}');
    expect(out).toEqual([
      `batch-scoring (yesterday, UTC) on stage prod (${EXECUTION})`,
      '  PushCandidates ...',
      '  PushCandidates failed: Error: disk full',
    ]);
    expect(err).toEqual(['run run-7 FAILED: BatchTaskFailed PushCandidates failed: Error: disk full']);
  });

  it('exits 1 for a run that timed out, naming the task it was in', async () => {
    // Prepare
    const { io, err } = capture();
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: events([
        [1, 0, 'ExecutionStarted', 0],
        [2, 1, 'TaskStateEntered', 0, entered('ArticleStats')],
        [3, 2, 'LambdaFunctionScheduled', 0],
        [4, 3, 'ExecutionTimedOut', 300],
      ]),
    });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT' });

    // Act
    const code = await runOnStage({ stage: 'dev' }, io, { sfn: client(), stateMachineName: NAME });

    // Assess
    expect(code).toBe(1);
    expect(err).toEqual(['run run-7 TIMED_OUT: (last task: ArticleStats)']);
  });

  it('exits 2 saying to deploy when the stage has no such state machine', async () => {
    // Prepare
    const { io, err } = capture();

    // Act
    const code = await runOnStage({ stage: 'dev' }, io, {
      sfn: client(),
      stateMachineName: 'logbase-dev-nope',
    });

    // Assess
    expect(code).toBe(2);
    expect(err).toEqual([
      'stage dev: no state machine logbase-dev-nope in this account and region (deploy it first: npx sls deploy --stage dev)',
    ]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
