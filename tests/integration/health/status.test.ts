import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { gatherStatus, runStatus } from '../../../cli/commands/status';
import { rawObjectLines } from '../../../cli/traffic/raw-objects';
import { lambdaClient } from '../../../lib/aws/clients';
import { BUCKET, usePlatform } from '../collect/platform';
import { eventually } from '../local/harness';

/**
 * `logbase status` on the whole local platform (emulators, the local Firehose, serverless-offline
 * running the formatter): a raw object the formatter cannot finish shows as the format lag, and
 * the lag is gone once the cause is removed and the on-failure record is redriven.
 */
const ROOT = resolve(__dirname, '../../..');
const platform = usePlatform({ s3RetryDelayMs: 50 });

const RAW_KEY = 'raw/events/dt=2026-03-01/hour=04/status-check.gz';
/** Where s3rver keeps the folder of the object's manifest, lake/_manifests/events/dt=2026-03-01/hour=04/. */
const manifestFolder = () =>
  join(platform.stack.dataDir.s3, BUCKET, 'lake', '_manifests', 'events', 'dt=2026-03-01', 'hour=04');

const status = () =>
  gatherStatus({
    json: true,
    endpoint: platform.stack.endpoints.http ?? '',
    dataDir: platform.stack.dataDir.root,
    serviceDir: ROOT,
  });

describe('logbase status on the local stack', () => {
  it('reports no lag and no problem on a stack with nothing waiting', async () => {
    // Act
    const report = await status();

    // Assess
    expect(report.format.backlog).toEqual({ count: 0, oldest: null });
    expect(report.vectors.lag).toMatchObject({ source: 'stream', lagSeconds: 0, waiting: 0 });
    expect(report.problems).toEqual([]);
  });

  it('reports the format lag while the formatter fails on an object, and none once it is redriven', async () => {
    // Prepare: a file where s3rver must create the manifest's folder, so the formatter's PutObject of
    // the manifest is answered 500 (an S3 error that may pass): Lambda's retries fail too, then the
    // event goes to the on-failure queue.
    await mkdir(join(manifestFolder(), '..'), { recursive: true });
    await writeFile(manifestFolder(), 'not a folder');
    const { sqs, s3 } = platform.clients;
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: 'logbase-local-format-failures' }),
    );
    const lines = rawObjectLines({ lines: 30, seed: 21 }).lines;

    // Act
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: RAW_KEY, Body: gzipSync(Buffer.concat(lines)) }),
    );
    const failed = await eventually(
      'the on-failure record of the object',
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }))).Messages?.[0],
      40_000,
    );
    const lagging = await status();
    const out: string[] = [];
    await runStatus(
      {
        json: false,
        endpoint: platform.stack.endpoints.http ?? '',
        dataDir: platform.stack.dataDir.root,
        serviceDir: ROOT,
      },
      { out: (l) => out.push(l), err: (l) => out.push(l) },
    );

    // Assess
    expect(lagging.format.backlog.count).toBe(1);
    expect(lagging.format.backlog.oldest?.key).toBe(RAW_KEY);
    expect(lagging.format.failures_queued).toBe(1);
    expect(out.find((l) => l.startsWith('format'))).toMatch(
      /\s1 raw object not formatted, oldest \d+ s \(raw\/events\/dt=2026-03-01\/hour=04\/status-check\.gz\)/,
    );

    // Act: the cause removed, the on-failure record's event handed to the formatter again.
    await rm(manifestFolder());
    const lambda = lambdaClient({ ...process.env, ...platform.stack.env });
    const redriven = await lambda.send(
      new InvokeCommand({
        FunctionName: 'logbase-local-formatParquet',
        Payload: Buffer.from(JSON.stringify(JSON.parse(failed.Body ?? '{}').requestPayload)),
      }),
    );
    lambda.destroy();
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: failed.ReceiptHandle }));
    const recovered = await status();

    // Assess
    expect(redriven.FunctionError).toBeUndefined();
    expect(recovered.format.backlog).toEqual({ count: 0, oldest: null });
    expect(recovered.format.failures_queued).toBe(0);
    expect(recovered.problems).toEqual([]);
    expect(recovered.format.last_activity).not.toBeNull();
    expect(recovered.format.quarantine).toMatchObject({ quarantined: 0, total: 30 });
  }, 90_000);
});
