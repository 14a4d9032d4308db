import { listSchemas } from '../../../lib/schemas';
import { packageStage } from '../../helpers/package';

/**
 * What `npx sls deploy --stage <stage>` would send to CloudFormation: the template `sls package` writes,
 * built offline with no AWS credentials.
 */

type Resource = {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  DependsOn?: string[];
};
type Template = { Resources: Record<string, Resource> };

const ofType = (t: Template, type: string) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type) as [string, Resource][];
const one = (t: Template, logicalId: string): Resource => {
  const r = t.Resources[logicalId];
  if (!r) throw new Error(`template has no resource ${logicalId}`);
  return r;
};

/** Every Allow statement of every IAM role and policy in the template, with where it came from. */
function allowStatements(t: Template) {
  const out: { where: string; Action: unknown; Resource: unknown }[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const docs: { name: string; doc: any }[] = [];
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties?.Policies ?? []) docs.push({ name: p.PolicyName, doc: p.PolicyDocument });
    } else if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      docs.push({ name: id, doc: r.Properties?.PolicyDocument });
    }
    for (const { name, doc } of docs) {
      for (const s of doc?.Statement ?? []) {
        if (s.Effect === 'Allow')
          out.push({ where: `${id}/${JSON.stringify(name)}`, Action: s.Action, Resource: s.Resource });
      }
    }
  }
  return out;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** The TableInput of every Glue table and view, in the database of serverless.yml. */
const glueTables = (t: Template) =>
  ofType(t, 'AWS::Glue::Table').map(([, r]) => {
    expect(r.Properties?.DatabaseName).toEqual({ Ref: 'GlueDatabase' });
    return r.Properties?.TableInput;
  });

/** params.athenaBytesScannedCutoff per stage: 10 GiB. */
const ATHENA_CUTOFF: Record<string, number> = { dev: 10_737_418_240, prod: 10_737_418_240 };

/** How each registry column type must appear in Glue (Hive) and in an Athena view (Presto). */
const EXPECTED_HIVE_TYPE: Record<string, string> = {
  string: 'string',
  int: 'int',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
  'map<string,string>': 'map<string,string>',
};
const EXPECTED_PRESTO_TYPE: Record<string, string> = {
  string: 'varchar',
  int: 'integer',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
  'map<string,string>': 'map(varchar,varchar)',
};

// AWS X-Ray has no resource-level permissions: PutTraceSegments and PutTelemetryRecords only accept Resource "*".
const NEEDS_STAR_RESOURCE = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);

describe.each(['dev', 'prod'])('The packaged CloudFormation template for stage %s', (stage) => {
  let template: Template;

  beforeAll(async () => {
    template = await packageStage<Template>(stage);
  }, 180_000);

  it('has one data bucket, private, encrypted, versioned, TLS-only, with lifecycle rules per dataset prefix', () => {
    const bucket = one(template, 'DataBucket');
    const p = bucket.Properties ?? {};
    expect(p.BucketName).toBe(`logbase-${stage}-data-ap-northeast-1`);
    expect(p.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(
      p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256');
    expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const prefixes = p.LifecycleConfiguration.Rules.map((r: { Prefix?: string }) => r.Prefix).filter(Boolean);
    expect(prefixes).toEqual(
      expect.arrayContaining(['raw/', 'lake/', 'quarantine/', 'marts/', 'reports/', 'athena-results/']),
    );
    expect(bucket.DeletionPolicy).toBe('Retain');

    const policy = one(template, 'DataBucketPolicy').Properties?.PolicyDocument.Statement[0];
    expect(policy).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    // One bucket for all datasets; the only other one holds the framework's deployment artifacts.
    expect(
      ofType(template, 'AWS::S3::Bucket')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['DataBucket', 'ServerlessDeploymentBucket']);
    const artifacts = one(template, 'ServerlessDeploymentBucket').Properties ?? {};
    expect(artifacts.PublicAccessBlockConfiguration?.BlockPublicPolicy).toBe(true);
    expect(artifacts.BucketEncryption).toBeDefined();
  });

  it('has the "events" Firehose (DirectPut) writing gzip under raw/events/dt=/hour= with an error prefix', () => {
    const p = one(template, 'EventsDeliveryStream').Properties ?? {};
    expect(p.DeliveryStreamName).toBe(`logbase-${stage}-events`);
    expect(p.DeliveryStreamType).toBe('DirectPut');
    const d = p.ExtendedS3DestinationConfiguration;
    expect(d.Prefix).toBe('raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');
    expect(d.ErrorOutputPrefix).toMatch(/^raw\/errors\/events\/!\{firehose:error-output-type\}\//);
    expect(d.CompressionFormat).toBe('GZIP');
    expect(d.BucketARN).toEqual({ 'Fn::GetAtt': ['DataBucket', 'Arn'] });
  });

  it('has the Kinesis stream "clicks", encrypted, with its own Firehose to raw/clicks/', () => {
    const stream = one(template, 'ClicksStream').Properties ?? {};
    expect(stream.Name).toBe(`logbase-${stage}-clicks`);
    expect(stream.StreamEncryption.EncryptionType).toBe('KMS');
    const p = one(template, 'ClicksDeliveryStream').Properties ?? {};
    expect(p.DeliveryStreamType).toBe('KinesisStreamAsSource');
    expect(p.KinesisStreamSourceConfiguration.KinesisStreamARN).toEqual({
      'Fn::GetAtt': ['ClicksStream', 'Arn'],
    });
    expect(p.ExtendedS3DestinationConfiguration.Prefix).toBe(
      'raw/clicks/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
    );
    expect(p.ExtendedS3DestinationConfiguration.CompressionFormat).toBe('GZIP');
  });

  it('has the UserVectors, ArticleVectors and Recommendations tables, on-demand, with PITR and encryption', () => {
    const tables = ofType(template, 'AWS::DynamoDB::Table').map(([, r]) => r.Properties ?? {});
    expect(tables.map((t) => t.TableName).sort()).toEqual([
      `logbase-${stage}-ArticleVectors`,
      `logbase-${stage}-Recommendations`,
      `logbase-${stage}-UserVectors`,
    ]);
    for (const t of tables) {
      expect(t.BillingMode).toBe('PAY_PER_REQUEST');
      expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.SSESpecification).toEqual({ SSEEnabled: true });
      expect(t.DeletionProtectionEnabled).toBe(stage === 'prod');
    }
  });

  it('has the Glue database and an Athena work group that cancels any query scanning over 10 GiB, for every user', () => {
    expect(one(template, 'GlueDatabase').Properties?.DatabaseInput.Name).toBe(`logbase_${stage}`);
    const wg = one(template, 'AthenaWorkGroup').Properties ?? {};
    expect(wg.Name).toBe(`logbase-${stage}`);
    // Enforced: a client's own settings (output location, cutoff) cannot override the work group's.
    expect(wg.WorkGroupConfiguration.EnforceWorkGroupConfiguration).toBe(true);
    expect(wg.WorkGroupConfiguration.BytesScannedCutoffPerQuery).toBe(ATHENA_CUTOFF[stage]);
  });

  it('has a Glue table per registry type and version, with the registry columns as Hive types, partitioned by dt and hour', () => {
    const tables = glueTables(template).filter((t) => t.TableType === 'EXTERNAL_TABLE');
    expect(tables.map((t) => t.Name).sort()).toEqual(
      listSchemas()
        .map((s) => `${s.type}_v${s.version}_stored`)
        .sort(),
    );
    for (const s of listSchemas()) {
      const t = tables.find((x) => x.Name === `${s.type}_v${s.version}_stored`);
      expect(t?.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type])).toEqual(
        s.fields.map((f) => [f.name, EXPECTED_HIVE_TYPE[f.type]]),
      );
      expect(t?.PartitionKeys.map((c: any) => [c.Name, c.Type])).toEqual([
        ['dt', 'string'],
        ['hour', 'string'],
      ]);
      expect(t?.StorageDescriptor.Location).toEqual({
        'Fn::Sub': `s3://\${DataBucket}/lake/${s.type}/v${s.version}/`,
      });
      expect(t?.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      );
      expect(t?.StorageDescriptor.InputFormat).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      );
    }
    // Spot checks against the registry as a reader knows it.
    const click = tables.find((t) => t.Name === 'click_v1_stored')?.StorageDescriptor.Columns;
    expect(click).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Name: 'occurred_at', Type: 'timestamp' }),
        expect.objectContaining({ Name: 'position', Type: 'int' }),
      ]),
    );
    const action = tables.find((t) => t.Name === 'action_v1_stored')?.StorageDescriptor.Columns;
    expect(action).toEqual(
      expect.arrayContaining([expect.objectContaining({ Name: 'properties', Type: 'map<string,string>' })]),
    );
  });

  it('projects the dt and hour partitions of every lake table (no crawler, no partitions to add)', () => {
    for (const t of glueTables(template).filter((x) => x.TableType === 'EXTERNAL_TABLE')) {
      const [type, version] = String(t.Name)
        .replace(/_stored$/, '')
        .split(/_v(?=\d+$)/);
      expect(t.Parameters).toEqual(
        expect.objectContaining({
          classification: 'parquet',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2020-01-01,NOW+1DAYS',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          'storage.location.template': {
            'Fn::Sub': `s3://\${DataBucket}/lake/${type}/v${version}/dt=\${!dt}/hour=\${!hour}/`,
          },
        }),
      );
    }
  });

  it('has an Athena view per event type over its latest version, so SELECT ... FROM click works', () => {
    const views = glueTables(template).filter(
      (t) => t.TableType === 'VIRTUAL_VIEW' && !/_v\d+$/.test(String(t.Name)),
    );
    const latest = listSchemas().filter((s) => s.latest);
    expect(views.map((v) => v.Name).sort()).toEqual(latest.map((s) => s.type).sort());
    for (const s of latest) {
      const view = views.find((v) => v.Name === s.type);
      expect(view?.Parameters).toEqual({ presto_view: 'true', comment: 'Presto View' });
      expect(view?.ViewExpandedText).toBe('/* Presto View */');
      const encoded = /^\/\* Presto View: (\S+) \*\/$/.exec(view?.ViewOriginalText)?.[1];
      const definition = JSON.parse(Buffer.from(encoded ?? '', 'base64').toString('utf8'));
      expect(definition).toEqual({
        originalSql: `SELECT * FROM "logbase_${stage}"."${s.type}_v${s.version}"`,
        catalog: 'awsdatacatalog',
        schema: `logbase_${stage}`,
        columns: [
          ...s.fields.map((f) => ({ name: f.name, type: EXPECTED_PRESTO_TYPE[f.type] })),
          { name: 'dt', type: 'varchar' },
          { name: 'hour', type: 'varchar' },
        ],
      });
    }
  });

  it('serves POST /v1/events from the collect function on Node.js 22', () => {
    const fn = ofType(template, 'AWS::Lambda::Function').find(([id]) => id === 'CollectLambdaFunction')?.[1];
    expect(fn?.Properties?.Runtime).toBe('nodejs22.x');
    const routes = ofType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties?.RouteKey);
    expect(routes).toContain('POST /v1/events');
  });

  it('grants no IAM statement Action "*" or Resource "*", except X-Ray tracing which allows nothing narrower', () => {
    const statements = allowStatements(template);
    expect(statements.length).toBeGreaterThan(0);
    const offending = statements.filter((s) => {
      const actions = list(s.Action).map(String);
      if (actions.some((a) => a === '*' || a.endsWith(':*'))) return true;
      const starResource = list(s.Resource).some((r) => r === '*');
      return starResource && !actions.every((a) => NEEDS_STAR_RESOURCE.has(a));
    });
    expect(offending).toEqual([]);
  });

  it('gives the collect function exactly the actions it uses, each on its own resource', () => {
    const role = ofType(template, 'AWS::IAM::Role').find(([id]) => /^Collect/i.test(id))?.[1];
    const statements = (role?.Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .map((s: any) => [s.Effect, list(s.Action).sort(), s.Resource]);
    expect(statements).toEqual([
      [
        'Allow',
        ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/logbase-${stage}-collect:*:*`,
          },
        ],
      ],
      ['Allow', ['firehose:PutRecordBatch'], { 'Fn::GetAtt': ['EventsDeliveryStream', 'Arn'] }],
      ['Allow', ['kinesis:PutRecords'], { 'Fn::GetAtt': ['ClicksStream', 'Arn'] }],
      [
        'Allow',
        ['s3:PutObject'],
        {
          'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-${stage}-data-ap-northeast-1/quarantine/collect/*`,
        },
      ],
      [
        'Allow',
        ['ssm:GetParameter'],
        {
          'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/logbase/${stage}/api-keys`,
        },
      ],
      ['Allow', ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], '*'],
    ]);
  });

  /** Every action of a function's role, sorted, with the resources each statement names. */
  const roleStatements = (roleId: string) =>
    (one(template, roleId).Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .filter((s: any) => !list(s.Action).some((a) => String(a).startsWith('logs:')))
      .map((s: any) => ({ actions: list(s.Action).map(String).sort(), resources: list(s.Resource) }));

  it('gives update-user-vectors exactly the stream reads, the two tables and its failure queue', () => {
    const statements = roleStatements('UpdateUserVectorsIamRoleLambdaExecution');
    expect(statements.flatMap((s: any) => s.actions).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'kinesis:ListStreams',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const on = (action: string) => statements.find((s: any) => s.actions.includes(action))?.resources;
    const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
    expect(on('dynamodb:BatchGetItem')).toEqual([arn('UserVectorsTable'), arn('ArticleVectorsTable')]);
    expect(on('dynamodb:PutItem')).toEqual([arn('UserVectorsTable')]);
    expect(on('sqs:SendMessage')).toEqual([arn('UserVectorsFailuresQueue')]);
    for (const s of statements.filter((s: any) => s.actions.some((a: string) => a.startsWith('kinesis:')))) {
      expect(s.resources).toEqual([arn('ClicksStream')]);
    }
  });

  it('triggers update-user-vectors from the clicks stream with item failures, bisect, bounded retries and an SQS destination', () => {
    const [, mapping] = ofType(template, 'AWS::Lambda::EventSourceMapping').find(([id]) =>
      id.startsWith('UpdateUserVectors'),
    ) as [string, Resource];
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['ClicksStream', 'Arn'] },
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': ['UserVectorsFailuresQueue', 'Arn'] } },
      },
    });
    expect(one(template, 'UserVectorsFailuresQueue').Properties?.SqsManagedSseEnabled).toBe(true);
  });

  it('serves GET /v1/users/{id}/vector with only a read of UserVectors and the API keys', () => {
    const routes = ofType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties?.RouteKey);
    expect(routes).toContain('GET /v1/users/{id}/vector');
    const statements = roleStatements('GetUserVectorIamRoleLambdaExecution');
    expect(statements.flatMap((s: any) => s.actions).sort()).toEqual([
      'dynamodb:GetItem',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(statements.find((s: any) => s.actions.includes('dynamodb:GetItem'))?.resources).toEqual([
      { 'Fn::GetAtt': ['UserVectorsTable', 'Arn'] },
    ]);
  });

  it('gives vectorize-article exactly its writes to ArticleVectors, its reads of articles/ and its quarantine', () => {
    // Prepare
    const role = one(template, 'VectorizeArticleIamRoleLambdaExecution');
    const statements = (role.Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .filter((s: any) => !list(s.Action).some((a) => String(a).startsWith('logs:')));
    const grants = Object.fromEntries(
      statements.flatMap((s: any) => list(s.Action).map((a) => [String(a), JSON.stringify(s.Resource)])),
    );
    const s3 = (path: string) =>
      JSON.stringify({
        'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-${stage}-data-ap-northeast-1/${path}`,
      });

    // Assess
    expect(Object.keys(grants).sort()).toEqual([
      'dynamodb:BatchWriteItem',
      's3:GetObject',
      's3:PutObject',
      'sqs:SendMessage',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(grants['dynamodb:BatchWriteItem']).toBe(
      JSON.stringify({ 'Fn::GetAtt': ['ArticleVectorsTable', 'Arn'] }),
    );
    expect(grants['s3:GetObject']).toBe(s3('articles/*'));
    expect(grants['s3:PutObject']).toBe(s3('quarantine/articles/*'));
    expect(grants['sqs:SendMessage']).toBe(
      JSON.stringify({ 'Fn::GetAtt': ['ArticlesFailuresQueue', 'Arn'] }),
    );
    const routes = ofType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties?.RouteKey);
    expect(routes).toContain('POST /v1/articles');
  });

  // ---------------------------------------------------------------- formatParquet (issue 8)
  it('subscribes formatParquet to ObjectCreated under raw/events/ and raw/clicks/ only, not raw/errors/', () => {
    const [, subscription] = ofType(template, 'Custom::S3').find(
      ([, r]) => r.Properties?.FunctionName === `logbase-${stage}-formatParquet`,
    ) as [string, Resource];
    const configs = subscription.Properties?.BucketConfigs as {
      Event: string;
      Rules: { Prefix?: string }[];
    }[];
    expect(subscription.Properties?.BucketName).toBe(`logbase-${stage}-data-ap-northeast-1`);
    expect(configs.map((c) => [c.Event, c.Rules])).toEqual([
      ['s3:ObjectCreated:*', [{ Prefix: 'raw/events/' }]],
      ['s3:ObjectCreated:*', [{ Prefix: 'raw/clicks/' }]],
    ]);
    expect(subscription.DependsOn).toEqual(expect.arrayContaining(['DataBucket']));
  });

  it('runs formatParquet on arm64 with the DuckDB layer, and sends events that still fail after the retries to SQS', () => {
    const fn = one(template, 'FormatParquetLambdaFunction').Properties ?? {};
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.Layers).toEqual([{ Ref: 'DuckdbLambdaLayer' }]);
    const layer = one(template, 'DuckdbLambdaLayer').Properties ?? {};
    expect(layer.CompatibleArchitectures).toEqual(['arm64']);
    expect(layer.CompatibleRuntimes).toEqual(['nodejs22.x']);
    const invokeConfig = one(template, 'FormatParquetLambdaEvConf').Properties ?? {};
    expect(invokeConfig.DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': ['FormatFailuresQueue', 'Arn'] } },
    });
  });

  it('gives formatParquet exactly the reads, writes and deletes it makes, on its prefixes', () => {
    const role = one(template, 'FormatParquetIamRoleLambdaExecution');
    const statements = (role.Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .map((s: any) => ({ actions: list(s.Action).sort(), resource: JSON.stringify(s.Resource) }));
    const actions = statements.flatMap((s: { actions: unknown[] }) => s.actions).sort();
    expect(actions).toEqual([
      'logs:CreateLogGroup',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const on = (action: string) =>
      statements.find((s: { actions: string[] }) => s.actions.includes(action))?.resource ?? '';
    expect(on('s3:GetObject')).toMatch(
      /raw\/events\/\*.*raw\/clicks\/\*.*lake\/_manifests\/\*.*lake\/_compaction\/\*/,
    );
    expect(on('s3:GetObject')).not.toMatch(/raw\/\*|raw\/errors/);
    expect(on('s3:PutObject')).toMatch(/lake\/\*.*quarantine\/format\/\*/);
    expect(on('s3:DeleteObject')).toMatch(/data-ap-northeast-1\/lake\/\*"/);
    expect(on('sqs:SendMessage')).toBe(JSON.stringify({ 'Fn::GetAtt': ['FormatFailuresQueue', 'Arn'] }));
    const listing = (role.Properties?.Policies ?? [])
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .find((s: any) => list(s.Action).includes('s3:ListBucket'));
    expect(listing.Condition).toEqual({
      StringLike: { 's3:prefix': ['lake/_manifests/*', 'lake/_compaction/*'] },
    });
  });

  // ---------------------------------------------------------------- batch scoring
  /** Each batch function's role: action -> the resources it is granted on (logs excluded). */
  const grantsOf = (roleId: string) => {
    const grants: Record<string, unknown[]> = {};
    for (const s of roleStatements(roleId))
      for (const a of s.actions) grants[a] = [...(grants[a] ?? []), ...s.resources];
    return grants;
  };
  const data = (path: string) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-${stage}-data-ap-northeast-1${path}`,
  });
  const xray = { 'xray:PutTelemetryRecords': ['*'], 'xray:PutTraceSegments': ['*'] };

  it('gives each batch task exactly the actions it uses, on its own tables and prefixes', () => {
    const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
    // ArticleStats: the lake reads and the mart writes of engine duckdb, and the Athena query of engine athena.
    const sub = (arn: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:${arn}` });
    const glue = [
      'catalog',
      `database/logbase_${stage}`,
      `table/logbase_${stage}/impression*`,
      `table/logbase_${stage}/click*`,
    ].map((r) => sub(`glue:\${AWS::Region}:\${AWS::AccountId}:${r}`));
    const workGroup = sub(`athena:\${AWS::Region}:\${AWS::AccountId}:workgroup/logbase-${stage}`);
    expect(grantsOf('BatchArticleStatsIamRoleLambdaExecution')).toEqual({
      's3:ListBucket': [data('')],
      's3:GetObject': [data('/lake/impression/*'), data('/lake/click/*'), data('/athena-results/*')],
      's3:PutObject': [data('/marts/article_stats/*'), data('/batch/*'), data('/athena-results/*')],
      's3:AbortMultipartUpload': [data('/athena-results/*')],
      's3:ListMultipartUploadParts': [data('/athena-results/*')],
      's3:GetBucketLocation': [data('')],
      'athena:StartQueryExecution': [workGroup],
      'athena:GetQueryExecution': [workGroup],
      'athena:GetQueryResults': [workGroup],
      'glue:GetDatabase': glue,
      'glue:GetTable': glue,
      'glue:GetTables': glue,
      'glue:GetPartition': glue,
      'glue:GetPartitions': glue,
      ...xray,
    });
    const statsEnv =
      one(template, 'BatchArticleStatsLambdaFunction').Properties?.Environment?.Variables ?? {};
    expect([statsEnv.BATCH_STATS_ENGINE, statsEnv.ATHENA_WORK_GROUP, statsEnv.GLUE_DATABASE]).toEqual([
      stage === 'prod' ? 'athena' : 'duckdb',
      `logbase-${stage}`,
      `logbase_${stage}`,
    ]);
    expect(grantsOf('BatchShardUsersIamRoleLambdaExecution')).toEqual({
      'dynamodb:Scan': [arn('UserVectorsTable'), arn('ArticleVectorsTable')],
      's3:PutObject': [data('/batch/*')],
      ...xray,
    });
    expect(grantsOf('BatchScoreShardIamRoleLambdaExecution')).toEqual({
      'dynamodb:BatchGetItem': [arn('UserVectorsTable')],
      's3:GetObject': [data('/batch/*')],
      's3:PutObject': [data('/batch/*')],
      ...xray,
    });
    expect(grantsOf('BatchWriteRecommendationsIamRoleLambdaExecution')).toEqual({
      's3:GetObject': [data('/batch/*')],
      'dynamodb:BatchWriteItem': [arn('RecommendationsTable')],
      ...xray,
    });
    expect(grantsOf('BatchSummarizeIamRoleLambdaExecution')).toEqual({
      's3:PutObject': [data('/batch/*')],
      ...xray,
    });
    expect(grantsOf('BatchNotifyFailureIamRoleLambdaExecution')).toEqual({
      'sns:Publish': [{ Ref: 'BatchFailuresTopic' }],
      ...xray,
    });
    expect(Object.keys(grantsOf('GetRecommendationsIamRoleLambdaExecution')).sort()).toEqual([
      'dynamodb:GetItem',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(grantsOf('GetRecommendationsIamRoleLambdaExecution')['dynamodb:GetItem']).toEqual([
      arn('RecommendationsTable'),
    ]);
    const routes = ofType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties?.RouteKey);
    expect(routes).toContain('GET /v1/users/{id}/recommendations');
  });

  it('defines the batch-scoring state machine from its ASL file, scheduled daily, every Task with Retry and Catch', () => {
    const [, machine] = ofType(template, 'AWS::StepFunctions::StateMachine')[0] as [string, Resource];
    expect(machine.Properties?.StateMachineName).toBe(`logbase-${stage}-batch-scoring`);
    const definition = machine.Properties?.DefinitionString as { 'Fn::Sub': [string, Record<string, any>] };
    const [asl, refs] = definition['Fn::Sub'];
    const tasks: Record<string, any> = {};
    const walk = (states: Record<string, any>) => {
      for (const [name, state] of Object.entries(states)) {
        if (state.Type === 'Task') tasks[name] = state;
        if (state.ItemProcessor) walk(state.ItemProcessor.States);
      }
    };
    walk(JSON.parse(asl).States);
    const target = (state: any) => refs[String(state.Resource).slice(2, -1)]?.['Fn::GetAtt']?.[0];
    expect(Object.fromEntries(Object.entries(tasks).map(([name, state]) => [name, target(state)]))).toEqual({
      ArticleStats: 'BatchArticleStatsLambdaFunction',
      ShardUsers: 'BatchShardUsersLambdaFunction',
      ScoreShard: 'BatchScoreShardLambdaFunction',
      WriteRecommendations: 'BatchWriteRecommendationsLambdaFunction',
      PublishReport: 'BatchPublishReportLambdaFunction',
      PushCandidates: 'BatchPushCandidatesLambdaFunction',
      Summarize: 'BatchSummarizeLambdaFunction',
      NotifyFailure: 'BatchNotifyFailureLambdaFunction',
    });
    for (const state of Object.values(tasks)) {
      expect(state.Retry.at(-1)).toMatchObject({
        ErrorEquals: ['States.ALL'],
        BackoffRate: 2,
        MaxAttempts: 2,
      });
      expect(state.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'] })]);
    }
    // The batch chain's rule (compact-lake's hourly one is asserted in compact.test.ts).
    const rules = ofType(template, 'AWS::Events::Rule')
      .map(([, r]) => r.Properties)
      .filter((p) => !JSON.stringify(p?.Targets).includes('CompactLakeLambdaFunction'));
    expect(rules).toEqual([
      expect.objectContaining({ ScheduleExpression: 'cron(30 0 * * ? *)', State: 'ENABLED' }),
    ]);
    expect(one(template, 'BatchFailuresTopic').Properties?.TopicName).toBe(`logbase-${stage}-batch-failures`);
  });
});
