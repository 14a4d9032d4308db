import { curlExample, devBanner, localApiKey } from '../../../cli/commands/dev';
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
      },
    },
    resources: {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'logbase-local-data' } } },
    },
  } as unknown as PrintedService;
  return {
    config,
    wiring: deriveWiring(config),
    endpoints: {
      http,
      lambda: 'http://127.0.0.1:3002',
      s3: 'http://127.0.0.1:4569',
      kinesis: 'http://127.0.0.1:4567',
      dynamodb: 'http://127.0.0.1:4568',
      firehose: 'http://127.0.0.1:4573',
    },
    dataDir: dataDirLayout('/tmp/logbase-data'),
    env: { LOGBASE_LOCAL: 'true', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' },
    firehose: { injectFaults: () => undefined, flush: async () => undefined },
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
      /Lambda\s+http:\/\/127\.0\.0\.1:3002/,
      /S3\s+http:\/\/127\.0\.0\.1:4569\s+buckets: logbase-local-data/,
      /Kinesis\s+http:\/\/127\.0\.0\.1:4567/,
      /DynamoDB\s+http:\/\/127\.0\.0\.1:4568/,
      /Firehose\s+http:\/\/127\.0\.0\.1:4573/,
      /Data dir\s+\/tmp\/logbase-data/,
      /API key\s+lb_local_key1$/m,
      /s3:\/\/logbase-local-data\/raw\/\*\.gz \(s3:ObjectCreated:\*\) -> format/,
      /export LOGBASE_LOCAL=true AWS_ENDPOINT_URL_S3=http:\/\/127\.0\.0\.1:4569/,
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
