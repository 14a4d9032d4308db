import { WiringError } from '../../../local/errors';
import { InProcessInvoker } from '../../../local/invoker';
import type { PrintedService } from '../../../local/service-config';
import { findFunction, functionLogicalId } from '../../../local/state-machines';
import { LocalStepFunctions, UnsupportedStateMachineError } from '../../../local/stepfunctions';
import { deriveWiring } from '../../../local/wiring';

const FN_ARN = 'arn:aws:lambda:eu-west-1:000000000000:function';

/** A printed config (the shape `sls print --format json` gives) with functions a and my-fn and some state machines. */
function printed(stateMachines: Record<string, unknown> | undefined): PrintedService {
  return structuredClone({
    service: 'svc',
    provider: { stage: 'local', region: 'eu-west-1' },
    functions: { a: { name: 'svc-local-a' }, 'my-fn': { name: 'svc-local-my-fn' } },
    resources: { Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'svc-data' } } } },
    ...(stateMachines ? { stepFunctions: { stateMachines } } : {}),
  }) as PrintedService;
}

const task = (resource: unknown, extra: Record<string, unknown> = {}) => ({
  Type: 'Task',
  Resource: resource,
  End: true,
  ...extra,
});

describe('deriveWiring: stepFunctions.stateMachines', () => {
  it('resolves function references in Task resources, lambda:invoke parameters and nested states', () => {
    // Prepare
    const config = printed({
      pipeline: {
        name: 'svc-local-pipeline',
        definition: {
          StartAt: 'First',
          States: {
            First: task({ 'Fn::GetAtt': ['ALambdaFunction', 'Arn'] }, { End: undefined, Next: 'Each' }),
            Each: {
              Type: 'Map',
              ItemProcessor: {
                StartAt: 'Inner',
                States: {
                  Inner: task('arn:aws:states:::lambda:invoke', {
                    Parameters: {
                      FunctionName: { 'Fn::GetAtt': ['MyDashfnLambdaFunction', 'Arn'] },
                      'Payload.$': '$',
                    },
                  }),
                },
              },
              Next: 'Both',
            },
            Both: {
              Type: 'Parallel',
              End: true,
              Branches: [
                // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub template
                { StartAt: 'Left', States: { Left: task({ 'Fn::Sub': '${ALambdaFunction.Arn}' }) } },
                {
                  StartAt: 'Right',
                  States: {
                    Right: task('arn:aws:states:::lambda:invoke', {
                      Parameters: {
                        FunctionName: { Ref: 'MyDashfnLambdaFunction' },
                        Bucket: { Ref: 'Bucket' },
                      },
                    }),
                  },
                },
              ],
            },
          },
        },
      },
    });

    // Act
    const wiring = deriveWiring(config);

    // Assess
    const [machine] = wiring.stateMachines;
    expect(wiring.stateMachines).toHaveLength(1);
    expect(machine).toMatchObject({
      key: 'pipeline',
      name: 'svc-local-pipeline',
      arn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:svc-local-pipeline',
      type: 'STANDARD',
      unsupported: [],
      tasks: {
        First: { kind: 'function', functionKey: 'a', functionName: 'svc-local-a' },
        Inner: { kind: 'lambdaInvoke' },
        Left: { kind: 'function', functionKey: 'a', functionName: 'svc-local-a' },
        Right: { kind: 'lambdaInvoke' },
      },
    });
    const states = machine?.definition.States as Record<string, any>;
    expect(states.First.Resource).toBe(`${FN_ARN}:svc-local-a`);
    expect(states.Each.ItemProcessor.States.Inner.Parameters).toEqual({
      FunctionName: `${FN_ARN}:svc-local-my-fn`,
      'Payload.$': '$',
    });
    expect(states.Both.Branches[0].States.Left.Resource).toBe(`${FN_ARN}:svc-local-a`);
    expect(states.Both.Branches[1].States.Right.Parameters).toEqual({
      FunctionName: 'svc-local-my-fn',
      Bucket: 'svc-data',
    });
    expect(wiring.warnings).toEqual([]);
  });

  it('names a state machine without `name` by its key and keeps an EXPRESS type', () => {
    // Act
    const wiring = deriveWiring(
      printed({
        quick: { type: 'express', definition: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } } },
      }),
    );

    // Assess
    expect(wiring.stateMachines).toMatchObject([
      { key: 'quick', name: 'quick', type: 'EXPRESS', tasks: {}, unsupported: [] },
    ]);
  });

  it('marks a state machine with a non-Lambda integration or an unknown function as unsupported, with a warning', () => {
    // Prepare
    const config = printed({
      queue: {
        name: 'svc-local-queue',
        definition: {
          StartAt: 'Send',
          States: {
            Send: task('arn:aws:states:::sqs:sendMessage', { End: undefined, Next: 'Other' }),
            Other: task(`${FN_ARN}:someone-else`),
          },
        },
      },
    });

    // Act
    const wiring = deriveWiring(config);

    // Assess
    expect(wiring.stateMachines[0]?.unsupported).toEqual([
      'Task Send uses arn:aws:states:::sqs:sendMessage; only Lambda functions (their ARN, or arn:aws:states:::lambda:invoke) are emulated',
      `Task Other invokes ${FN_ARN}:someone-else, which is not a function of serverless.yml`,
    ]);
    expect(wiring.warnings).toHaveLength(2);
    expect(wiring.warnings[0]).toMatch(/^state machine svc-local-queue cannot run locally: Task Send uses/);
  });

  it('derives no state machine when serverless.yml has no stepFunctions', () => {
    expect(deriveWiring(printed(undefined)).stateMachines).toEqual([]);
  });

  it('rejects a state machine whose definition is not an ASL object, naming the path', () => {
    expect(() => deriveWiring(printed({ broken: { definition: 'state-machines/x.asl.yml' } }))).toThrow(
      new WiringError(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names serverless's ${file(...)}
        'stepFunctions.stateMachines.broken.definition must be an ASL object (inline or ${file(...)}), got string',
      ),
    );
  });
});

describe('functionLogicalId', () => {
  it('normalizes a function key as serverless does for its AWS::Lambda::Function', () => {
    expect(functionLogicalId('score')).toBe('ScoreLambdaFunction');
    expect(functionLogicalId('my-fn_v2')).toBe('MyDashfnUnderscorev2LambdaFunction');
  });
});

describe('findFunction', () => {
  const functions = [{ key: 'a', name: 'svc-local-a' }];

  it('finds a function by name, full ARN, qualified ARN or partial ARN', () => {
    for (const ref of [
      'svc-local-a',
      `${FN_ARN}:svc-local-a`,
      `${FN_ARN}:svc-local-a:$LATEST`,
      '000000000000:function:svc-local-a',
    ]) {
      expect(findFunction(functions, ref)).toEqual(functions[0]);
    }
  });

  it('finds nothing for another name', () => {
    expect(findFunction(functions, `${FN_ARN}:svc-local-b`)).toBeUndefined();
  });
});

describe('LocalStepFunctions', () => {
  const functions = [{ key: 'a', name: 'svc-local-a' }];

  it('rejects an invalid ASL definition when the stack starts, naming the state machine', () => {
    // Prepare
    const [spec] = deriveWiring(
      printed({ bad: { definition: { StartAt: 'Missing', States: {} } } }),
    ).stateMachines;

    // Act
    const create = () =>
      new LocalStepFunctions({
        stateMachines: spec ? [spec] : [],
        functions,
        invoker: new InProcessInvoker({}),
      });

    // Assess
    expect(create).toThrow(WiringError);
    expect(create).toThrow(/state machine bad \(stepFunctions\.stateMachines\.bad\): .*invalid/);
  });

  it('refuses to start an unsupported state machine, saying why', () => {
    // Prepare
    const wiring = deriveWiring(
      printed({
        queue: { definition: { StartAt: 'S', States: { S: task('arn:aws:states:::sqs:sendMessage') } } },
      }),
    );
    const sfn = new LocalStepFunctions({
      stateMachines: wiring.stateMachines,
      functions,
      invoker: new InProcessInvoker({}),
    });

    // Act
    const start = () => sfn.start('queue', {});

    // Assess
    expect(start).toThrow(UnsupportedStateMachineError);
    expect(start).toThrow(
      /state machine queue cannot run locally: Task S uses arn:aws:states:::sqs:sendMessage/,
    );
  });

  it('fails a lambda:invoke Task whose FunctionName.$ names no function with Lambda.ResourceNotFoundException', async () => {
    // Prepare
    const wiring = deriveWiring(
      printed({
        dynamic: {
          definition: {
            StartAt: 'Call',
            States: {
              Call: task('arn:aws:states:::lambda:invoke', {
                Parameters: { 'FunctionName.$': '$.fn', Payload: {} },
              }),
            },
          },
        },
      }),
    );
    const a = jest.fn(() => ({ ok: true }));
    const sfn = new LocalStepFunctions({
      stateMachines: wiring.stateMachines,
      functions,
      invoker: new InProcessInvoker({ a }),
    });

    // Act
    const missing = await sfn.start('dynamic', { fn: 'svc-local-zzz' }).result;
    const found = await sfn.start('dynamic', { fn: 'svc-local-a' }).result;

    // Assess
    expect(missing).toMatchObject({ status: 'FAILED', error: 'Lambda.ResourceNotFoundException' });
    expect(missing.cause).toContain('svc-local-zzz');
    expect(found).toMatchObject({
      status: 'SUCCEEDED',
      output: { ExecutedVersion: '$LATEST', Payload: { ok: true }, StatusCode: 200 },
    });
    expect(sfn.describe(found.executionId)).toMatchObject({
      status: 'SUCCEEDED',
      input: { fn: 'svc-local-a' },
    });
  });
});
