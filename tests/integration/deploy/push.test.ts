import { packageStage } from '../../helpers/package';

/**
 * The PushCandidates task in what `npx sls deploy --stage dev` would send to CloudFormation (`sls package`,
 * offline, no AWS credentials): its role's exact statements and its place in the state machine.
 */
const stage = 'dev';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };

let template: Template;

beforeAll(async () => {
  template = await packageStage<Template>(stage);
}, 180_000);

const data = (path: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-${stage}-data-ap-northeast-1${path}`,
});

describe('The packaged template for the push candidates task', () => {
  it('gives batch-push-candidates exactly: read the scores and the earlier candidates marts, list and write only those marts', () => {
    // Prepare
    const role = template.Resources.BatchPushCandidatesIamRoleLambdaExecution;

    // Act
    const statements = (role?.Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .filter((s: any) => ![s.Action].flat().some((a: string) => a.startsWith('logs:')));

    // Assess
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: [data('/batch/*'), data('/marts/push_candidates/*')],
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: data(''),
        Condition: { StringLike: { 's3:prefix': 'marts/push_candidates/*' } },
      },
      { Effect: 'Allow', Action: ['s3:PutObject'], Resource: data('/marts/push_candidates/*') },
      {
        Effect: 'Allow',
        Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        Resource: '*',
      },
    ]);
  });

  it('runs PushCandidates after the Map of shards and before PublishReport, with its settings and the DuckDB layer', () => {
    // Prepare
    const fn = template.Resources.BatchPushCandidatesLambdaFunction?.Properties ?? {};
    const [, machine] = Object.entries(template.Resources).find(
      ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
    ) as [string, { Properties?: Record<string, any> }];

    // Act
    const states = JSON.parse(machine.Properties?.DefinitionString['Fn::Sub'][0]).States;

    // Assess
    expect(states.ScoreShards.Next).toBe('PushCandidates');
    expect(states.PushCandidates).toMatchObject({
      Type: 'Task',
      Parameters: { 'run.$': '$.run', 'shardResults.$': '$.shardResults' },
      ResultPath: '$.push',
      Next: 'PublishReport',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'PushCandidatesFailed' }],
    });
    expect(states.PushCandidates.Retry.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: 2 });
    expect(states.PushCandidatesFailed).toMatchObject({ Parameters: { failedTask: 'PushCandidates' } });
    expect(states.Summarize.Parameters['push.$']).toBe('$.push');
    expect(fn.Environment.Variables).toMatchObject({
      BATCH_PUSH_SCORE_THRESHOLD: '0.5',
      BATCH_PUSH_COOLDOWN_HOURS: '24',
    });
    expect(fn.Layers).toEqual([{ Ref: 'DuckdbLambdaLayer' }]);
  });
});
