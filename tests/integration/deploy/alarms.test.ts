import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { packageStage } from '../../helpers/package';

/**
 * The stage's alarms, their SNS topic and its dashboard, in the template `sls package` writes (offline,
 * no AWS credentials). The expectations are written here, apart from health/alarms.ts that generates them.
 */
const ROOT = resolve(__dirname, '../../..');

type Resource = { Type: string; Properties?: Record<string, any> };
type Template = { Resources: Record<string, Resource> };

/** serverless.yml's params for a stage: the defaults with the stage's own on top. */
async function stageParams(stage: string): Promise<Record<string, any>> {
  const yml = parse(await readFile(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'error' }) as {
    params: Record<string, any>;
  };
  return { ...yml.params.default, ...(yml.params[stage] ?? {}) };
}

/** A CloudFormation value as it reads inside a Fn::Sub string (how the dashboard body names it). */
function asSub(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref) return `\${${v.Ref}}`;
  if (v['Fn::GetAtt']) return `\${${v['Fn::GetAtt'].join('.')}}`;
  if (v['Fn::Sub']) return v['Fn::Sub'];
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}

type Metric = { namespace: string; name: string; dimensions: Record<string, string>; stat: string };
type Expected = {
  name: string;
  metrics: (stage: string) => Metric[];
  threshold: (p: Record<string, any>) => number;
  comparison: string;
  period: number;
  missing: string;
  expression?: boolean;
};

const EVENT_TYPES = ['click', 'impression', 'ad_impression', 'action'];
const fn = (stage: string, key: string) => ({ FunctionName: `logbase-${stage}-${key}` });
const stateMachineArn = (stage: string) => ({
  StateMachineArn: `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:logbase-${stage}-batch-scoring`,
});
// The functions' own metrics: POWERTOOLS_METRICS_NAMESPACE, with Powertools' service dimension.
const own = (stage: string, name: string, extra: Record<string, string> = {}): Metric => ({
  namespace: `logbase/${stage}`,
  name,
  dimensions: { service: 'logbase', ...extra },
  stat: 'Sum',
});

const EXPECTED: Expected[] = [
  ...(['events', 'clicks'] as const).map((s) => ({
    name: `firehose-${s}-freshness`,
    metrics: () => [
      {
        namespace: 'AWS/Firehose',
        name: 'DeliveryToS3.DataFreshness',
        dimensions: { DeliveryStreamName: `\${${s === 'events' ? 'Events' : 'Clicks'}DeliveryStream}` },
        stat: 'Maximum',
      },
    ],
    threshold: (p: Record<string, any>) => p.alarmFirehoseFreshnessSeconds,
    comparison: 'GreaterThanThreshold',
    period: 300,
    missing: 'notBreaching',
  })),
  {
    name: 'format-errors',
    metrics: (stage) => [
      { namespace: 'AWS/Lambda', name: 'Errors', dimensions: fn(stage, 'formatParquet'), stat: 'Sum' },
    ],
    threshold: (p) => p.alarmFormatErrors,
    comparison: 'GreaterThanOrEqualToThreshold',
    period: 300,
    missing: 'notBreaching',
  },
  {
    name: 'format-failures-queue',
    metrics: () => [
      {
        namespace: 'AWS/SQS',
        name: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: `\${FormatFailuresQueue.QueueName}` },
        stat: 'Maximum',
      },
    ],
    threshold: (p) => p.alarmFormatFailuresVisible,
    comparison: 'GreaterThanOrEqualToThreshold',
    period: 300,
    missing: 'notBreaching',
  },
  {
    name: 'user-vectors-iterator-age',
    metrics: (stage) => [
      {
        namespace: 'AWS/Lambda',
        name: 'IteratorAge',
        dimensions: fn(stage, 'updateUserVectors'),
        stat: 'Maximum',
      },
    ],
    threshold: (p) => p.alarmIteratorAgeSeconds * 1000,
    comparison: 'GreaterThanThreshold',
    period: 300,
    missing: 'notBreaching',
  },
  {
    name: 'collect-quarantine-rate',
    metrics: (stage) => [
      ...EVENT_TYPES.map((t) => own(stage, 'Accepted', { event_type: t })),
      ...[...EVENT_TYPES, 'unknown'].map((t) => own(stage, 'Rejected', { event_type: t })),
    ],
    threshold: (p) => p.alarmQuarantineRate,
    comparison: 'GreaterThanThreshold',
    period: 3600,
    missing: 'notBreaching',
    expression: true,
  },
  {
    name: 'format-quarantine-rate',
    metrics: (stage) => [own(stage, 'LinesRead'), own(stage, 'LinesQuarantined')],
    threshold: (p) => p.alarmQuarantineRate,
    comparison: 'GreaterThanThreshold',
    period: 3600,
    missing: 'notBreaching',
    expression: true,
  },
  {
    name: 'articles-quarantine-rate',
    metrics: (stage) => [own(stage, 'ArticlesWritten'), own(stage, 'ArticlesRejected')],
    threshold: (p) => p.alarmQuarantineRate,
    comparison: 'GreaterThanThreshold',
    period: 3600,
    missing: 'notBreaching',
    expression: true,
  },
  {
    name: 'batch-failed',
    metrics: (stage) => [
      { namespace: 'AWS/States', name: 'ExecutionsFailed', dimensions: stateMachineArn(stage), stat: 'Sum' },
    ],
    threshold: () => 1,
    comparison: 'GreaterThanOrEqualToThreshold',
    period: 3600,
    missing: 'notBreaching',
  },
  {
    name: 'batch-missed',
    metrics: (stage) => [
      {
        namespace: 'AWS/States',
        name: 'ExecutionsSucceeded',
        dimensions: stateMachineArn(stage),
        stat: 'Sum',
      },
    ],
    threshold: () => 1,
    comparison: 'LessThanThreshold',
    period: 86400,
    missing: 'breaching',
  },
  {
    name: 'http-5xx-rate',
    metrics: () => [
      { namespace: 'AWS/ApiGateway', name: '5xx', dimensions: { ApiId: `\${HttpApi}` }, stat: 'Sum' },
      { namespace: 'AWS/ApiGateway', name: 'Count', dimensions: { ApiId: `\${HttpApi}` }, stat: 'Sum' },
    ],
    threshold: (p) => p.alarmHttp5xxRate,
    comparison: 'GreaterThanThreshold',
    period: 300,
    missing: 'notBreaching',
    expression: true,
  },
  {
    name: 'http-p99-latency',
    metrics: () => [
      { namespace: 'AWS/ApiGateway', name: 'Latency', dimensions: { ApiId: `\${HttpApi}` }, stat: 'p99' },
    ],
    threshold: (p) => p.alarmHttpP99LatencyMs,
    comparison: 'GreaterThanThreshold',
    period: 300,
    missing: 'notBreaching',
  },
];

/** An alarm's MetricStat queries in the test's shape. */
const alarmMetrics = (alarm: Resource): Metric[] =>
  ((alarm.Properties as Record<string, any>).Metrics as any[])
    .filter((m) => m.MetricStat)
    .map((m) => ({
      namespace: m.MetricStat.Metric.Namespace,
      name: m.MetricStat.Metric.MetricName,
      dimensions: Object.fromEntries(
        (m.MetricStat.Metric.Dimensions as { Name: string; Value: unknown }[]).map((d) => [
          d.Name,
          asSub(d.Value),
        ]),
      ),
      stat: m.MetricStat.Stat,
    }));

describe.each(['dev', 'prod'])('The alarms and dashboard of stage %s', (stage) => {
  let template: Template;
  let params: Record<string, any>;
  const alarms = () =>
    new Map(
      Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
        .map((r) => [r.Properties?.AlarmName as string, r]),
    );

  beforeAll(async () => {
    [template, params] = await Promise.all([packageStage<Template>(stage), stageParams(stage)]);
  }, 180_000);

  it('has exactly the expected alarms, named with the stage prefix', () => {
    // Assess
    expect([...alarms().keys()].sort()).toEqual(EXPECTED.map((e) => `logbase-${stage}-${e.name}`).sort());
  });

  it.each(EXPECTED.map((e) => [e.name, e] as const))(
    'alarm %s watches its metrics with the threshold of the params',
    (_, e) => {
      // Prepare
      const alarm = alarms().get(`logbase-${stage}-${e.name}`) as Resource;
      const p = alarm.Properties as Record<string, any>;

      // Assess
      expect(alarmMetrics(alarm)).toEqual(e.metrics(stage));
      expect(p.Threshold).toBe(e.threshold(params));
      expect(p.ComparisonOperator).toBe(e.comparison);
      expect(p.TreatMissingData).toBe(e.missing);
      expect((p.Metrics as any[]).every((m) => !m.MetricStat || m.MetricStat.Period === e.period)).toBe(true);
      // One query is what the alarm watches: the expression over the metrics, or the one metric.
      const watched = (p.Metrics as any[]).filter((m) => m.ReturnData);
      expect(watched).toHaveLength(1);
      if (e.expression) {
        for (const m of (p.Metrics as any[]).filter((x) => x.MetricStat))
          expect(watched[0].Expression).toContain(m.Id);
      } else expect(watched[0].MetricStat).toBeDefined();
      // Metric math alarms read at most 10 metrics.
      expect((p.Metrics as any[]).filter((m) => m.MetricStat).length).toBeLessThanOrEqual(10);
      expect(p.AlarmActions).toEqual([{ Ref: 'AlarmsTopic' }]);
      expect(p.OKActions).toEqual([{ Ref: 'AlarmsTopic' }]);
    },
  );

  it("reads the functions' own metrics in the namespace and service the functions publish to", () => {
    // Prepare
    const collect = template.Resources.CollectLambdaFunction?.Properties?.Environment.Variables;
    const own = [...alarms().values()].flatMap(alarmMetrics).filter((m) => !m.namespace.startsWith('AWS/'));

    // Assess
    expect(own.length).toBeGreaterThan(0);
    for (const m of own) {
      expect(m.namespace).toBe(collect.POWERTOOLS_METRICS_NAMESPACE);
      expect(m.dimensions.service).toBe(collect.POWERTOOLS_SERVICE_NAME);
    }
  });

  it('sends to the stage topic logbase-<stage>-alarms', () => {
    // Assess
    expect(template.Resources.AlarmsTopic).toEqual({
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `logbase-${stage}-alarms` },
    });
  });

  it("has a dashboard whose widgets graph every alarm's metrics and list every alarm", () => {
    // Prepare
    const dashboard = Object.values(template.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.parse(dashboard?.Properties?.DashboardBody['Fn::Sub']) as { widgets: any[] };
    const graphs = body.widgets.filter((w) => w.type === 'metric');
    const graphed = graphs.map((w) => ({
      metrics: (w.properties.metrics as any[])
        .filter((m) => typeof m[0] === 'string')
        .map((m) => {
          const options = m.at(-1);
          const dims = m.slice(2, -1) as string[];
          return {
            namespace: m[0],
            name: m[1],
            dimensions: Object.fromEntries(dims.flatMap((d, i) => (i % 2 === 0 ? [[d, dims[i + 1]]] : []))),
            stat: options.stat,
          };
        }),
      expression: (w.properties.metrics as any[]).find((m) => m[0]?.expression)?.[0]?.expression,
      threshold: w.properties.annotations?.horizontal?.[0]?.value,
    }));

    // Assess
    expect(dashboard?.Properties?.DashboardName).toBe(`logbase-${stage}`);
    for (const [name, alarm] of alarms()) {
      const watched = ((alarm.Properties as Record<string, any>).Metrics as any[]).find((m) => m.ReturnData);
      expect({
        name,
        graph: graphed.find((g) => JSON.stringify(g.metrics) === JSON.stringify(alarmMetrics(alarm))),
      }).toEqual({
        name,
        graph: {
          metrics: alarmMetrics(alarm),
          expression: watched.Expression,
          threshold: alarm.Properties?.Threshold,
        },
      });
    }
    const listed = body.widgets.find((w) => w.type === 'alarm').properties.alarms as string[];
    expect(listed.map((arn) => arn.split(':alarm:')[1]).sort()).toEqual([...alarms().keys()].sort());
  });
});
