import { listSchemas } from '../../../lib/schemas';
import { packageStage } from '../../helpers/package';

/**
 * Compaction as `sls package --stage dev` builds it: the hourly compact-lake function, its schedule and its
 * exact grants, and the Glue views every Athena query reads through (each event once, over *_stored).
 */

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string[] };
type Template = { Resources: Record<string, Resource> };

let template: Template;

beforeAll(async () => {
  template = await packageStage<Template>('dev');
}, 180_000);

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const data = (path: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:s3:::logbase-dev-data-ap-northeast-1${path}`,
});

describe('compaction in the packaged template for stage dev', () => {
  it('gives compact-lake exactly the S3 actions it uses, on the lake and its run records only', () => {
    // Prepare
    const role = template.Resources.CompactLakeIamRoleLambdaExecution;
    // Act
    const grants: Record<string, unknown[]> = {};
    const conditions: unknown[] = [];
    for (const s of (role?.Properties?.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement)) {
      if (list(s.Action).some((a) => String(a).startsWith('logs:'))) continue;
      for (const a of list(s.Action).map(String)) grants[a] = [...(grants[a] ?? []), ...list(s.Resource)];
      if (s.Condition) conditions.push(s.Condition);
    }
    // Assess
    expect(grants).toEqual({
      's3:ListBucket': [data('')],
      's3:GetObject': [data('/lake/*')],
      's3:PutObject': [data('/lake/*'), data('/ops/runs/compact/*')],
      's3:DeleteObject': [data('/lake/*')],
      'xray:PutTelemetryRecords': ['*'],
      'xray:PutTraceSegments': ['*'],
    });
    expect(conditions).toEqual([{ StringLike: { 's3:prefix': 'lake/*' } }]);
  });

  it('runs compact-lake every hour from an enabled EventBridge schedule, with the DuckDB layer and 10 GiB of /tmp', () => {
    // Prepare
    const fn = template.Resources.CompactLakeLambdaFunction?.Properties ?? {};
    // Act
    const rules = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Events::Rule')
      .map((r) => r.Properties ?? {})
      .filter((p) => JSON.stringify(p.Targets).includes('CompactLakeLambdaFunction'));
    // Assess
    expect(rules).toEqual([
      expect.objectContaining({ ScheduleExpression: 'rate(1 hour)', State: 'ENABLED' }),
    ]);
    expect(fn.Layers).toEqual([{ Ref: 'DuckdbLambdaLayer' }]);
    expect(fn.EphemeralStorage).toEqual({ Size: 10240 });
    expect(fn.Environment.Variables).toEqual(
      expect.objectContaining({ COMPACT_TARGET_BYTES: '134217728', COMPACT_GRACE_MINUTES: '60' }),
    );
  });

  it('has a view per table version that reads each event once over the stored table, and the type view over it', () => {
    // Prepare
    const tables = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Glue::Table')
      .map((r) => r.Properties?.TableInput);
    const sqlOf = (name: string) => {
      const text = tables.find((t) => t.Name === name)?.ViewOriginalText ?? '';
      const encoded = /^\/\* Presto View: (\S+) \*\/$/.exec(text)?.[1] ?? '';
      return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')).originalSql as string;
    };
    // Act
    const click = sqlOf('click_v1');
    // Assess
    for (const s of listSchemas()) {
      const name = `${s.type}_v${s.version}`;
      expect(tables.find((t) => t.Name === name)?.TableType).toBe('VIRTUAL_VIEW');
      expect(sqlOf(name)).toContain(`FROM "logbase_dev"."${name}_stored" t`);
    }
    expect(click).toContain(
      'row_number() OVER (PARTITION BY dt, hour, event_id ORDER BY received_at, request_id, ' +
        `regexp_like("$path", 'compacted-[0-9a-f]{16}-[0-9]+\\.parquet'), "$path")`,
    );
    expect(click).toMatch(/WHERE lb_copy = 1$/);
    expect(sqlOf('click')).toBe('SELECT * FROM "logbase_dev"."click_v1"');
  });
});
