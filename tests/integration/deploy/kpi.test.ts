import { packageStage } from '../../helpers/package';

/**
 * The PublishReport task in the template `sls package` writes (offline, no AWS credentials): its function,
 * its role's exact grants, and its place in the batch-scoring state machine.
 */
const STAGE = 'prod';

type Resource = { Type: string; Properties?: Record<string, any> };
let template: { Resources: Record<string, Resource> };

beforeAll(async () => {
  template = await packageStage<{ Resources: Record<string, Resource> }>(STAGE);
}, 180_000);

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const data = (path: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-${STAGE}-data-ap-northeast-1${path}`,
});
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

describe('The packaged template for the KPI report', () => {
  it('runs PublishReport on Node.js 22 with the DuckDB layer and the report settings', () => {
    // Act
    const fn = template.Resources.BatchPublishReportLambdaFunction?.Properties ?? {};

    // Assess
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Layers).toEqual([{ Ref: 'DuckdbLambdaLayer' }]);
    expect(fn.Environment.Variables).toMatchObject({
      BATCH_REPORT_LOOKBACK_DAYS: '7',
      BATCH_REPORT_QUARANTINE_THRESHOLD: '0.01',
      BATCH_REPORT_RAW_AGE_LIMIT_SECONDS: '1800',
      BATCH_REPORT_VECTOR_LAG_LIMIT_SECONDS: '120',
    });
  });

  it('gives PublishReport exactly the reads of the lake, its users marts, raw, quarantine and reports, and writes only under reports/kpi/ and marts/daily_users/', () => {
    // Prepare
    const statements = (
      template.Resources.BatchPublishReportIamRoleLambdaExecution?.Properties?.Policies ?? []
    )
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .filter((s: any) => !list(s.Action).some((a) => String(a).startsWith('logs:')));

    // Act
    const grants: Record<string, unknown[]> = {};
    for (const s of statements) for (const a of list(s.Action)) grants[String(a)] = list(s.Resource);
    const listing = statements.find((s: any) => list(s.Action).includes('s3:ListBucket'));

    // Assess
    expect(grants).toEqual({
      's3:ListBucket': [data('')],
      's3:GetObject': [
        data('/lake/*'),
        data('/marts/daily_users/*'),
        data('/quarantine/collect/*'),
        data('/quarantine/articles/*'),
        data('/reports/kpi/*'),
      ],
      's3:PutObject': [data('/reports/kpi/*'), data('/marts/daily_users/*')],
      'dynamodb:Scan': [arn('UserVectorsTable'), arn('ArticleVectorsTable')],
      'xray:PutTraceSegments': ['*'],
      'xray:PutTelemetryRecords': ['*'],
    });
    expect(listing.Condition).toEqual({
      StringLike: {
        's3:prefix': [
          'lake/*',
          'marts/daily_users/*',
          'raw/events/*',
          'raw/clicks/*',
          'quarantine/collect/*',
          'quarantine/articles/*',
          'reports/kpi/*',
        ],
      },
    });
  });

  it('runs PublishReport after PushCandidates and before Summarize, with Retry and a Catch that notifies', () => {
    // Prepare
    const [machine] = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    const definition = (machine as Resource).Properties?.DefinitionString;
    const [asl, refs] = definition['Fn::Sub'] as [string, Record<string, any>];

    // Act
    const states = JSON.parse(asl).States;

    // Assess
    expect(states.PushCandidates.Next).toBe('PublishReport');
    expect(states.PublishReport.Next).toBe('Summarize');
    expect(refs[String(states.PublishReport.Resource).slice(2, -1)]).toEqual({
      'Fn::GetAtt': ['BatchPublishReportLambdaFunction', 'Arn'],
    });
    expect(states.PublishReport.Parameters).toEqual({ 'run.$': '$.run', 'shardResults.$': '$.shardResults' });
    expect(states.PublishReport.ResultPath).toBe('$.report');
    expect(states.PublishReport.Retry).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], MaxAttempts: 2, BackoffRate: 2 }),
    ]);
    expect(states.PublishReport.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'PublishReportFailed' },
    ]);
    expect(states.PublishReportFailed).toMatchObject({
      Parameters: { failedTask: 'PublishReport' },
      Next: 'NotifyFailure',
    });
  });
});
