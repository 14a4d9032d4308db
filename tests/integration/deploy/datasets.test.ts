import { resolve } from 'node:path';
import { BUCKET_WIDE_RULE_ID, S3_DATASETS, TABLE_DATASETS } from '../../../catalog/datasets';
import { type Catalog, deriveCatalog } from '../../../cli/datasets/derive';
import { loadServiceConfig } from '../../../local/service-config';
import { packageStage } from '../../helpers/package';

/**
 * The datasets' retention and the analysts' access in what `sls deploy --stage dev` would send to
 * CloudFormation (the template `sls package` writes, offline).
 */
const ROOT = resolve(__dirname, '../../..');

type Resource = { Type: string; Properties?: Record<string, any> };
type Template = { Resources: Record<string, Resource>; Outputs: Record<string, { Value: unknown }> };

let template: Template;
let catalog: Catalog;

beforeAll(async () => {
  [template, catalog] = await Promise.all([
    packageStage<Template>('dev'),
    loadServiceConfig({ serviceDir: ROOT, stage: 'dev' }).then((config) => deriveCatalog(config)),
  ]);
}, 180_000);

const rules = (): { Id: string; Prefix?: string; [k: string]: unknown }[] =>
  template.Resources.DataBucket?.Properties?.LifecycleConfiguration.Rules;

describe('The datasets in the packaged template (dev)', () => {
  it('gives every declared dataset with a retention its lifecycle rule, over its prefix', () => {
    // Prepare
    const withRetention = catalog.datasets.filter(
      (d) => d.kind === 's3' && S3_DATASETS.find((x) => x.id === d.family)?.retention !== undefined,
    );
    // Act
    const missing = withRetention.filter((d) => {
      const rule = rules().find((r) => r.Id === d.family);
      return rule === undefined || !d.prefix?.startsWith(String(rule.Prefix));
    });
    // Assess
    expect(withRetention.length).toBeGreaterThan(15);
    expect(missing.map((d) => d.name)).toEqual([]);
  });

  it('leaves no lifecycle rule without a declared dataset, except the bucket-wide one for unfinished uploads', () => {
    // Prepare
    const declared = S3_DATASETS.map((d) => [d.id, d.prefix]);
    // Act
    const orphans = rules().filter(
      (r) => !declared.some(([id, prefix]) => id === r.Id && prefix === r.Prefix),
    );
    // Assess
    expect(orphans).toEqual([
      {
        Id: BUCKET_WIDE_RULE_ID,
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ]);
  });

  it("keeps each prefix's retention figures: raw 400 days, quarantine 90, Athena results 7, the lake kept", () => {
    // Act
    const figures = rules().map((r) => [
      r.Id,
      r.Prefix,
      r.ExpirationInDays,
      r.Transitions,
      r.NoncurrentVersionExpiration,
    ]);
    // Assess
    const old30 = { NoncurrentDays: 30 };
    const old1 = { NoncurrentDays: 1 };
    expect(figures).toEqual([
      ['raw', 'raw/', 400, [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }], old30],
      ['lake', 'lake/', undefined, [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 0 }], old30],
      ['lake-manifests', 'lake/_manifests/', 400, undefined, old30],
      ['lake-compaction', 'lake/_compaction/', undefined, undefined, old30],
      ['quarantine', 'quarantine/', 90, undefined, old1],
      ['marts', 'marts/', undefined, undefined, old30],
      ['reports', 'reports/', undefined, undefined, old30],
      ['batch', 'batch/', 30, undefined, old1],
      ['ops-runs', 'ops/runs/', undefined, undefined, old30],
      ['articles', 'articles/', 90, undefined, old1],
      ['athena-results', 'athena-results/', 7, undefined, old1],
      [BUCKET_WIDE_RULE_ID, undefined, undefined, undefined, undefined],
    ]);
  });

  it('declares every table, and gives a TTL to exactly the tables whose retention is one', () => {
    // Prepare
    const tables = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
    // Act
    const ttls = Object.fromEntries(tables.map(([id, r]) => [id, r.Properties?.TimeToLiveSpecification]));
    // Assess
    expect(tables.map(([id]) => id).sort()).toEqual(TABLE_DATASETS.map((d) => d.logicalId).sort());
    const expected = Object.fromEntries(
      TABLE_DATASETS.map((d) => [
        d.logicalId,
        d.retention && 'ttlAttribute' in d.retention
          ? { AttributeName: d.retention.ttlAttribute, Enabled: true }
          : undefined,
      ]),
    );
    expect(ttls).toEqual(expected);
    expect(ttls.RecommendationsTable).toEqual({ AttributeName: 'expires_at', Enabled: true });
  });
});

describe("The analysts' managed policy (dev)", () => {
  it('allows queries in the work group, the catalog read-only and S3 read on lake/, marts/ and reports/ only', () => {
    // Prepare
    const policy = template.Resources.AnalystsPolicy;
    // Act
    const statements = policy?.Properties?.PolicyDocument.Statement;
    // Assess
    expect(policy?.Type).toBe('AWS::IAM::ManagedPolicy');
    expect(statements).toEqual([
      {
        Sid: 'QueryInTheWorkGroup',
        Effect: 'Allow',
        Action: [
          'athena:StartQueryExecution',
          'athena:StopQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:ListQueryExecutions',
          'athena:BatchGetQueryExecution',
          'athena:GetWorkGroup',
        ],
        Resource: {
          'Fn::Sub':
            'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AthenaWorkGroup}',
        },
      },
      {
        Sid: 'ReadTheCatalog',
        Effect: 'Allow',
        Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
        Resource: [
          { 'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog' },
          {
            'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${GlueDatabase}',
          },
          {
            'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${GlueDatabase}/*',
          },
        ],
      },
      {
        Sid: 'ListTheReadablePrefixes',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': ['DataBucket', 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['lake/*', 'marts/*', 'reports/*', 'athena-results/*'] } },
      },
      {
        Sid: 'LocateTheBucket',
        Effect: 'Allow',
        Action: 's3:GetBucketLocation',
        Resource: { 'Fn::GetAtt': ['DataBucket', 'Arn'] },
      },
      {
        Sid: 'ReadTheLakeMartsAndReports',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [
          { 'Fn::Sub': '${DataBucket.Arn}/lake/*' },
          { 'Fn::Sub': '${DataBucket.Arn}/marts/*' },
          { 'Fn::Sub': '${DataBucket.Arn}/reports/*' },
        ],
      },
      {
        Sid: 'QueryResults',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: { 'Fn::Sub': '${DataBucket.Arn}/athena-results/*' },
      },
    ]);
    expect(JSON.stringify(statements)).not.toMatch(/raw\/|quarantine\/|athena:UpdateWorkGroup/);
  });

  it("puts the work group's scan cutoff in force for every query the policy allows", () => {
    // Act
    const config = template.Resources.AthenaWorkGroup?.Properties?.WorkGroupConfiguration;
    // Assess
    expect([config?.EnforceWorkGroupConfiguration, config?.BytesScannedCutoffPerQuery]).toEqual([
      true,
      10_737_418_240,
    ]);
  });

  it("outputs the policy's ARN, to attach to the analysts' role or group", () => {
    // Assess
    expect(template.Outputs.AnalystsPolicyArn?.Value).toEqual({ Ref: 'AnalystsPolicy' });
  });
});
