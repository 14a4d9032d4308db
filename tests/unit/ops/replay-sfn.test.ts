import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { ReplayTarget } from '../../../cli/ops/replay';
import { kebab, replaySfn, sfnTarget } from '../../../cli/ops/replay-sfn';
import type { StateMachineSpec } from '../../../local/state-machines';

const sfn = mockClient(SFNClient);
const machine: StateMachineSpec = {
  key: 'batchScoring',
  name: 'logbase-dev-batch-scoring',
  arn: 'arn:aws:states:ap-northeast-1:123456789012:stateMachine:logbase-dev-batch-scoring',
  type: 'STANDARD',
  definition: {},
  tasks: {
    ScoreShard: {
      kind: 'function',
      functionKey: 'batchScoreShard',
      functionName: 'logbase-dev-batchScoreShard',
    },
  },
  unsupported: [],
};

describe('Step Functions fixtures', () => {
  it('takes a file named after a state machine as its input and one named after a Task state as that task input', () => {
    // Act / Assess
    expect(kebab('WriteRecommendations')).toBe('write-recommendations');
    expect(sfnTarget('/e/sfn/batch-scoring.json', [machine])).toEqual({ kind: 'execution', machine });
    expect(sfnTarget('/e/sfn/score-shard.json', [machine])).toEqual({
      kind: 'task',
      machine,
      state: 'ScoreShard',
      functionName: 'logbase-dev-batchScoreShard',
    });
    expect(() => sfnTarget('/e/sfn/other.json', [machine])).toThrow(
      '"other" is neither (known: batch-scoring (state machine logbase-dev-batch-scoring), score-shard (Task state ScoreShard))',
    );
  });

  it('starts an execution of a state machine fixture on a stage and reports how it ended', async () => {
    // Prepare
    const arn = 'arn:aws:states:ap-northeast-1:123456789012:stateMachine:logbase-dev-batch-scoring';
    const execution = 'arn:aws:states:ap-northeast-1:123456789012:execution:logbase-dev-batch-scoring:e-1';
    sfn.reset();
    sfn
      .on(ListStateMachinesCommand)
      .resolves({ stateMachines: [{ name: 'logbase-dev-batch-scoring', stateMachineArn: arn } as never] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: execution, startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: new Date() },
        { id: 2, previousEventId: 1, type: 'ExecutionSucceeded', timestamp: new Date() },
      ],
    });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '{"users":3}' } as never);
    const target = {
      wiring: { stage: 'dev', stateMachines: [machine], functions: [] },
      local: false,
      region: 'ap-northeast-1',
      invoke: false,
      lambda: new LambdaClient({ region: 'ap-northeast-1' }),
    } as unknown as ReplayTarget;

    // Act
    const replayed = await replaySfn(
      { file: '/e/sfn/batch-scoring.json', source: 'sfn', event: { date: '2026-11-30' } },
      target,
    );

    // Assess
    expect(JSON.parse(String(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input))).toEqual({
      date: '2026-11-30',
    });
    expect(replayed.ok).toBe(true);
    expect(replayed.delivered).toBe('started logbase-dev-batch-scoring on stage dev (StartExecution)');
    expect(replayed.stages.join('\n')).toContain('"users": 3');
  });
});
