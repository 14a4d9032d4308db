import { resolve } from 'node:path';
import { InProcessInvoker } from '../../../local/invoker';
import { UnknownStateMachineError } from '../../../local/stepfunctions';
import { type BatchInput, prepare, score } from '../../fixtures/sfn/handlers';
import { Invocations, useFixtureStack } from './harness';

/** The Step Functions fixture: two functions and the score-batch state machine (state-machines/*.asl.yml). */
const SFN_DIR = resolve(__dirname, '../../fixtures/sfn');
const MACHINE = 'sfn-local-score-batch';

describe('Step Functions in the local stack', () => {
  const prepared = new Invocations<BatchInput>();
  const scored = new Invocations<{ id: string; value: number }>();
  const local = useFixtureStack({
    serviceDir: SFN_DIR,
    invoker: new InProcessInvoker({ prepare: prepared.handler, score: scored.handler }),
  });

  beforeEach(() => {
    prepared.events.length = 0;
    scored.events.length = 0;
    prepared.behaviour = prepare;
    scored.behaviour = score;
  });

  it('lists the state machine of serverless.yml by its name, key and ARN', () => {
    // Act
    const machines = local.stack.stepFunctions.list();

    // Assess
    expect(machines).toEqual([
      {
        key: 'scoreBatch',
        name: MACHINE,
        arn: `arn:aws:states:ap-northeast-1:000000000000:stateMachine:${MACHINE}`,
        type: 'STANDARD',
        unsupported: [],
      },
    ]);
  });

  it('runs the Task, maps the score function over the items and takes the Choice to Succeed', async () => {
    // Prepare
    const items = [
      { id: 'a', value: 0.9 },
      { id: 'b', value: 0.2 },
      { id: 'c', value: 0.5 },
    ];

    // Act
    const execution = local.stack.stepFunctions.start(MACHINE, { batchId: 'batch-1', items });
    const ended = await execution.result;

    // Assess
    expect(ended).toMatchObject({ executionId: execution.executionId, status: 'SUCCEEDED' });
    expect(ended.executionArn).toBe(
      `arn:aws:states:ap-northeast-1:000000000000:execution:${MACHINE}:${execution.executionId}`,
    );
    expect(ended.output).toEqual({
      batchId: 'batch-1',
      count: 3,
      items,
      scores: [
        { id: 'a', score: 90, passed: true },
        { id: 'b', score: 20, passed: false },
        { id: 'c', score: 50, passed: true },
      ],
    });
    expect(prepared.events).toEqual([{ batchId: 'batch-1', items }]);
    expect(scored.events.map((e) => e.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('takes the Choice default for an empty batch, without invoking the score function', async () => {
    // Act
    const ended = await local.stack.stepFunctions.start('scoreBatch', { batchId: 'batch-2', items: [] })
      .result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    expect(ended.output).toEqual({ batchId: 'batch-2', count: 0, items: [], scores: [], status: 'empty' });
    expect(scored.events).toEqual([]);
  });

  it('retries a Map item whose score invocation fails once, and the execution succeeds', async () => {
    // Prepare
    let failures = 0;
    scored.behaviour = (item) => {
      if (item.id === 'flaky' && failures++ === 0) throw new Error('score service hiccup');
      return score(item);
    };

    // Act
    const ended = await local.stack.stepFunctions.start(MACHINE, {
      batchId: 'batch-3',
      items: [{ id: 'flaky', value: 0.7 }],
    }).result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    expect(ended.output).toMatchObject({ scores: [{ id: 'flaky', score: 70, passed: true }] });
    expect(scored.events.map((e) => e.id)).toEqual(['flaky', 'flaky']);
  });

  it("fails the execution with the function's error type and message when a Task keeps failing", async () => {
    // Act
    const ended = await local.stack.stepFunctions.start(MACHINE, { items: [] }).result;

    // Assess
    expect(ended.status).toBe('FAILED');
    expect(ended.error).toBe('InvalidBatchError');
    expect(JSON.parse(ended.cause ?? '')).toEqual({
      errorType: 'InvalidBatchError',
      errorMessage: 'batchId is required',
    });
    expect(ended.output).toBeUndefined();
    expect(scored.events).toEqual([]);
  });

  it('gives up on a Map item once its Retry is spent, failing with what States.TaskFailed matched', async () => {
    // Prepare
    scored.behaviour = () => {
      throw new TypeError('value is not a number');
    };

    // Act
    const ended = await local.stack.stepFunctions.start(MACHINE, {
      batchId: 'batch-4',
      items: [{ id: 'broken', value: 0.1 }],
    }).result;

    // Assess
    expect(ended).toMatchObject({ status: 'FAILED', error: 'TypeError' });
    expect(ended.cause).toContain('value is not a number');
    expect(scored.events).toHaveLength(2);
  });

  it('names the known state machines when asked to start an unknown one', () => {
    // Act
    const start = () => local.stack.stepFunctions.start('score-batch', {});

    // Assess
    expect(start).toThrow(UnknownStateMachineError);
    expect(start).toThrow(
      `no state machine score-batch in serverless.yml (stepFunctions.stateMachines); known: ${MACHINE}`,
    );
  });
});
