import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { demoReport } from '../../../cli/commands/dev';

const s3 = mockClient(S3Client);
const DATE = '2026-12-01';
const RAW = `raw/events/dt=${DATE}/hour=10/logbase-local-events-1.gz`;
const MANIFEST = `lake/_manifests/events/dt=${DATE}/hour=10/logbase-local-events-1.gz.json`;

/** A stack whose batchScoring run ends as `status` says, counting flushes and runs. */
function fakeStack(status: 'SUCCEEDED' | 'FAILED') {
  const calls = { flushes: 0, runs: [] as unknown[] };
  const stack = {
    config: { provider: { environment: { DATA_BUCKET: 'logbase-local-data' } } },
    endpoints: { http: 'http://127.0.0.1:3000' },
    env: { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' },
    firehose: { flush: async () => void calls.flushes++ },
    stepFunctions: {
      list: () => [{ key: 'batchScoring', name: 'logbase-local-batch-scoring' }],
      start: (_name: string, input: unknown) => {
        calls.runs.push(input);
        return {
          executionId: 'x',
          result: Promise.resolve(
            status === 'SUCCEEDED'
              ? { status, output: {} }
              : { status, error: 'BatchTaskFailed', cause: 'PublishReport failed: Error: boom' },
          ),
        };
      },
    },
  };
  return { stack: stack as unknown as Parameters<typeof demoReport>[0], calls };
}

/** The bucket's listing: the raw object, and its manifest from the `formattedAfter`-th listing on. */
function bucket(formattedAfter: number) {
  let manifestListings = 0;
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => {
    if (input.Prefix === `raw/events/dt=${DATE}/`) return { Contents: [{ Key: RAW }] };
    if (input.Prefix === `lake/_manifests/events/dt=${DATE}/`)
      return manifestListings++ >= formattedAfter ? { Contents: [{ Key: MANIFEST }] } : {};
    return {};
  });
}

describe('the end of logbase dev --demo', () => {
  beforeEach(() => s3.reset());

  it('waits for the formatter with a progress line, runs batch-scoring for the day and prints the report URL', async () => {
    // Prepare
    bucket(2);
    const { stack, calls } = fakeStack('SUCCEEDED');
    const log: string[] = [];

    // Act
    const lines = await demoReport(stack, DATE, new AbortController().signal, {
      pollMs: 1,
      log: (l) => log.push(l),
    });

    // Assess
    expect(log[0]).toBe('logbase dev: demo: waiting for the formatter: 0/1 raw objects formatted ...');
    expect(log).toContain('logbase dev: demo: all 1 raw objects formatted into the lake');
    expect(calls.runs).toEqual([{ date: DATE }]);
    expect(calls.flushes).toBeGreaterThan(1);
    expect(lines.at(-1)).toBe(`KPI report of ${DATE}: open http://127.0.0.1:3000/reports/kpi/latest`);
  });

  it('says why there is no report when the run fails or the formatter never catches up', async () => {
    // Prepare
    bucket(0);
    const failing = fakeStack('FAILED');

    // Act
    const failed = await demoReport(failing.stack, DATE, new AbortController().signal, { log: () => {} });
    s3.reset();
    bucket(1_000_000);
    const late = await demoReport(fakeStack('SUCCEEDED').stack, DATE, new AbortController().signal, {
      timeoutMs: 0,
      pollMs: 1,
      log: () => {},
    });

    // Assess
    expect(failed).toEqual([
      'logbase dev: demo: batch-scoring FAILED: BatchTaskFailed PublishReport failed: Error: boom',
    ]);
    expect(late).toEqual(['logbase dev: demo: 1 raw objects still unformatted: no report run']);
  });

  it('names the report key when there is no HTTP API, and skips the run without a batchScoring machine or when stopped', async () => {
    // Prepare
    bucket(0);
    const noHttp = fakeStack('SUCCEEDED');
    (noHttp.stack.endpoints as { http?: string }).http = undefined;
    const noMachine = fakeStack('SUCCEEDED');
    (noMachine.stack.stepFunctions as { list: () => unknown[] }).list = () => [];
    const stopped = new AbortController();
    stopped.abort();

    // Act
    const lines = await demoReport(noHttp.stack, DATE, new AbortController().signal, { log: () => {} });
    const none = await demoReport(noMachine.stack, DATE, new AbortController().signal, { log: () => {} });
    s3.reset();
    s3.on(ListObjectsV2Command).resolves({});
    const aborted = await demoReport(fakeStack('SUCCEEDED').stack, DATE, stopped.signal, { log: () => {} });

    // Assess
    expect(lines.at(-1)).toBe(`KPI report of ${DATE}: open reports/kpi/dt=${DATE}/index.html`);
    expect(none).toEqual(['logbase dev: demo: no batchScoring state machine or DATA_BUCKET: no report']);
    expect(aborted).toEqual([]);
  });
});
