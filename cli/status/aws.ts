import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  type ExecutionListItem,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { alarmPrefix, metricsNamespace, type StageNames } from '../../health/alarms';
import { listObjects } from '../../lib/aws/batch';
import { iteratorAgeUserVectorLag } from '../../lib/aws/freshness';
import { FORMATTED_RAW_PREFIXES, type ListedObject, rawBacklog } from '../../lib/domain/freshness';
import { EVENT_TYPES } from '../../lib/schemas/registry';
import { batchProblem, failuresProblem, type LagLimits, lagProblems } from './problems';
import { type AlarmState, type BatchRun, quarantineRate, type StatusReport } from './report';

export interface AwsStatusDeps {
  cloudwatch: CloudWatchClient;
  s3: S3Client;
  sfn: SFNClient;
  names: StageNames & {
    bucket: string;
    stateMachine: string;
    deliveryStreams: string[];
    formatFailuresQueue: string;
  };
  /** How many UTC days of raw/ are listed for the backlog (a stage keeps months of raw objects). */
  rawDays?: number;
  limits?: LagLimits;
  now?: Date;
}

const fn = (names: StageNames, key: string) => `${names.service}-${names.stage}-${key}`;

/** The stage's alarms, those in ALARM first (DescribeAlarms by the stage's name prefix, every page). */
export async function stageAlarms(cloudwatch: CloudWatchClient, names: StageNames): Promise<AlarmState[]> {
  const alarms: AlarmState[] = [];
  let token: string | undefined;
  do {
    const page = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNamePrefix: alarmPrefix(names), NextToken: token }),
    );
    for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])])
      alarms.push({
        name: a.AlarmName ?? '?',
        state: (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmState['state'],
        reason: a.StateReason ?? '',
        since: a.StateUpdatedTimestamp?.toISOString() ?? null,
      });
    token = page.NextToken;
  } while (token);
  const order = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };
  return alarms.sort((a, b) => order[a.state] - order[b.state] || a.name.localeCompare(b.name));
}

const metric = (
  id: string,
  namespace: string,
  name: string,
  dimensions: Record<string, string>,
  stat: string,
  period: number,
): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: {
      Namespace: namespace,
      MetricName: name,
      Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
    },
    Period: period,
    Stat: stat,
  },
});

/** The queries of the last hour's quarantine rates (one 1-hour period) and of the last day's activity (5-minute periods). */
export function statusQueries(names: StageNames & { formatFailuresQueue: string }): {
  hour: MetricDataQuery[];
  day: MetricDataQuery[];
} {
  const ns = metricsNamespace(names);
  const service = { service: names.service };
  const hour = [
    ...EVENT_TYPES.map((t) =>
      metric(`accepted_${t}`, ns, 'Accepted', { ...service, event_type: t }, 'Sum', 3600),
    ),
    ...[...EVENT_TYPES, 'unknown'].map((t) =>
      metric(`rejected_${t}`, ns, 'Rejected', { ...service, event_type: t }, 'Sum', 3600),
    ),
    metric('lines_read', ns, 'LinesRead', service, 'Sum', 3600),
    metric('lines_quarantined', ns, 'LinesQuarantined', service, 'Sum', 3600),
  ];
  const invocations = (id: string, key: string) =>
    metric(id, 'AWS/Lambda', 'Invocations', { FunctionName: fn(names, key) }, 'Sum', 300);
  const day = [
    invocations('collect', 'collect'),
    invocations('format', 'formatParquet'),
    invocations('vectors', 'updateUserVectors'),
    metric(
      'format_failures',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { QueueName: names.formatFailuresQueue },
      'Maximum',
      300,
    ),
  ];
  return { hour, day };
}

const total = (results: MetricDataResult[], prefix: string) =>
  results
    .filter((r) => r.Id?.startsWith(prefix))
    .reduce((sum, r) => sum + (r.Values ?? []).reduce((a, v) => a + v, 0), 0);

/** The newest timestamp with a non-zero value of a query, or null. */
function lastActive(results: MetricDataResult[], id: string): string | null {
  const r = results.find((x) => x.Id === id);
  let latest: Date | undefined;
  (r?.Timestamps ?? []).forEach((t, i) => {
    if ((r?.Values?.[i] ?? 0) > 0 && (!latest || t > latest)) latest = t;
  });
  return latest?.toISOString() ?? null;
}

async function metricData(
  cloudwatch: CloudWatchClient,
  queries: MetricDataQuery[],
  start: Date,
  end: Date,
): Promise<MetricDataResult[]> {
  const results: MetricDataResult[] = [];
  let token: string | undefined;
  do {
    const page = await cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: start,
        EndTime: end,
        NextToken: token,
      }),
    );
    results.push(...(page.MetricDataResults ?? []));
    token = page.NextToken;
  } while (token);
  return results;
}

/** The value of a query's newest datapoint, or null. */
function latestValue(results: MetricDataResult[], id: string): number | null {
  const r = results.find((x) => x.Id === id);
  let at: Date | undefined;
  let value: number | null = null;
  (r?.Timestamps ?? []).forEach((t, i) => {
    if (!at || t > at) {
      at = t;
      value = r?.Values?.[i] ?? null;
    }
  });
  return value;
}

/** The state machine's newest execution (ListStateMachines to find it by name, ListExecutions, newest first). */
export async function lastExecution(sfn: SFNClient, stateMachine: string): Promise<BatchRun | null> {
  let arn: string | undefined;
  let token: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken: token }));
    arn = page.stateMachines?.find((m) => m.name === stateMachine)?.stateMachineArn;
    token = arn ? undefined : page.nextToken;
  } while (token);
  if (!arn) return null;
  const answer = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1 }));
  const e: ExecutionListItem | undefined = answer.executions?.[0];
  if (!e) return null;
  return {
    name: e.name ?? '?',
    status: (e.status ?? 'RUNNING') as BatchRun['status'],
    started_at: e.startDate?.toISOString() ?? null,
    finished_at: e.stopDate?.toISOString() ?? null,
    detail: '',
  };
}

/** The UTC days from `days - 1` days before `now` to `now`, as `dt=` values. */
const recentDays = (now: Date, days: number) =>
  Array.from({ length: days }, (_, i) => new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10));

/** The raw objects and manifests of the last `days` UTC days (arrival days, raw/'s partitions). */
async function recentRawAndManifests(s3: S3Client, bucket: string, now: Date, days: number) {
  const raw: ListedObject[] = [];
  const manifests: ListedObject[] = [];
  await Promise.all(
    FORMATTED_RAW_PREFIXES.flatMap((prefix) =>
      recentDays(now, days).map(async (day) => {
        const sub = `${prefix.slice('raw/'.length)}dt=${day}/`;
        raw.push(...(await listObjects(s3, bucket, `raw/${sub}`)));
        manifests.push(...(await listObjects(s3, bucket, `lake/_manifests/${sub}`)));
      }),
    ),
  );
  return { raw, manifests };
}

/** The status of a deployed stage: CloudWatch alarms and metrics, S3 listings of recent raw/, Step Functions. */
export async function awsStatus(deps: AwsStatusDeps): Promise<StatusReport> {
  const { names } = deps;
  const now = deps.now ?? new Date();
  const days = deps.rawDays ?? 2;
  const queries = statusQueries(names);
  const [alarms, hour, day, lag, run, listing] = await Promise.all([
    stageAlarms(deps.cloudwatch, names),
    metricData(deps.cloudwatch, queries.hour, new Date(now.getTime() - 3_600_000), now),
    metricData(deps.cloudwatch, queries.day, new Date(now.getTime() - 86_400_000), now),
    iteratorAgeUserVectorLag(deps.cloudwatch, fn(names, 'updateUserVectors'), now),
    lastExecution(deps.sfn, names.stateMachine),
    recentRawAndManifests(deps.s3, names.bucket, now, days),
  ]);
  const backlog = rawBacklog(
    listing.raw,
    listing.manifests.map((m) => m.key),
    now,
  );
  const accepted = total(hour, 'accepted_');
  const rejected = total(hour, 'rejected_');
  const newestRaw = listing.raw.reduce<Date | undefined>(
    (a, o) => (!a || o.lastModified > a ? o.lastModified : a),
    undefined,
  );
  const problems = [
    ...alarms.filter((a) => a.state === 'ALARM').map((a) => `alarm ${a.name} is in ALARM: ${a.reason}`),
    ...lagProblems(backlog, lag, deps.limits),
    ...failuresProblem(latestValue(day, 'format_failures'), names.formatFailuresQueue),
    ...batchProblem(run),
  ];
  return {
    stage: names.stage,
    source: 'aws',
    checked_at: now.toISOString(),
    collect: {
      last_activity: lastActive(day, 'collect'),
      quarantine: quarantineRate(rejected, accepted + rejected),
      detail: 'Lambda Invocations; quarantine from the Accepted and Rejected metrics',
    },
    firehose: {
      last_activity: newestRaw?.toISOString() ?? null,
      detail: `the newest raw object of the last ${days} day(s); delivery freshness is alarmed (${names.deliveryStreams.join(', ')})`,
    },
    format: {
      last_activity: lastActive(day, 'format'),
      backlog,
      quarantine: quarantineRate(total(hour, 'lines_quarantined'), total(hour, 'lines_read')),
      failures_queued: latestValue(day, 'format_failures'),
      detail: `backlog over raw/ of the last ${days} day(s); ${latestValue(day, 'format_failures') ?? 'unknown'} on ${names.formatFailuresQueue}`,
    },
    vectors: {
      last_activity: lastActive(day, 'vectors'),
      lag,
      detail: 'lag: IteratorAge, Maximum over the last 15 min',
    },
    batch: { last_run: run },
    alarms,
    problems,
  };
}
