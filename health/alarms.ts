import { EVENT_TYPES } from '../lib/schemas/registry';

/**
 * The stage's alarms and its CloudWatch dashboard, generated from one list of figures when
 * serverless.yml is resolved (health/serverless.cjs), so every alarm and its dashboard widget
 * read the same metrics. `logbase status --stage` reads the alarms back by their name prefix.
 */

/** A CloudFormation value: a literal, a resource's Ref / GetAtt (`Name.Attribute`), or a `Fn::Sub` string. */
export type Value = string | { ref: string } | { getAtt: string } | { sub: string };

export interface MetricRef {
  /** The query id the expression names (lowercase first letter). */
  id: string;
  namespace: string;
  name: string;
  dimensions: Record<string, Value>;
  stat: string;
  label?: string;
}

export interface Figure {
  /** The alarm's name is `<service>-<stage>-<key>`. */
  key: string;
  title: string;
  description: string;
  metrics: MetricRef[];
  /** When set, the alarm watches this expression over `metrics` (metric math); else the one metric. */
  expression?: { expression: string; label: string };
  period: number;
  evaluationPeriods: number;
  comparison:
    | 'GreaterThanThreshold'
    | 'GreaterThanOrEqualToThreshold'
    | 'LessThanThreshold'
    | 'LessThanOrEqualToThreshold';
  threshold: number;
  /** How the figure is shown (the threshold is in the same unit). */
  unit: 'seconds' | 'milliseconds' | 'count' | 'ratio';
  treatMissingData: 'breaching' | 'notBreaching' | 'missing' | 'ignore';
  /** Where the alarm's actions are disabled (the batch schedule is off): still evaluated, no notice. */
  actionsEnabled?: boolean;
}

/** The thresholds, `params.alarm*` of serverless.yml (per stage). */
export interface AlarmParams {
  firehoseFreshnessSeconds: number;
  formatErrors: number;
  formatFailuresVisible: number;
  iteratorAgeSeconds: number;
  quarantineRate: number;
  http5xxRate: number;
  httpP99LatencyMs: number;
  batchScheduleEnabled: boolean;
}

/** The param of serverless.yml each threshold comes from. */
export const ALARM_PARAMS: Record<Exclude<keyof AlarmParams, 'batchScheduleEnabled'>, string> = {
  firehoseFreshnessSeconds: 'alarmFirehoseFreshnessSeconds',
  formatErrors: 'alarmFormatErrors',
  formatFailuresVisible: 'alarmFormatFailuresVisible',
  iteratorAgeSeconds: 'alarmIteratorAgeSeconds',
  quarantineRate: 'alarmQuarantineRate',
  http5xxRate: 'alarmHttp5xxRate',
  httpP99LatencyMs: 'alarmHttpP99LatencyMs',
};

export interface StageNames {
  service: string;
  stage: string;
}

/** What the template names beyond the stage: the batch state machine (custom.names.batchScoringStateMachine). */
export interface HealthNames extends StageNames {
  batchStateMachine: string;
}

/** The prefix of every alarm of a stage (what `logbase status --stage` asks DescribeAlarms for). */
export const alarmPrefix = ({ service, stage }: StageNames) => `${service}-${stage}-`;

/** The namespace the functions' Powertools metrics go to (provider.environment.POWERTOOLS_METRICS_NAMESPACE). */
export const metricsNamespace = ({ service, stage }: StageNames) => `${service}/${stage}`;

/** A function's name as the framework names it. */
const functionName = ({ service, stage }: StageNames, key: string) => `${service}-${stage}-${key}`;

/** Powertools adds the service as a dimension to every metric (POWERTOOLS_SERVICE_NAME = the service). */
function powertools(
  names: StageNames,
  id: string,
  name: string,
  extra: Record<string, string> = {},
): MetricRef {
  return {
    id,
    namespace: metricsNamespace(names),
    name,
    dimensions: { service: names.service, ...extra },
    stat: 'Sum',
  };
}

/** `a + b + ...` with each term's missing points as 0, so one quiet series does not blank the sum. */
const sum = (ids: readonly string[]) => ids.map((id) => `FILL(${id}, 0)`).join(' + ');

/** The quarantine rate of a stage: quarantined / (kept + quarantined), by metric math. */
function quarantineFigure(
  key: string,
  title: string,
  kept: MetricRef[],
  quarantined: MetricRef[],
  params: AlarmParams,
  total = false,
): Figure {
  const q = sum(quarantined.map((m) => m.id));
  const all = total ? sum(kept.map((m) => m.id)) : `${sum(kept.map((m) => m.id))} + ${q}`;
  return {
    key,
    title,
    description: `${title} over the last hour above ${params.quarantineRate} (params.alarmQuarantineRate)`,
    metrics: [...kept, ...quarantined],
    expression: { expression: `(${q}) / (${all})`, label: 'quarantined share' },
    period: 3600,
    evaluationPeriods: 1,
    comparison: 'GreaterThanThreshold',
    threshold: params.quarantineRate,
    unit: 'ratio',
    treatMissingData: 'notBreaching',
  };
}

/** Every figure of a stage, in dashboard order. */
export function healthFigures(names: HealthNames, params: AlarmParams): Figure[] {
  const formatter = functionName(names, 'formatParquet');
  const vectors = functionName(names, 'updateUserVectors');
  // Named, not referenced: serverless-step-functions derives the state machine's logical id from its name.
  const stateMachine = {
    sub: `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${names.batchStateMachine}`,
  };
  const api = { ref: 'HttpApi' };
  const freshness = (key: string, title: string, stream: string): Figure => ({
    key,
    title,
    description: `the oldest record in ${title} older than ${params.firehoseFreshnessSeconds} s (params.alarmFirehoseFreshnessSeconds)`,
    metrics: [
      {
        id: 'freshness',
        namespace: 'AWS/Firehose',
        name: 'DeliveryToS3.DataFreshness',
        dimensions: { DeliveryStreamName: { ref: stream } },
        stat: 'Maximum',
      },
    ],
    period: 300,
    evaluationPeriods: 1,
    comparison: 'GreaterThanThreshold',
    threshold: params.firehoseFreshnessSeconds,
    unit: 'seconds',
    treatMissingData: 'notBreaching',
  });
  return [
    freshness('firehose-events-freshness', 'Firehose "events" delivery to S3', 'EventsDeliveryStream'),
    freshness('firehose-clicks-freshness', 'Firehose "clicks" delivery to S3', 'ClicksDeliveryStream'),
    {
      key: 'format-errors',
      title: 'formatParquet errors',
      description: `formatParquet invocations that failed (each retry counts) reached ${params.formatErrors} in 5 minutes (params.alarmFormatErrors)`,
      metrics: [
        {
          id: 'errors',
          namespace: 'AWS/Lambda',
          name: 'Errors',
          dimensions: { FunctionName: formatter },
          stat: 'Sum',
        },
      ],
      period: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: params.formatErrors,
      unit: 'count',
      treatMissingData: 'notBreaching',
    },
    {
      key: 'format-failures-queue',
      title: 'format-failures queue depth',
      description: `raw objects the formatter gave up on after its retries waiting on the format-failures queue: ${params.formatFailuresVisible} or more (params.alarmFormatFailuresVisible)`,
      metrics: [
        {
          id: 'visible',
          namespace: 'AWS/SQS',
          name: 'ApproximateNumberOfMessagesVisible',
          dimensions: { QueueName: { getAtt: 'FormatFailuresQueue.QueueName' } },
          stat: 'Maximum',
        },
      ],
      period: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: params.formatFailuresVisible,
      unit: 'count',
      treatMissingData: 'notBreaching',
    },
    {
      key: 'user-vectors-iterator-age',
      title: 'update-user-vectors iterator age',
      description: `the clicks update-user-vectors reads are more than ${params.iteratorAgeSeconds} s old (params.alarmIteratorAgeSeconds)`,
      metrics: [
        {
          id: 'age',
          namespace: 'AWS/Lambda',
          name: 'IteratorAge',
          dimensions: { FunctionName: vectors },
          stat: 'Maximum',
        },
      ],
      period: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: params.iteratorAgeSeconds * 1000,
      unit: 'milliseconds',
      treatMissingData: 'notBreaching',
    },
    // Collect counts Accepted and Rejected per event_type (a type outside the registry is "unknown",
    // and only ever rejected): 4 + 5 metrics, under the 10 an alarm's metric math may read.
    quarantineFigure(
      'collect-quarantine-rate',
      'collect quarantine rate',
      EVENT_TYPES.map((t) => powertools(names, `accepted_${t}`, 'Accepted', { event_type: t })),
      [...EVENT_TYPES, 'unknown'].map((t) =>
        powertools(names, `rejected_${t}`, 'Rejected', { event_type: t }),
      ),
      params,
    ),
    quarantineFigure(
      'format-quarantine-rate',
      'format quarantine rate',
      [powertools(names, 'read', 'LinesRead')],
      [powertools(names, 'quarantined', 'LinesQuarantined')],
      params,
      true,
    ),
    quarantineFigure(
      'articles-quarantine-rate',
      'articles quarantine rate',
      [powertools(names, 'written', 'ArticlesWritten')],
      [powertools(names, 'rejected', 'ArticlesRejected')],
      params,
    ),
    {
      key: 'batch-failed',
      title: 'batch-scoring run failed',
      description: 'a batch-scoring execution failed (the batch-failures topic says which task and why)',
      metrics: [
        {
          id: 'failed',
          namespace: 'AWS/States',
          name: 'ExecutionsFailed',
          dimensions: { StateMachineArn: stateMachine },
          stat: 'Sum',
        },
      ],
      period: 3600,
      evaluationPeriods: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      unit: 'count',
      treatMissingData: 'notBreaching',
    },
    {
      key: 'batch-missed',
      title: 'batch-scoring did not run today',
      description: 'no batch-scoring execution succeeded in the last 24 hours (no data counts as none)',
      metrics: [
        {
          id: 'succeeded',
          namespace: 'AWS/States',
          name: 'ExecutionsSucceeded',
          dimensions: { StateMachineArn: stateMachine },
          stat: 'Sum',
        },
      ],
      period: 86400,
      evaluationPeriods: 1,
      comparison: 'LessThanThreshold',
      threshold: 1,
      unit: 'count',
      treatMissingData: 'breaching',
      actionsEnabled: params.batchScheduleEnabled,
    },
    {
      key: 'http-5xx-rate',
      title: 'HTTP API 5xx rate',
      description: `answers 5xx (collect's 503 included) above ${params.http5xxRate} of requests in 5 minutes (params.alarmHttp5xxRate)`,
      metrics: [
        { id: 'errors', namespace: 'AWS/ApiGateway', name: '5xx', dimensions: { ApiId: api }, stat: 'Sum' },
        {
          id: 'requests',
          namespace: 'AWS/ApiGateway',
          name: 'Count',
          dimensions: { ApiId: api },
          stat: 'Sum',
        },
      ],
      expression: { expression: 'FILL(errors, 0) / requests', label: '5xx share' },
      period: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: params.http5xxRate,
      unit: 'ratio',
      treatMissingData: 'notBreaching',
    },
    {
      key: 'http-p99-latency',
      title: 'HTTP API p99 latency',
      description: `p99 latency of the HTTP API above ${params.httpP99LatencyMs} ms over 5 minutes (params.alarmHttpP99LatencyMs)`,
      metrics: [
        {
          id: 'latency',
          namespace: 'AWS/ApiGateway',
          name: 'Latency',
          dimensions: { ApiId: api },
          stat: 'p99',
        },
      ],
      period: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: params.httpP99LatencyMs,
      unit: 'milliseconds',
      treatMissingData: 'notBreaching',
    },
  ];
}

const cfn = (value: Value): unknown => {
  if (typeof value === 'string') return value;
  if ('ref' in value) return { Ref: value.ref };
  if ('getAtt' in value) return { 'Fn::GetAtt': value.getAtt.split('.') };
  return { 'Fn::Sub': value.sub };
};

/** The value inside the dashboard body, itself a `Fn::Sub` string. */
const sub = (value: Value): string => {
  if (typeof value === 'string') return value;
  if ('ref' in value) return `\${${value.ref}}`;
  if ('getAtt' in value) return `\${${value.getAtt}}`;
  return value.sub;
};

const pascal = (key: string) =>
  key
    .split('-')
    .map((w) => (w === '5xx' ? '5xx' : w.charAt(0).toUpperCase() + w.slice(1)))
    .join('');

/** The logical id of a figure's alarm. */
export const alarmLogicalId = (figure: Figure) => `${pascal(figure.key)}Alarm`;

type Resource = { Type: string; Properties: Record<string, unknown> };

/** An AWS::CloudWatch::Alarm per figure, notifying the stage's AlarmsTopic on ALARM and on OK. */
export function alarmResources(names: StageNames, figures: readonly Figure[]): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  for (const f of figures) {
    const metrics = f.metrics.map((m) => ({
      Id: m.id,
      ReturnData: f.expression === undefined,
      MetricStat: {
        Metric: {
          Namespace: m.namespace,
          MetricName: m.name,
          Dimensions: Object.entries(m.dimensions).map(([Name, v]) => ({ Name, Value: cfn(v) })),
        },
        Period: f.period,
        Stat: m.stat,
      },
    }));
    resources[alarmLogicalId(f)] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${alarmPrefix(names)}${f.key}`,
        AlarmDescription: `${names.service} ${names.stage}: ${f.description}`,
        Metrics: f.expression
          ? [
              ...metrics,
              {
                Id: 'figure',
                Expression: f.expression.expression,
                Label: f.expression.label,
                ReturnData: true,
              },
            ]
          : metrics,
        ComparisonOperator: f.comparison,
        Threshold: f.threshold,
        EvaluationPeriods: f.evaluationPeriods,
        DatapointsToAlarm: f.evaluationPeriods,
        TreatMissingData: f.treatMissingData,
        ActionsEnabled: f.actionsEnabled ?? true,
        AlarmActions: [{ Ref: 'AlarmsTopic' }],
        OKActions: [{ Ref: 'AlarmsTopic' }],
      },
    };
  }
  return resources;
}

/**
 * The stage's dashboard: the alarms' states first, then a graph per figure with the alarm's
 * metrics (or its expression) and its threshold as a line. The body is a `Fn::Sub` string, so the
 * region, account, API id, stream and queue names are the stage's.
 */
export function dashboardResource(names: StageNames, figures: readonly Figure[]): Resource {
  const alarmArn = (f: Figure) =>
    `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${alarmPrefix(names)}${f.key}`;
  const widgets: unknown[] = [
    {
      type: 'alarm',
      x: 0,
      y: 0,
      width: 24,
      height: 3,
      properties: { title: `${names.service} ${names.stage}: alarms`, alarms: figures.map(alarmArn) },
    },
  ];
  figures.forEach((f, i) => {
    const metrics: unknown[] = f.metrics.map((m) => [
      m.namespace,
      m.name,
      ...Object.entries(m.dimensions).flatMap(([name, v]) => [name, sub(v)]),
      {
        id: m.id,
        stat: m.stat,
        period: f.period,
        visible: f.expression === undefined,
        label: m.label ?? m.id,
      },
    ]);
    if (f.expression)
      metrics.push([{ id: 'figure', expression: f.expression.expression, label: f.expression.label }]);
    widgets.push({
      type: 'metric',
      x: (i % 3) * 8,
      y: 3 + Math.floor(i / 3) * 6,
      width: 8,
      height: 6,
      properties: {
        title: f.title,
        view: 'timeSeries',
        region: `\${AWS::Region}`,
        period: f.period,
        metrics,
        annotations: { horizontal: [{ label: 'alarm threshold', value: f.threshold }] },
      },
    });
  });
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: `${names.service}-${names.stage}`,
      DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) },
    },
  };
}

/** The alarms, their topic and the dashboard of a stage. */
export function healthResources(names: HealthNames, params: AlarmParams): Record<string, Resource> {
  const figures = healthFigures(names, params);
  return {
    AlarmsTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `${names.service}-${names.stage}-alarms` },
    },
    ...alarmResources(names, figures),
    HealthDashboard: dashboardResource(names, figures),
  };
}
