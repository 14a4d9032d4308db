import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { eventsUrl, sendEvents } from '../../../cli/commands/send';
import { silentLog } from '../../../local/log';
import { type LocalStack, startLocalStack } from '../../../local/stack';

/**
 * `logbase send` with generated traffic against the whole local platform: what the summary says must be
 * exactly what lands in the bucket.
 */
const ROOT = resolve(__dirname, '../../..');
const BUCKET = 'logbase-local-data';

let stack: LocalStack;
let dataDir: string;
let s3: S3Client;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'logbase-send-'));
  stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: true,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, http: 0, lambda: 0 },
    log: { ...silentLog, error: (m) => console.error(m) },
  });
  s3 = new S3Client({
    endpoint: stack.endpoints.s3,
    region: 'ap-northeast-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function linesUnder(prefix: string): Promise<any[]> {
  const lines: any[] = [];
  const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  for (const o of page.Contents ?? []) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line));
  }
  return lines;
}

describe('When logbase send posts generated traffic with 5% broken events to the local stack', () => {
  it('lands every accepted event exactly once and quarantines every rejected one', async () => {
    // Act
    const summary = await sendEvents({
      endpoint: eventsUrl(stack.endpoints.http!),
      apiKey: 'lb_local_0123456789abcdef',
      input: { generate: 3000, traffic: { seed: 7, invalidShare: 0.05 } },
      batchSize: 250,
    });
    await stack.firehose.flush();

    // Assess: the summary adds up and matches what was broken on purpose.
    expect(summary.failed).toBe(0);
    expect(summary.accepted + summary.rejected).toBe(3000);
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.expectation).toMatchObject({ validRejected: 0, invalidAccepted: 0 });

    // Assess: the bucket holds exactly the accepted events, once each, clicks apart from the rest.
    let raw: any[] = [];
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await stack.firehose.flush();
      raw = [...(await linesUnder('raw/events/')), ...(await linesUnder('raw/clicks/'))];
      if (raw.length >= summary.accepted) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(raw).toHaveLength(summary.accepted);
    expect(new Set(raw.map((e) => e.event_id)).size).toBe(summary.accepted);
    const clicks = await linesUnder('raw/clicks/');
    expect(clicks.length).toBeGreaterThan(0);
    expect(clicks.every((e) => e.event_type === 'click')).toBe(true);
    const quarantined = await linesUnder('quarantine/collect/');
    expect(quarantined).toHaveLength(summary.rejected);
  });
});
