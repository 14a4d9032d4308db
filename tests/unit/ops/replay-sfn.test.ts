import { LambdaClient } from '@aws-sdk/client-lambda';
import type { ReplayTarget } from '../../../cli/ops/replay';
import { kebab, replaySfn, SfnReplayError, sfnTarget } from '../../../cli/ops/replay-sfn';
import type { StateMachineSpec } from '../../../local/state-machines';

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

  it('says an execution on a stage is not supported yet', async () => {
    // Prepare
    const target = {
      wiring: { stateMachines: [machine], functions: [] },
      local: false,
      invoke: false,
      lambda: new LambdaClient({ region: 'ap-northeast-1' }),
    } as unknown as ReplayTarget;
    // Act
    const replayed = replaySfn({ file: '/e/sfn/batch-scoring.json', source: 'sfn', event: {} }, target);
    // Assess
    await expect(replayed).rejects.toThrow(SfnReplayError);
    await expect(replayed).rejects.toThrow(/on a stage \(StartExecution\) is not supported yet/);
  });
});
