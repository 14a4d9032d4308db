import {
  AthenaClient,
  BatchGetQueryExecutionCommand,
  ListQueryExecutionsCommand,
} from '@aws-sdk/client-athena';
import {
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import type { S3Declaration } from '../../../catalog/datasets';
import { lifecycleConfiguration, timeToLive } from '../../../catalog/retention';
import { datasetsReport, printReport, registerDatasets } from '../../../cli/commands/datasets';
import { deriveCatalog } from '../../../cli/datasets/derive';
import type { DatasetsReport } from '../../../cli/datasets/report';
import type { PrintedService } from '../../../local/service-config';

const s3 = mockClient(S3Client);
const dynamodb = mockClient(DynamoDBClient);
const athena = mockClient(AthenaClient);

const BUCKET = 'logbase-dev-data-ap-northeast-1';
const NOW = new Date('2026-12-01T12:00:00Z');
const arn = (key: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:s3:::${BUCKET}/${key}` });

/** The part of the dev stage's `sls print` the catalog reads (the bucket's rules as the generator makes them). */
async function printed(): Promise<PrintedService> {
  const lifecycle = await lifecycleConfiguration(async (param) =>
    param === 'param:rawExpireDays' ? 400 : 30,
  );
  return structuredClone({
    service: 'logbase',
    provider: { stage: 'dev', region: 'ap-northeast-1', environment: { DATA_BUCKET: BUCKET } },
    functions: {
      collect: {
        iamRoleStatements: [
          { Effect: 'Allow', Action: 's3:PutObject', Resource: arn('quarantine/collect/*') },
        ],
      },
      batchArticleStats: {
        iamRoleStatements: [
          {
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: [arn('lake/click/*'), arn('lake/impression/*')],
          },
          { Effect: 'Allow', Action: 's3:PutObject', Resource: arn('marts/article_stats/*') },
        ],
      },
      getUserVector: {
        iamRoleStatements: [
          {
            Effect: 'Allow',
            Action: 'dynamodb:GetItem',
            Resource: { 'Fn::GetAtt': ['UserVectorsTable', 'Arn'] },
          },
        ],
      },
    },
    resources: {
      Resources: {
        DataBucket: {
          Type: 'AWS::S3::Bucket',
          Properties: { BucketName: BUCKET, LifecycleConfiguration: lifecycle },
        },
        EventsDeliveryStream: {
          Type: 'AWS::KinesisFirehose::DeliveryStream',
          Properties: {
            DeliveryStreamName: 'logbase-dev-events',
            DeliveryStreamType: 'DirectPut',
            ExtendedS3DestinationConfiguration: {
              BucketARN: { 'Fn::GetAtt': ['DataBucket', 'Arn'] },
              Prefix: 'raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
              ErrorOutputPrefix:
                'raw/errors/events/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
            },
          },
        },
        UserVectorsTable: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            TableName: 'logbase-dev-UserVectors',
            KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
          },
        },
      },
    },
  }) as PrintedService;
}

const body = (text: string) => ({ transformToString: async () => text });

beforeEach(() => {
  s3.reset();
  dynamodb.reset();
  athena.reset();
});

describe('the datasets catalog', () => {
  it('derives raw streams from the Firehose prefixes, lake tables from the registry and quarantine stages from their writers', async () => {
    // Prepare
    const config = await printed();
    // Act
    const catalog = deriveCatalog(config);
    // Assess
    const names = catalog.datasets.map((d) => d.name);
    expect(names.slice(0, 6)).toEqual([
      'raw/errors/events',
      'raw/events',
      'lake/click/v1',
      'lake/impression/v1',
      'lake/ad_impression/v1',
      'lake/action/v1',
    ]);
    expect(names).toEqual(
      expect.arrayContaining(['quarantine/collect', 'quarantine/format', 'marts/push_candidates']),
    );
    expect(names.at(-1)).toBe('logbase-dev-UserVectors');
    const raw = catalog.datasets.find((d) => d.name === 'raw/events');
    expect(raw?.schema?.types).toEqual(['impression', 'ad_impression', 'action']);
    expect(raw?.retention).toBe('expires after 400 days; STANDARD_IA after 30 days; old versions 30 days');
    const click = catalog.datasets.find((d) => d.name === 'lake/click/v1');
    expect([click?.readers, click?.lakeTable]).toEqual([['batchArticleStats'], 'click_v1']);
    expect(catalog.datasets.find((d) => d.name === 'quarantine/collect')?.writers).toEqual(['collect']);
    expect(catalog.datasets.find((d) => d.name === 'logbase-dev-UserVectors')?.readers).toEqual([
      'getUserVector',
    ]);
  });

  it('generates one lifecycle rule per declared retention, with the stage params resolved', async () => {
    // Prepare
    const declarations: S3Declaration[] = [
      {
        id: 'raw',
        prefix: 'raw/',
        derive: 'firehose',
        owner: 'pipeline',
        description: 'raw',
        retention: { expireDays: 'param:rawExpireDays', noncurrentDays: 1 },
      },
      { id: 'loose', prefix: 'loose/', derive: 'fixed', owner: 'x', description: 'no retention' },
    ];
    // Act
    const config = await lifecycleConfiguration(async () => 12, declarations);
    // Assess
    expect(config.Rules).toEqual([
      {
        Id: 'raw',
        Status: 'Enabled',
        Prefix: 'raw/',
        ExpirationInDays: 12,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      },
      {
        Id: 'abort-incomplete-uploads',
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ]);
    expect(timeToLive()).toEqual({ RecommendationsTable: { AttributeName: 'expires_at', Enabled: true } });
  });

  it('refuses a retention that both expires and keeps, or a param that is no number of days', async () => {
    // Prepare
    const both: S3Declaration = {
      id: 'x',
      prefix: 'x/',
      derive: 'fixed',
      owner: 'x',
      description: 'x',
      retention: { expireDays: 3, keep: 'forever', noncurrentDays: 1 },
    };
    const param: S3Declaration = { ...both, retention: { expireDays: 'param:xDays', noncurrentDays: 1 } };
    // Act / Assess
    await expect(lifecycleConfiguration(async () => 1, [both])).rejects.toThrow(
      'dataset x: declare exactly one of expireDays and keep',
    );
    await expect(lifecycleConfiguration(async () => Number.NaN, [param])).rejects.toThrow(
      'param:xDays must be a whole number of days, got NaN',
    );
  });
});

describe('logbase datasets --stage dev', () => {
  async function stageReport(): Promise<{ report: DatasetsReport; progress: string[] }> {
    const progress: string[] = [];
    const report = await datasetsReport(
      await printed(),
      {
        local: false,
        s3: new S3Client({ region: 'ap-northeast-1' }),
        dynamodb: new DynamoDBClient({ region: 'ap-northeast-1' }),
        athena: new AthenaClient({ region: 'ap-northeast-1' }),
        workGroup: 'logbase-dev',
        database: 'logbase_dev',
      },
      { unusedDays: 30, now: () => NOW, progress: (l) => progress.push(l) },
    );
    return { report, progress };
  }

  function mockStage() {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        IsTruncated: true,
        NextContinuationToken: 't1',
        Contents: [
          {
            Key: 'lake/click/v1/dt=2026-11-30/hour=23/a.parquet',
            Size: 100,
            LastModified: new Date('2026-11-30T23:10:00Z'),
          },
          {
            Key: 'lake/click/v1/dt=2026-12-01/hour=02/b.parquet',
            Size: 50,
            LastModified: new Date('2026-12-01T02:10:00Z'),
          },
          {
            Key: 'lake/ad_impression/v1/dt=2026-12-01/hour=02/c.parquet',
            Size: 7,
            LastModified: new Date('2026-12-01T02:10:00Z'),
          },
        ],
      })
      .resolvesOnce({
        IsTruncated: false,
        Contents: [
          {
            Key: 'raw/events/dt=2026-12-01/hour=02/x.gz',
            Size: 30,
            LastModified: new Date('2026-12-01T02:01:00Z'),
          },
          {
            Key: 'ops/runs/backfill/dt=2026-12-01/r1.json',
            Size: 200,
            LastModified: new Date('2026-12-01T05:00:00Z'),
          },
          { Key: 'old-exports/2024/dump.csv', Size: 999, LastModified: new Date('2024-05-01T00:00:00Z') },
        ],
      });
    s3.on(GetObjectCommand, { Key: 'ops/runs/backfill/dt=2026-12-01/r1.json' }).resolves({
      Body: body(
        JSON.stringify({
          run_id: 'r1',
          command: 'backfill',
          user: 'ops',
          stage: 'dev',
          started_at: '2026-12-01T05:00:00.000Z',
          finished_at: '2026-12-01T05:01:00.000Z',
          arguments: { from: '2026-12-01T02', to: '2026-12-01T02' },
          counts: {},
        }),
      ) as never,
    });
    dynamodb
      .on(DescribeTableCommand)
      .resolves({ Table: { TableName: 'logbase-dev-UserVectors', ItemCount: 42, TableSizeBytes: 4200 } });
    dynamodb
      .on(ListTablesCommand)
      .resolves({ TableNames: ['logbase-dev-UserVectors', 'logbase-dev-OldSessions', 'other-app-Table'] });
    athena.on(ListQueryExecutionsCommand).resolves({ QueryExecutionIds: ['q1', 'q2', 'q3', 'q4'] });
    athena.on(BatchGetQueryExecutionCommand).resolves({
      QueryExecutions: [
        {
          QueryExecutionId: 'q1',
          Query: "SELECT tab, count(*) FROM logbase_dev.click WHERE dt = '2026-12-01' GROUP BY tab",
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED', SubmissionDateTime: new Date('2026-12-01T09:00:00Z') },
        },
        {
          QueryExecutionId: 'q2',
          Query: 'MSCK REPAIR TABLE click_v1',
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED', SubmissionDateTime: new Date('2026-12-01T08:00:00Z') },
        },
        {
          QueryExecutionId: 'q3',
          Query: "SELECT * FROM impression WHERE dt = '2026-11-30'",
          StatementType: 'DML',
          Status: { State: 'FAILED', SubmissionDateTime: new Date('2026-12-01T07:00:00Z') },
        },
        {
          QueryExecutionId: 'q4',
          Query: "SELECT * FROM ad_impression WHERE dt = '2026-01-01'",
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED', SubmissionDateTime: new Date('2026-09-01T00:00:00Z') },
        },
      ],
    });
  }

  it('measures each dataset from the bucket listing and the tables from DescribeTable', async () => {
    // Prepare
    mockStage();
    // Act
    const { report, progress } = await stageReport();
    // Assess
    const click = report.datasets.find((d) => d.name === 'lake/click/v1');
    expect(click?.measured).toMatchObject({
      bytes: 150,
      count: 2,
      oldestPartition: '2026-11-30/23',
      newestPartition: '2026-12-01/02',
      lastWrite: '2026-12-01T02:10:00.000Z',
    });
    const users = report.datasets.find((d) => d.name === 'logbase-dev-UserVectors');
    expect([users?.measured.count, users?.measured.bytes]).toEqual([42, 4200]);
    expect(dynamodb.commandCalls(ScanCommand)).toHaveLength(0);
    expect(progress).toEqual([
      `listed 3 objects of s3://${BUCKET}`,
      `listed 6 objects of s3://${BUCKET}`,
      'read 3 queries of work group logbase-dev',
    ]);
  });

  it('finds last reads in the work group history and the run records, and flags what nobody reads', async () => {
    // Prepare
    mockStage();
    // Act
    const { report } = await stageReport();
    // Assess
    const click = report.datasets.find((d) => d.name === 'lake/click/v1');
    expect(click?.measured.reads).toEqual([
      {
        at: '2026-12-01T09:00:00.000Z',
        via: 'athena',
        what: "SELECT tab, count(*) FROM logbase_dev.click WHERE dt = '2026-12-01' GROUP BY tab",
      },
    ]);
    expect(report.datasets.find((d) => d.name === 'raw/events')?.measured.reads).toEqual([
      {
        at: '2026-12-01T05:00:00.000Z',
        via: 'backfill',
        who: 'ops',
        what: '{"from":"2026-12-01T02","to":"2026-12-01T02"}',
      },
    ]);
    // Its only query is older than 30 days, and no function may read it.
    expect(report.datasets.find((d) => d.name === 'lake/ad_impression/v1')?.flags).toEqual([
      'not read for 30 days',
    ]);
    expect(report.unknown).toEqual([
      {
        kind: 's3',
        name: 'old-exports/',
        bytes: 999,
        count: 1,
        lastWrite: '2024-05-01T00:00:00.000Z',
        flags: ['unknown dataset'],
      },
      { kind: 'table', name: 'logbase-dev-OldSessions', flags: ['unknown dataset'] },
    ]);
    expect(report.blindSpots[0]).toMatch(
      /^reads outside the work group logbase-dev's history \(3 queries since 2026-11-01; 1 not parsed\): functions' reads, direct S3 GETs/,
    );
  });

  it('flags a dataset holding data whose lifecycle rule the deployed bucket lacks as growing without a retention', async () => {
    // Prepare
    mockStage();
    const config = await printed();
    const bucket = config.resources?.Resources?.DataBucket?.Properties as {
      LifecycleConfiguration: { Rules: { Id: string }[] };
    };
    bucket.LifecycleConfiguration.Rules = bucket.LifecycleConfiguration.Rules.filter((r) => r.Id !== 'lake');
    // Act
    const report = await datasetsReport(
      config,
      {
        local: false,
        s3: new S3Client({ region: 'ap-northeast-1' }),
        dynamodb: new DynamoDBClient({ region: 'ap-northeast-1' }),
        athena: new AthenaClient({ region: 'ap-northeast-1' }),
        workGroup: 'logbase-dev',
        database: 'logbase_dev',
      },
      { unusedDays: 30, now: () => NOW },
    );
    // Assess
    const click = report.datasets.find((d) => d.name === 'lake/click/v1');
    expect([click?.retention, click?.flags]).toEqual([undefined, ['grows without a retention']]);
    // An empty dataset without a rule does not grow.
    expect(report.datasets.find((d) => d.name === 'lake/action/v1')?.flags).toEqual([]);
  });

  it('prints one line per dataset, and a dataset in full by its name', async () => {
    // Prepare
    mockStage();
    const { report } = await stageReport();
    const table: string[] = [];
    const one: string[] = [];
    const err: string[] = [];
    // Act
    const codes = [
      printReport(report, { json: false }, { out: (l) => table.push(l), err: (l) => err.push(l) }),
      printReport(
        report,
        { json: false, name: 'lake/click/v1/' },
        { out: (l) => one.push(l), err: (l) => err.push(l) },
      ),
      printReport(report, { json: false, name: 'lake/nope' }, { out: () => {}, err: (l) => err.push(l) }),
    ];
    // Assess
    expect(codes).toEqual([0, 0, 1]);
    expect(table[1]).toMatch(
      /^DATASET\s+OWNER\s+SIZE\s+OBJECTS\/ITEMS\s+PARTITIONS\s+LAST WRITE\s+LAST READ\s+RETENTION\s+FLAGS$/,
    );
    expect(table.find((l) => l.startsWith('lake/click/v1 '))).toMatch(
      /150 bytes\s+2\s+2026-11-30\/23\.\.2026-12-01\/02\s+2026-12-01 02:10Z\s+2026-12-01 09:00Z\s+kept$/,
    );
    expect(table.find((l) => l.startsWith('old-exports/'))).toMatch(/unknown dataset$/);
    expect(one).toContain('  read by:      batchArticleStats (functions, per their IAM statements)');
    expect(one).toContain('    article_id       string             required');
    expect(err).toEqual([
      expect.stringMatching(/^logbase datasets: no dataset "lake\/nope"; known: raw\/errors\/events, /),
    ]);
  });

  it('prints the whole answer as JSON with --json', async () => {
    // Prepare
    mockStage();
    const { report } = await stageReport();
    const out: string[] = [];
    // Act
    printReport(report, { json: true }, { out: (l) => out.push(l), err: () => {} });
    // Assess
    const parsed = JSON.parse(out.join('\n'));
    expect(parsed.stage).toBe('dev');
    expect(parsed.unknown.map((u: { name: string }) => u.name)).toEqual([
      'old-exports/',
      'logbase-dev-OldSessions',
    ]);
  });

  it('is registered as `logbase datasets`, resolves the stage from serverless.yml and prints its table', async () => {
    // Prepare
    mockStage();
    const program = new Command().exitOverride();
    registerDatasets(program);
    const out: string[] = [];
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0),
      jest.spyOn(process.stderr, 'write').mockImplementation(() => true),
    ];
    // Act
    try {
      await program.parseAsync(['node', 'logbase', 'datasets', '--stage', 'dev', '--bucket', BUCKET]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // Assess
    expect(process.exitCode ?? 0).toBe(0);
    expect(out[0]).toMatch(
      /^Datasets of stage dev \(bucket logbase-dev-data-ap-northeast-1\), \d{4}-\d\d-\d\dT\d\d:\d\dZ:\n$/,
    );
    expect(out.some((l) => l.startsWith('old-exports/ ') && l.trimEnd().endsWith('unknown dataset'))).toBe(
      true,
    );
  }, 60_000);

  it('refuses --unused-days that is no whole number of days', async () => {
    // Prepare
    const program = new Command().exitOverride();
    registerDatasets(program);
    let err = '';
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: (s) => (err += s) });
    // Act
    const parsing = program.parseAsync(['node', 'logbase', 'datasets', '--unused-days', '0']);
    // Assess
    await expect(parsing).rejects.toThrow(/must be a whole number of days, e.g. 30/);
    expect(err).toMatch(/option '--unused-days <n>' argument '0' is invalid/);
  });
});
