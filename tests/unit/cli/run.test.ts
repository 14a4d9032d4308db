import { Command } from 'commander';
import { BATCH_TASKS, batchHandlers, registerRun } from '../../../cli/commands/run';
import type { LocalStack } from '../../../local/stack';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
};

describe('logbase run batch-scoring', () => {
  it('prints a line as each Task state starts and ends, with the shard it works on, and says why one failed', async () => {
    // Prepare: the summarize and write tasks replaced for the test, the stack's wiring as the local stack gives it
    const { io, out } = capture();
    const original = { ...BATCH_TASKS };
    const env = {
      DATA_BUCKET: 'b',
      USER_VECTORS_TABLE: 'u',
      ARTICLE_VECTORS_TABLE: 'a',
      RECOMMENDATIONS_TABLE: 'r',
    };
    const stack = {
      env: { LOGBASE_LOCAL: 'true' },
      wiring: {
        functions: [
          { key: 'batchSummarize', environment: env },
          { key: 'batchWriteRecommendations', environment: env },
        ],
      },
    } as unknown as LocalStack;
    const seen: unknown[] = [];
    BATCH_TASKS.batchSummarize = {
      state: 'Summarize',
      run: async (_e, deps) =>
        void seen.push(deps.config.bucket, Math.abs(deps.now().getTime() - Date.now()) < 60_000),
    };
    BATCH_TASKS.batchWriteRecommendations = {
      state: 'WriteRecommendations',
      run: async () => {
        throw Object.assign(new Error('table gone'), { name: 'ResourceNotFoundException' });
      },
    };
    let t = 0;
    try {
      const handlers = batchHandlers(stack, io, () => (t += 500));

      // Act
      await handlers.batchSummarize?.({});
      await expect(handlers.batchWriteRecommendations?.({ scored: { index: 3 } })).rejects.toThrow(
        'table gone',
      );
    } finally {
      Object.assign(BATCH_TASKS, original);
    }

    // Assess
    // the function's settings, and the wall clock
    expect(seen).toEqual(['b', true]);
    expect(out).toEqual([
      '  Summarize ...',
      '  Summarize done in 0.5 s',
      '  WriteRecommendations [shard 3] ...',
      '  WriteRecommendations [shard 3] failed: ResourceNotFoundException: table gone',
    ]);
  });

  it('is registered as `logbase run batch-scoring` with --date, --stage, --region and --data-dir', () => {
    // Prepare
    const program = new Command().exitOverride();

    // Act
    registerRun(program);

    // Assess
    const command = program.commands
      .find((c) => c.name() === 'run')
      ?.commands.find((c) => c.name() === 'batch-scoring');
    expect(command?.options.map((o) => o.long)).toEqual(['--date', '--stage', '--region', '--data-dir']);
  });
});
