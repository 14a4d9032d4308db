import { curlExample, devBanner, localApiKey, whereToLook } from '../../../cli/commands/dev';
import { validateClientEvent } from '../../../lib/schemas';
import { dataDirLayout } from '../../../local/data-dir';
import type { PrintedService } from '../../../local/service-config';
import type { LocalStack } from '../../../local/stack';
import { deriveWiring } from '../../../local/wiring';

/** A running stack as `logbase dev` sees it, for a service with collect and one subscription. */
function fakeStack(http: string | undefined): LocalStack {
  const config = {
    service: 'logbase',
    provider: { stage: 'local', region: 'ap-northeast-1' },
    functions: {
      collect: {
        name: 'logbase-local-collect',
        environment: { API_KEYS: 'lb_local_key1, lb_local_key2' },
        events: [{ httpApi: { method: 'post', path: '/v1/events' } }],
      },
      format: {
        events: [{ s3: { bucket: 'logbase-local-data', rules: [{ prefix: 'raw/' }, { suffix: '.gz' }] } }],
        destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['Failures', 'Arn'] } } },
      },
    },
    resources: {
      Resources: {
        Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'logbase-local-data' } },
        Failures: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'logbase-local-failures' } },
      },
    },
  } as unknown as PrintedService;
  return {
    config,
    wiring: deriveWiring(config),
    endpoints: {
      http,
      ...(http ? { offlineHttp: 'http://127.0.0.1:41234' } : {}),
      lambda: 'http://127.0.0.1:3002',
      s3: 'http://127.0.0.1:4569',
      kinesis: 'http://127.0.0.1:4567',
      dynamodb: 'http://127.0.0.1:4568',
      firehose: 'http://127.0.0.1:4573',
      sqs: 'http://127.0.0.1:4576',
      sns: 'http://127.0.0.1:4576',
    },
    dataDir: dataDirLayout('/tmp/logbase-data'),
    env: { LOGBASE_LOCAL: 'true', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' },
    firehose: { injectFaults: () => undefined, calls: () => 0, flush: async () => undefined },
    kinesis: { injectFaults: () => undefined, calls: () => 0 },
    s3: { injectFaults: () => undefined, refused: () => 0 },
    stepFunctions: {
      list: () => [],
      start: () => {
        throw new Error('the fake stack runs no state machine');
      },
    },
    health: async () => ({ status: 'ready', services: {} }),
    stop: async () => undefined,
  };
}

describe('logbase dev banner', () => {
  it('shows every endpoint, the data dir, the local API key and the wiring', () => {
    // Act
    const banner = devBanner(fakeStack('http://127.0.0.1:3000'));

    // Assess
    for (const line of [
      /HTTP API\s+http:\/\/127\.0\.0\.1:3000\s+POST \/v1\/events/,
      /Health\s+http:\/\/127\.0\.0\.1:3000\/health\s+200 when every service is up, 503 otherwise/,
      /^\s+http:\/\/127\.0\.0\.1:41234\s+serverless-offline's own port, behind the HTTP API/m,
      /KPI report\s+http:\/\/127\.0\.0\.1:3000\/reports\/kpi\/latest\s+the newest KPI report page/,
      /Lambda\s+http:\/\/127\.0\.0\.1:3002/,
      /S3\s+http:\/\/127\.0\.0\.1:4569\s+buckets: logbase-local-data/,
      /Kinesis\s+http:\/\/127\.0\.0\.1:4567/,
      /DynamoDB\s+http:\/\/127\.0\.0\.1:4568/,
      /Firehose\s+http:\/\/127\.0\.0\.1:4573/,
      /SQS\s+http:\/\/127\.0\.0\.1:4576\s+queues: logbase-local-failures/,
      /SNS\s+http:\/\/127\.0\.0\.1:4576\s+topics: none/,
      /format on failure \(after 2 retries\) -> sqs logbase-local-failures/,
      /Step Fns\s+\(in this process\)\s+state machines: none/,
      /Data dir\s+\/tmp\/logbase-data/,
      /API key\s+lb_local_key1$/m,
      /s3:\/\/logbase-local-data\/raw\/\*\.gz \(s3:ObjectCreated:\*\) -> format/,
      /export LOGBASE_LOCAL=true AWS_ENDPOINT_URL_S3=http:\/\/127\.0\.0\.1:4569/,
      /The pipeline at a glance .*\n {2}npx logbase status --data-dir \/tmp\/logbase-data$/m,
    ]) {
      expect(banner).toMatch(line);
    }
  });

  it('says serverless-offline is not started and prints no curl line with --no-offline', () => {
    const banner = devBanner(fakeStack(undefined));
    expect(banner).toMatch(/HTTP API\s+\(not started: --no-offline\)/);
    expect(banner).not.toContain('curl');
  });

  it('takes the first key of functions.collect.environment.API_KEYS', () => {
    expect(localApiKey(fakeStack(undefined))).toBe('lb_local_key1');
  });
});

describe('curlExample', () => {
  it('posts one click event that the schema registry accepts, with the x-api-key header', () => {
    // Act
    const curl = curlExample('http://127.0.0.1:3000', 'lb_local_key1', new Date('2026-11-26T08:00:00Z'));

    // Assess
    expect(curl).toMatch(/^curl -sS -X POST http:\/\/127\.0\.0\.1:3000\/v1\/events /);
    expect(curl).toContain("-H 'x-api-key: lb_local_key1'");
    const body = JSON.parse(/-d '(.*)'$/.exec(curl)?.[1] ?? '');
    expect(body.events).toHaveLength(1);
    expect(validateClientEvent(body.events[0])).toMatchObject({ ok: true, event: { event_type: 'click' } });
  });
});

describe('whereToLook (logbase dev --demo)', () => {
  it("names each delivery stream's folder and collect's quarantine, on S3 and in the data dir", () => {
    // Prepare: the events Firehose delivers under a partitioned prefix; collect quarantines in the same bucket.
    const stack = fakeStack('http://127.0.0.1:3000');
    stack.config.provider.environment = { DATA_BUCKET: 'logbase-local-data' };
    stack.config.resources = {
      Resources: {
        ...stack.config.resources?.Resources,
        Events: {
          Type: 'AWS::KinesisFirehose::DeliveryStream',
          Properties: {
            DeliveryStreamName: 'logbase-local-events',
            DeliveryStreamType: 'DirectPut',
            ExtendedS3DestinationConfiguration: {
              BucketARN: 'arn:aws:s3:::logbase-local-data',
              Prefix: 'raw/events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
              CompressionFormat: 'GZIP',
              BufferingHints: { IntervalInSeconds: 5, SizeInMBs: 1 },
            },
          },
        },
      },
    };
    stack.wiring = deriveWiring(stack.config);

    // Act
    const lines = whereToLook(stack).join('\n');

    // Assess
    expect(lines).toMatch(
      /s3:\/\/logbase-local-data\/ \(on disk: \/tmp\/logbase-data\/s3\/logbase-local-data\/,/,
    );
    expect(lines).toMatch(
      /^\s+raw\/events\/\s+accepted events, via Firehose logbase-local-events \(lands within 5 s\)$/m,
    );
    expect(lines).toMatch(/^\s+quarantine\/collect\/\s+rejected events with their errors/m);
    expect(lines).toContain(
      'aws --endpoint-url http://127.0.0.1:4569 s3 ls s3://logbase-local-data/ --recursive',
    );
  });

  it('points at the lake and the user vectors when serverless.yml wires the formatter and the vectors function', () => {
    // Prepare
    const stack = fakeStack('http://127.0.0.1:3000');
    const fn = (key: string) => ({
      key,
      name: `logbase-local-${key}`,
      arn: '',
      environment: {},
      asyncRetries: 2,
    });
    stack.wiring = { ...stack.wiring, functions: [fn('formatParquet'), fn('updateUserVectors')] };

    // Act
    const lines = whereToLook(stack).join('\n');

    // Assess
    expect(lines).toMatch(/lake\/<type>\/v<N>\/dt=\/hour=\/\s+typed Parquet by event time/);
    expect(lines).toMatch(
      /query it: logbase query "SELECT .* FROM impression WHERE dt = '\d{4}-\d{2}-\d{2}' GROUP BY 1"/,
    );
    expect(lines).toContain('curl -s http://127.0.0.1:3000/v1/users/<user_id>/vector');
  });

  it('says nothing of the lake when no formatter is wired', () => {
    expect(whereToLook(fakeStack('http://127.0.0.1:3000')).join('\n')).not.toContain('lake/');
  });
});
