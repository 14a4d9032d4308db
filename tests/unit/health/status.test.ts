import { createServer } from 'node:net';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { registerStatus, runStatus, statusNames } from '../../../cli/commands/status';
import { awsStatus } from '../../../cli/status/aws';
import { duration, renderStatus, type StatusReport } from '../../../cli/status/report';
import type { Wiring } from '../../../local/wiring';

const NOW = new Date('2026-12-01T12:00:00Z');
const cwMock = mockClient(CloudWatchClient);
const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const region = { region: 'ap-northeast-1' };
const names = {
  service: 'logbase',
  stage: 'prod',
  bucket: 'logbase-prod-data-ap-northeast-1',
  stateMachine: 'logbase-prod-batch-scoring',
  deliveryStreams: ['logbase-prod-events', 'logbase-prod-clicks'],
  formatFailuresQueue: 'logbase-prod-format-failures',
};
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

/** CloudWatch's answer to each query id of a GetMetricData call. */
const SERIES: Record<string, { Timestamps: Date[]; Values: number[] }> = {
  accepted_click: { Timestamps: [minutesAgo(60)], Values: [900] },
  accepted_impression: { Timestamps: [minutesAgo(60)], Values: [80] },
  rejected_click: { Timestamps: [minutesAgo(60)], Values: [15] },
  rejected_unknown: { Timestamps: [minutesAgo(60)], Values: [5] },
  lines_read: { Timestamps: [minutesAgo(60)], Values: [1000] },
  lines_quarantined: { Timestamps: [minutesAgo(60)], Values: [10] },
  // Newest first, as CloudWatch answers; a zero is no activity.
  collect: { Timestamps: [minutesAgo(5), minutesAgo(10)], Values: [0, 12] },
  format: { Timestamps: [minutesAgo(15)], Values: [3] },
  vectors: { Timestamps: [minutesAgo(1)], Values: [40] },
  iteratorAge: { Timestamps: [minutesAgo(1), minutesAgo(2)], Values: [420_000, 1_000] },
  format_failures: { Timestamps: [minutesAgo(10), minutesAgo(5)], Values: [4, 1] },
};

function mockStage() {
  cwMock.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      { AlarmName: 'logbase-prod-format-errors', StateValue: 'OK', StateReason: 'fine' },
      {
        AlarmName: 'logbase-prod-user-vectors-iterator-age',
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed: 1 datapoint [420000.0] was greater than the threshold (300000.0).',
        StateUpdatedTimestamp: minutesAgo(3),
      },
    ],
  });
  cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
    MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({
      Id: q.Id,
      ...(SERIES[q.Id as string] ?? {}),
    })),
  }));
  s3Mock.on(ListObjectsV2Command).resolves({});
  s3Mock.on(ListObjectsV2Command, { Prefix: 'raw/events/dt=2026-12-01/' }).resolves({
    Contents: [
      { Key: 'raw/events/dt=2026-12-01/hour=11/old.gz', LastModified: minutesAgo(30) },
      { Key: 'raw/events/dt=2026-12-01/hour=11/new.gz', LastModified: minutesAgo(2) },
    ],
  });
  s3Mock.on(ListObjectsV2Command, { Prefix: 'lake/_manifests/events/dt=2026-12-01/' }).resolves({
    Contents: [
      { Key: 'lake/_manifests/events/dt=2026-12-01/hour=11/new.gz.json', LastModified: minutesAgo(1) },
    ],
  });
  sfnMock.on(ListStateMachinesCommand).resolves({
    stateMachines: [
      {
        name: 'logbase-prod-batch-scoring',
        stateMachineArn: 'arn:aws:states:ap-northeast-1:123456789012:stateMachine:logbase-prod-batch-scoring',
        type: 'STANDARD',
        creationDate: NOW,
      },
    ],
  });
  sfnMock.on(ListExecutionsCommand).resolves({
    executions: [
      {
        name: 'daily-2026-11-30',
        executionArn: 'arn:x',
        stateMachineArn: 'arn:y',
        status: 'FAILED',
        startDate: minutesAgo(600),
        stopDate: minutesAgo(590),
      },
    ],
  });
}

beforeEach(() => {
  cwMock.reset();
  s3Mock.reset();
  sfnMock.reset();
});

describe('logbase status --stage', () => {
  const deps = () => ({
    cloudwatch: new CloudWatchClient(region),
    s3: new S3Client(region),
    sfn: new SFNClient(region),
    names,
    now: NOW,
  });

  it('reports the alarms in ALARM, the lags, the quarantine rates and the last run', async () => {
    // Prepare
    mockStage();

    // Act
    const report = await awsStatus(deps());

    // Assess
    expect(report.alarms?.map((a) => [a.name, a.state])).toEqual([
      ['logbase-prod-user-vectors-iterator-age', 'ALARM'],
      ['logbase-prod-format-errors', 'OK'],
    ]);
    expect(report.collect.quarantine).toEqual({
      quarantined: 20,
      total: 1000,
      rate: 0.02,
      window_seconds: 3600,
    });
    expect(report.format.quarantine?.rate).toBe(0.01);
    expect(report.collect.last_activity).toBe(minutesAgo(10).toISOString());
    expect(report.vectors.lag).toEqual({ source: 'iterator_age', lagSeconds: 420 });
    expect(report.format.backlog).toEqual({
      count: 1,
      oldest: {
        key: 'raw/events/dt=2026-12-01/hour=11/old.gz',
        lastModified: minutesAgo(30).toISOString(),
        ageSeconds: 1800,
      },
    });
    expect(report.batch.last_run).toMatchObject({ name: 'daily-2026-11-30', status: 'FAILED' });
    expect(report.problems).toEqual([
      expect.stringMatching(/^alarm logbase-prod-user-vectors-iterator-age is in ALARM: Threshold Crossed/),
      'format is late: 1 raw object not formatted, oldest 30 min (raw/events/dt=2026-12-01/hour=11/old.gz), over 10 min',
      'user vectors are late: the oldest click not applied is 7 min old, over 5 min',
      '1 S3 event(s) on logbase-prod-format-failures: the formatter gave up on them after its retries (fix the cause, then redrive)',
      'the last batch run daily-2026-11-30 is FAILED',
    ]);
  });

  it("asks CloudWatch for the stage's alarm prefix and its own metrics namespace", async () => {
    // Prepare
    mockStage();

    // Act
    await awsStatus(deps());

    // Assess
    expect(cwMock).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNamePrefix: 'logbase-prod-' });
    const queries = cwMock
      .commandCalls(GetMetricDataCommand)
      .flatMap((c) => c.args[0].input.MetricDataQueries ?? []);
    expect(queries.find((q) => q.Id === 'rejected_unknown')?.MetricStat?.Metric).toEqual({
      Namespace: 'logbase/prod',
      MetricName: 'Rejected',
      Dimensions: [
        { Name: 'service', Value: 'logbase' },
        { Name: 'event_type', Value: 'unknown' },
      ],
    });
    expect(sfnMock).toHaveReceivedCommandWith(ListExecutionsCommand, {
      stateMachineArn: 'arn:aws:states:ap-northeast-1:123456789012:stateMachine:logbase-prod-batch-scoring',
      maxResults: 1,
    });
  });

  it('prints aligned rows per stage, then the alarms in ALARM and the problems', async () => {
    // Prepare
    mockStage();

    // Act
    const lines = renderStatus(await awsStatus(deps()));

    // Assess
    expect(lines[0]).toBe('logbase status: stage prod (AWS), 2026-12-01T12:00:00.000Z');
    const rows = lines.slice(2, 8);
    expect(rows.map((r) => r.split(' ')[0])).toEqual([
      'stage',
      'collect',
      'firehose',
      'format',
      'vectors',
      'batch',
    ]);
    const lagColumn = (rows[0] as string).indexOf('lag');
    expect((rows[3] as string).slice(lagColumn)).toMatch(/^1 raw object not formatted, oldest 30 min/);
    expect((rows[4] as string).slice(lagColumn)).toMatch(/^7 min \(iterator age\)/);
    expect(rows[1]).toContain('2.0% (20 of 1000)');
    expect(rows[5]).toContain('daily-2026-11-30 FAILED 2026-12-01 02:10:00Z (9 h 50 min ago)');
    expect(lines).toContain('alarms: 1 in ALARM of 2');
  });

  it('says so when no state machine or execution exists and no alarm is deployed', async () => {
    // Prepare
    mockStage();
    cwMock.on(DescribeAlarmsCommand).resolves({});
    sfnMock.on(ListStateMachinesCommand).resolves({ stateMachines: [] });

    // Act
    const report = await awsStatus(deps());
    const lines = renderStatus(report);

    // Assess
    expect(report.batch.last_run).toBeNull();
    expect(lines.find((l) => l.startsWith('batch'))).toContain('no run yet');
    expect(lines).toContain('alarms: 0 in ALARM of 0 (none deployed with this prefix)');
  });
});

describe('logbase status on the local stack', () => {
  it('exits 2 with a clear message when nothing answers GET /health', async () => {
    // Prepare: a port that was free a moment ago, so nothing listens on it.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const err: string[] = [];
    const out: string[] = [];

    // Act
    const code = await runStatus(
      { json: false, endpoint: `http://127.0.0.1:${port}`, serviceDir: '.' },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );

    // Assess
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(
      new RegExp(
        `^logbase status: the local stack is not running: http://127.0.0.1:${port}/health does not answer .*npm start`,
      ),
    );
  });
});

describe('duration', () => {
  it.each([
    [3, '3 s'],
    [60, '1 min'],
    [242, '4 min 2 s'],
    [7500, '2 h 5 min'],
    [3 * 86400 + 4 * 3600, '3 d 4 h'],
  ])('%d s reads %s', (seconds, text) => {
    // Act and Assess
    expect(duration(seconds)).toBe(text);
  });
});

describe('runStatus', () => {
  const report = (problems: string[]): StatusReport => ({
    stage: 'local',
    source: 'local',
    checked_at: NOW.toISOString(),
    collect: { last_activity: null, quarantine: null, detail: '' },
    firehose: { last_activity: null, detail: '' },
    format: {
      last_activity: null,
      backlog: { count: 0, oldest: null },
      quarantine: null,
      failures_queued: 0,
      detail: '',
    },
    vectors: {
      last_activity: null,
      lag: { source: 'stream', lagSeconds: 0, waiting: 0, more: false },
      detail: '',
    },
    batch: { last_run: null },
    alarms: null,
    problems,
  });
  const options = { json: false, endpoint: 'http://127.0.0.1:1', serviceDir: '.' };

  it('prints the report as JSON with --json and exits 0 when nothing needs someone', async () => {
    // Prepare
    const out: string[] = [];

    // Act
    const code = await runStatus(
      { ...options, json: true },
      { out: (l) => out.push(l), err: () => undefined },
      async () => report([]),
    );

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual(report([]));
  });

  it('prints the problems and exits 1 when there are some', async () => {
    // Prepare
    const out: string[] = [];

    // Act
    const code = await runStatus(options, { out: (l) => out.push(l), err: () => undefined }, async () =>
      report(['offline is down: exited']),
    );

    // Assess
    expect(code).toBe(1);
    expect(out.slice(-2)).toEqual(['problems:', '  - offline is down: exited']);
    expect(out.find((l) => l.startsWith('vectors'))).toMatch(/^vectors\s+never\s+none/);
  });

  it('lets any other error through', async () => {
    // Act and Assess
    await expect(
      runStatus(options, { out: () => undefined, err: () => undefined }, async () => {
        throw new Error('AccessDenied');
      }),
    ).rejects.toThrow('AccessDenied');
  });
});

describe('logbase status (the command)', () => {
  it('is registered with its options and exits 2 when no local stack answers', async () => {
    // Prepare
    const program = new Command().exitOverride();
    registerStatus(program);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const before = process.exitCode;

    // Act
    await program.parseAsync(['node', 'logbase', 'status', '--endpoint', 'http://127.0.0.1:1']);
    const code = process.exitCode;
    const written = err.mock.calls.map((c) => String(c[0]));
    process.exitCode = before;
    err.mockRestore();

    // Assess
    expect(code).toBe(2);
    expect(written[0]).toMatch(/^logbase status: the local stack is not running/);
  });
});

describe('statusNames', () => {
  it('takes the bucket, stream, table, consumer and state machine from the wiring', () => {
    // Prepare
    const wiring = {
      buckets: [{ name: 'logbase-dev-data-ap-northeast-1' }],
      tables: [{ name: 'logbase-dev-ArticleVectors' }, { name: 'logbase-dev-UserVectors' }],
      streamSubscriptions: [
        {
          functionKey: 'updateUserVectors',
          functionName: 'logbase-dev-updateUserVectors',
          streamName: 'logbase-dev-clicks',
        },
      ],
      stateMachines: [{ key: 'batchScoring', name: 'logbase-dev-batch-scoring' }],
      deliveryStreams: [{ name: 'logbase-dev-events' }, { name: 'logbase-dev-clicks' }],
      queues: [{ name: 'logbase-dev-user-vectors-failures' }, { name: 'logbase-dev-format-failures' }],
    } as unknown as Wiring;

    // Act and Assess
    expect(statusNames(wiring, 'dev')).toEqual({
      stage: 'dev',
      bucket: 'logbase-dev-data-ap-northeast-1',
      clicksStream: 'logbase-dev-clicks',
      userVectorsTable: 'logbase-dev-UserVectors',
      vectorsFunction: 'logbase-dev-updateUserVectors',
      stateMachine: 'logbase-dev-batch-scoring',
      deliveryStreams: ['logbase-dev-events', 'logbase-dev-clicks'],
      formatFailuresQueue: 'logbase-dev-format-failures',
    });
    expect(() => statusNames({ ...wiring, stateMachines: [] } as Wiring, 'dev')).toThrow(/batchScoring/);
  });
});
