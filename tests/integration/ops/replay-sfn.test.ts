import { join, resolve } from 'node:path';
import { loadFixtures, type ReplayTarget, replay } from '../../../cli/ops/replay';
import { lambdaClient } from '../../../lib/aws/clients';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { listKeys } from '../local/harness';

/**
 * Step Functions fixtures (events/sfn/) replayed on the local platform: a state machine's input starts
 * an execution on the local runner, its Task states invoking the functions in serverless-offline; a
 * Task state's input goes to that state's function with --invoke.
 */
const platform = usePlatform();
const SFN = resolve(__dirname, '../../../events/sfn');

function target(invoke: boolean): ReplayTarget {
  const { stack, clients } = platform;
  return {
    wiring: stack.wiring,
    config: stack.config,
    bucket: BUCKET,
    httpEndpoint: stack.endpoints.http as string,
    apiKey: API_KEY,
    s3: clients.s3,
    kinesis: clients.kinesis,
    lambda: lambdaClient({ ...process.env, ...stack.env }),
    invoke,
    waitMs: 0,
  };
}

describe('logbase replay of Step Functions fixtures on the local stack', () => {
  it("starts an execution for the state machine's input and prints how it ended", async () => {
    // Prepare
    const fixtures = await loadFixtures(join(SFN, 'batch-scoring.json'));
    // (first in this file: nothing has written batch/ yet)
    const before = await listKeys(platform.clients.s3, BUCKET, 'batch/dt=2026-11-30/');
    // Act
    const [outcome] = await replay(fixtures, target(false));
    // Assess
    expect(before).toEqual([]);
    expect(outcome?.delivered).toMatch(
      /^started logbase-local-batch-scoring \(local Step Functions\), execution [0-9a-f-]{36}$/,
    );
    expect(outcome?.stages[0]).toMatch(/^logbase-local-batch-scoring: SUCCEEDED, output \{/);
    expect(await listKeys(platform.clients.s3, BUCKET, 'batch/dt=2026-11-30/')).not.toEqual([]);
  });

  it("hands a Task state's input to its function with --invoke and prints what it returned", async () => {
    // Prepare
    const fixtures = await loadFixtures(join(SFN, 'shard-users.json'));
    // Act
    const [outcome] = await replay(fixtures, target(true));
    // Assess
    expect(outcome?.delivered).toBe(
      'invoked logbase-local-batchShardUsers (Task state ShardUsers) with the input',
    );
    expect(outcome?.stages[0]).toMatch(/^logbase-local-batchShardUsers: returned \{/);
    expect(outcome?.ok).toBe(true);
  });

  it("says a Task state's input is replayed with --invoke", async () => {
    // Prepare
    const fixtures = await loadFixtures(join(SFN, 'score-shard.json'));
    // Act
    const [outcome] = await replay(fixtures, target(false));
    // Assess
    expect(outcome?.ok).toBe(false);
    expect(outcome?.stages[0]).toMatch(
      /score-shard\.json is the input of the Task state ScoreShard \(logbase-local-batchScoreShard\): replay it with --invoke/,
    );
  });
});
