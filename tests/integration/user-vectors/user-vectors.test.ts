import { randomUUID } from 'node:crypto';
import { type AttributeValue, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { lambdaClient } from '../../../lib/aws/clients';
import { encodeVector, normalize, VECTOR_DIMENSIONS } from '../../../lib/domain/vectors';
import { kinesisEvent } from '../../../local/kinesis/events';
import { silentLog } from '../../../local/log';
import { API_KEY, usePlatform } from '../collect/platform';
import { eventually } from '../local/harness';

/**
 * update-user-vectors end to end on the embedded stack: clicks posted to collect reach Kinesis, the local
 * poller hands batches to the function in serverless-offline, and the users' items change in dynalite.
 */
const platform = usePlatform({
  pollIntervalMs: 50,
  retryDelayMs: 20,
  // The poison record's batch failing every retry is expected here; anything else is shown.
  log: {
    ...silentLog,
    error: (m) => {
      if (!/updateUserVectors: \d+ record\(s\), failed after/.test(m)) console.error(m);
    },
  },
});

const USERS = 'logbase-local-UserVectors';
const ARTICLES = 'logbase-local-ArticleVectors';
const STREAM = 'logbase-local-clicks';
const FUNCTION = 'logbase-local-updateUserVectors';
const FAILURES_QUEUE = 'logbase-local-user-vectors-failures';
const HALF_LIFE_MS = 24 * 3600 * 1000;

// ------------------------------------------------------------------ helpers

/** A unit vector from a seed (its own generator, so articles differ). */
function vectorOf(seed: number): Float32Array {
  let s = seed * 7919 + 13;
  return normalize(
    Float32Array.from({ length: VECTOR_DIMENSIONS }, () => {
      s = (s * 48271) % 2147483647;
      return s / 2147483647 - 0.5;
    }),
  );
}

const articles = new Map<string, Float32Array>();

/** Stores ArticleVectors items as vectorize-article writes them (lib/domain/vectors.ts). */
async function putArticles(ids: string[]): Promise<void> {
  for (const id of ids) {
    const vector = vectorOf(articles.size + 1);
    articles.set(id, vector);
    await platform.clients.dynamodb.send(
      new PutItemCommand({
        TableName: ARTICLES,
        Item: {
          article_id: { S: id },
          vector: { B: encodeVector(vector) },
          model: { S: 'test-v1' },
          category: { S: 'economy' },
          published_at: { S: '2026-12-01T00:00:00.000Z' },
          title: { S: id },
          updated_at: { S: new Date().toISOString() },
        },
      }),
    );
  }
}

interface Click {
  event_id: string;
  user_id: string;
  article_id: string;
  occurred_at: string;
}

const click = (userId: string, articleId: string, secondsAgo: number) => ({
  event_id: randomUUID(),
  event_type: 'click',
  schema_version: 1,
  user_id: userId,
  occurred_at: new Date(Date.now() - secondsAgo * 1000).toISOString(),
  article_id: articleId,
  tab: 'top',
  position: 1,
  platform: 'ios',
  app_version: '5.12.0',
});

async function postEvents(events: object[]): Promise<void> {
  const res = await fetch(platform.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ events }),
  });
  expect(res.status).toBe(202);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
}

/**
 * The vector the plain way: every click whose article has a vector, weighted 2^-(age / half-life) from
 * the newest click, summed, L2-normalised.
 */
function expectedVector(clicks: Click[]): number[] {
  const newest = Math.max(...clicks.map((c) => Date.parse(c.occurred_at)));
  const sum = new Array<number>(VECTOR_DIMENSIONS).fill(0);
  for (const c of clicks) {
    const v = articles.get(c.article_id);
    if (!v) continue;
    const w = 0.5 ** ((newest - Date.parse(c.occurred_at)) / HALF_LIFE_MS);
    v.forEach((x, d) => {
      sum[d] = (sum[d] as number) + w * x;
    });
  }
  const length = Math.hypot(...sum);
  return sum.map((x) => x / length);
}

const getUser = async (userId: string) =>
  (
    await platform.clients.dynamodb.send(
      new GetItemCommand({ TableName: USERS, Key: { user_id: { S: userId } }, ConsistentRead: true }),
    )
  ).Item;

const vectorOfItem = (item: Record<string, AttributeValue>) => {
  const b = Buffer.from(item.vector?.B as Uint8Array);
  return Array.from({ length: VECTOR_DIMENSIONS }, (_, d) => b.readFloatLE(d * 4));
};

const expectClose = (actual: number[], expected: number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((x, d) => {
    expect(x).toBeCloseTo(expected[d] as number, 5);
  });
};

/** Every item of UserVectors, each as its attributes' exact bytes (binary as hex). */
async function snapshotUsers(): Promise<Map<string, string>> {
  const out = await platform.clients.dynamodb.send(
    new ScanCommand({ TableName: USERS, ConsistentRead: true }),
  );
  return new Map(
    (out.Items ?? []).map((item) => [
      item.user_id?.S as string,
      JSON.stringify(
        Object.entries(item)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, v.B ? Buffer.from(v.B).toString('hex') : v]),
      ),
    ]),
  );
}

/** Every record now in the clicks stream (one shard locally). */
async function streamRecords() {
  const { kinesis } = platform.clients;
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: STREAM,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const out = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 10_000 }));
  return out.Records ?? [];
}

/** Invokes update-user-vectors in serverless-offline, as Lambda's poller would. */
async function invokeFunction(event: unknown): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const lambda = lambdaClient({ ...process.env, ...platform.stack.env });
  try {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: FUNCTION, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    const text = Buffer.from(out.Payload ?? new Uint8Array()).toString();
    if (out.FunctionError) throw new Error(`${FUNCTION} failed: ${text}`);
    return JSON.parse(text);
  } finally {
    lambda.destroy();
  }
}

/** A Kinesis event for records that never went through the stream, from a given shard. */
function syntheticEvent(shardId: string, lines: object[], firstSequence: bigint) {
  const records = lines.map((line, i) => ({
    Data: Buffer.from(`${JSON.stringify(line)}\n`),
    PartitionKey: (line as { user_id: string }).user_id,
    SequenceNumber: (firstSequence + BigInt(i) * 10n).toString(),
    ApproximateArrivalTimestamp: new Date(),
  }));
  return kinesisEvent(records, {
    shardId,
    region: platform.stack.wiring.region,
    streamArn: `arn:aws:kinesis:${platform.stack.wiring.region}:000000000000:stream/${STREAM}`,
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
  });
}

// ------------------------------------------------------------------ tests

describe('User vectors on the local stack', () => {
  beforeAll(async () => {
    await putArticles(['art_a', 'art_b', 'art_c', 'art_d', 'art_e', 'art_f']);
  });

  it("changes the user's vector within seconds of clicks posted to collect, to the decayed mean of the clicked articles", async () => {
    // Prepare
    const userId = `u_${randomUUID().slice(0, 8)}`;
    const clicks = [click(userId, 'art_a', 7200), click(userId, 'art_b', 3600), click(userId, 'art_c', 60)];

    // Act
    await postEvents(clicks);

    // Assess
    const item = await eventually(
      `${userId}'s vector`,
      async () => {
        const found = await getUser(userId);
        return found?.history_length?.N === '3' ? found : undefined;
      },
      10_000,
    );
    expectClose(vectorOfItem(item), expectedVector(clicks));

    const res = await fetch(`${platform.stack.endpoints.http}/v1/users/${userId}/vector`, {
      headers: { 'x-api-key': API_KEY },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { vector: number[]; updated_at: string };
    expect(body).toMatchObject({ user_id: userId, history_length: 3, pending: 0 });
    expectClose(body.vector, expectedVector(clicks));
    expect(Date.parse(body.updated_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('answers 404 with a message for a user with no vector, and 401 without the API key', async () => {
    const url = `${platform.stack.endpoints.http}/v1/users/u_nobody/vector`;
    const missing = await fetch(url, { headers: { 'x-api-key': API_KEY } });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toBe(
      'no vector for user "u_nobody": none of their clicks has been applied',
    );
    expect((await fetch(url)).status).toBe(401);
  });

  it('leaves every item unchanged, byte for byte, when the stream records are delivered again', async () => {
    // Prepare: a few users with more clicks, all applied
    const clicks = ['u_r1', 'u_r2', 'u_r3'].flatMap((u, i) =>
      ['art_a', 'art_d', 'art_e', 'art_f'].map((a, j) => click(`${u}_${i}`, a, 100 - j)),
    );
    await postEvents(clicks);
    await eventually(
      'the replay users written',
      async () => (await getUser('u_r3_2'))?.history_length?.N === '4',
    );
    const records = await streamRecords();
    const before = await snapshotUsers();

    // Act: the whole stream so far, as one batch, again
    const response = await invokeFunction(
      kinesisEvent(records, {
        shardId: 'shardId-000000000000',
        region: platform.stack.wiring.region,
        streamArn: `arn:aws:kinesis:${platform.stack.wiring.region}:000000000000:stream/${STREAM}`,
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
      }),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(records.length).toBeGreaterThanOrEqual(clicks.length);
    expect(await snapshotUsers()).toEqual(before);
  });

  it('reports a poison record alone, sends it to the on-failure queue after the retries, and applies the rest', async () => {
    // Prepare: a click, a record that is not an event, and two more clicks, on the stream
    const userId = 'u_poison_neighbour';
    const { kinesis } = platform.clients;
    const put = (data: string, key: string) =>
      kinesis.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: key, Data: Buffer.from(data) }));
    const good = [click(userId, 'art_a', 30), click(userId, 'art_b', 20), click(userId, 'art_c', 10)];
    await put(`${JSON.stringify(good[0])}\n`, userId);
    const poison = await put('{"event_type":"click","user_id":', 'u_broken');
    await put(`${JSON.stringify(good[1])}\n`, userId);
    await put(`${JSON.stringify(good[2])}\n`, userId);

    // Act: the poller retries from the poison record until its attempts run out, then sends the batch's
    // description to the on-failure queue of serverless.yml
    const { sqs } = platform.clients;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: FAILURES_QUEUE }));
    const failed = await eventually(
      'the on-failure record of the poison record',
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const message of out.Messages ?? []) {
          const body = JSON.parse(message.Body ?? '{}');
          if (body.KinesisBatchInfo?.startSequenceNumber === poison.SequenceNumber) return body;
        }
        return undefined;
      },
      20_000,
    );

    // Assess
    expect(failed.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(failed.KinesisBatchInfo).toMatchObject({ shardId: 'shardId-000000000000', batchSize: 3 });
    const item = await getUser(userId);
    expect(item?.history_length?.N).toBe('3');
    expectClose(vectorOfItem(item as Record<string, AttributeValue>), expectedVector(good));

    // The function itself names only the poison record as failed.
    const direct = await invokeFunction(
      syntheticEvent(
        'shardId-000000000009',
        [click('u_direct', 'art_a', 5), { not: 'a click' }, click('u_direct', 'art_b', 4)],
        900n,
      ),
    );
    expect(direct).toEqual({ batchItemFailures: [{ itemIdentifier: '910' }] });
    expect((await getUser('u_direct'))?.history_length?.N).toBe('2');
  });

  it('loses no click when two batches touching the same user run at the same time', async () => {
    // Prepare: two shards' batches (Lambda runs one batch per shard at a time, shards in parallel)
    const userId = 'u_concurrent';
    const left = Array.from({ length: 6 }, (_, i) =>
      click(userId, ['art_a', 'art_b', 'art_c'][i % 3] as string, 600 - i),
    );
    const right = Array.from({ length: 6 }, (_, i) =>
      click(userId, ['art_d', 'art_e', 'art_f'][i % 3] as string, 300 - i),
    );

    // Act
    const responses = await Promise.all([
      invokeFunction(syntheticEvent('shardId-000000000001', left, 1000n)),
      invokeFunction(syntheticEvent('shardId-000000000002', right, 1000n)),
    ]);

    // Assess
    expect(responses).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    const item = await getUser(userId);
    expect(item?.history_length?.N).toBe('12');
    expectClose(vectorOfItem(item as Record<string, AttributeValue>), expectedVector([...left, ...right]));
  });
});
