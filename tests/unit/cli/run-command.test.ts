import { Command } from 'commander';
import { runOnStage } from '../../../cli/batch/stage-run';
import { registerRun } from '../../../cli/commands/run';

jest.mock('../../../cli/batch/stage-run', () => ({ runOnStage: jest.fn(async () => 1) }));

describe('logbase run batch-scoring --stage', () => {
  it('hands a deployed stage, the date and the region to the stage runner and exits with its code', async () => {
    // Prepare
    const program = new Command().exitOverride();
    registerRun(program);

    // Act
    await program.parseAsync([
      'node',
      'logbase',
      'run',
      'batch-scoring',
      '--stage',
      'dev',
      '--date',
      '2026-11-30',
      '--region',
      'eu-west-1',
    ]);
    const code = process.exitCode;
    process.exitCode = undefined;

    // Assess
    expect(code).toBe(1);
    expect(runOnStage).toHaveBeenCalledWith(
      { stage: 'dev', date: '2026-11-30', region: 'eu-west-1' },
      expect.objectContaining({ out: expect.any(Function), err: expect.any(Function) }),
    );
  });
});
