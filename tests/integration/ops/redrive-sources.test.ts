import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type AttributeValue,
  DeleteTableCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import {
  type RedriveTarget,
  runRedriveArticles,
  runRedriveCollect,
  runRedriveVectors,
} from '../../../cli/commands/redrive-sources';
import { lambdaClient } from '../../../lib/aws/clients';
import { articleItem } from '../../../lib/domain/articles';
import { historyEntries, readHistory } from '../../../lib/domain/user-history';
import { defaultVectorizer } from '../../../lib/domain/vectorizer';
import { encodeVector, normalize, VECTOR_DIMENSIONS } from '../../../lib/domain/vectors';
import { validateArticle } from '../../../lib/schemas/article';
import { silentLog } from '../../../local/log';
import { provision } from '../../../local/provision';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { eventually, listKeys, readObject } from '../local/harness';

/**
 * `logbase redrive collect|articles|vectors` on the whole local platform: what a stage set aside is
 * delivered where it belongs once, and a second run moves nothing.
 */
const platform = usePlatform({
  pollIntervalMs: 50,
  retryDelayMs: 20,
  // The batches failing while UserVectors is gone are expected here; anything else is shown.
  log: {
    ...silentLog,
    error: (m) => {
      if (!/updateUserVectors: \d+ record\(s\), failed after/.test(m)) console.error(m);
    },
  },
});

const EVENTS = resolve(__dirname, '../../../events');

function target(): RedriveTarget {
  const { stack, clients } = platform;
  return {
    s3: clients.s3,
    kinesis: clients.kinesis,
    lambda: lambdaClient({ ...process.env, ...stack.env }),
    bucket: BUCKET,
    region: stack.wiring.region,
    stage: 'local',
    local: true,
    wiring: stack.wiring,
  };
}

/** Every object under a prefix with a hash of its bytes. */
async function objects(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await listKeys(platform.clients.s3, BUCKET, prefix)) {
    out[key] = createHash('sha256')
      .update(await readObject(platform.clients.s3, BUCKET, key))
      .digest('hex');
  }
  return out;
}

const gzLines = async (key: string) =>
  gunzipSync(await readObject(platform.clients.s3, BUCKET, key))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

/** How many times each id is among the stored events (raw/events/ and raw/clicks/), once nothing more can arrive. */
async function storedCounts(ids: readonly string[]): Promise<number[]> {
  const lines = [
    ...(await platform.settledLines('raw/events/')),
    ...(await platform.settledLines('raw/clicks/')),
  ];
  return ids.map((id) => lines.filter((l) => l.event_id === id).length);
}

const hourPrefix = (at: Date) =>
  `dt=${at.toISOString().slice(0, 10)}/hour=${at.toISOString().slice(11, 13)}/`;

describe('logbase redrive collect on the local stack', () => {
  const receivedAt = new Date(Date.now() - 60_000);
  const requestId = `redrive-${randomUUID()}`;
  const wholeId = `redrive-whole-${randomUUID()}`;
  const event = (type: string, extra: object) => ({
    event_id: randomUUID(),
    event_type: type,
    schema_version: 1,
    user_id: 'u_redrive',
    occurred_at: new Date(receivedAt.getTime() - 30_000).toISOString(),
    platform: 'ios',
    app_version: '5.12.0',
    ...extra,
  });
  const click = () => event('click', { article_id: 'art_r1', tab: 'top', position: 1 });
  const impression = () => event('impression', { article_id: 'art_r2', tab: 'top', position: 2 });
  // What an earlier collect with a registry that refused schema_version 1 would have quarantined.
  const passing = [click(), impression(), click()];
  const duplicate = { ...passing[0] };
  const bad = { ...impression(), position: 'two' };
  const inBody = [impression(), click()];
  const line = (e: object, index: number, errors: object[]) => ({
    request_id: requestId,
    received_at: receivedAt.toISOString(),
    index,
    event_id: (e as { event_id: string }).event_id,
    errors,
    raw: JSON.stringify(e),
    raw_encoding: 'utf8',
    source: { ip: '203.0.113.9', user_agent: 'test' },
  });
  const unknownVersion = [{ path: '/schema_version', message: 'must be 2, got 1' }];
  const quarantineKey = `quarantine/collect/${hourPrefix(receivedAt)}${requestId}.jsonl.gz`;
  const wholeKey = `quarantine/collect/${hourPrefix(receivedAt)}${wholeId}.jsonl.gz`;

  beforeAll(async () => {
    const s3 = platform.clients.s3;
    const lines = [
      ...passing.map((e, i) => line(e, i, unknownVersion)),
      line(duplicate, 3, [{ path: '/event_id', message: 'duplicate event_id; first seen at index 0' }]),
      line(bad, 4, [{ path: '/position', message: 'must be an integer, got "two"' }]),
    ];
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: quarantineKey,
        Body: gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join('')),
      }),
    );
    // A body an earlier collect refused whole (a 400), kept as it came.
    const body = inBody.map((e) => JSON.stringify(e)).join('\n');
    const whole = {
      ...line(inBody[0] as object, 0, [{ path: '', message: 'body is not valid JSON: at 1' }]),
      request_id: wholeId,
      index: null,
      event_id: null,
      raw: body,
    };
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: wholeKey, Body: gzipSync(`${JSON.stringify(whole)}\n`) }),
    );
  });

  it('puts the events the registry passes now on the streams once, keeps the rest, and a second run moves nothing', async () => {
    // Prepare: a request collect rejected for real (the fixture's 7 bad events stay bad).
    const fixture = JSON.parse(readFileSync(join(EVENTS, 'http', 'mixed-valid-invalid.json'), 'utf8'));
    const res = await fetch(platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: fixture.body,
    });
    expect(res.status).toBe(202);
    const genuine = Object.fromEntries(
      Object.entries(
        await eventually('the genuine quarantine', async () => {
          const all = await objects('quarantine/collect/');
          return Object.keys(all).length >= 3 ? all : undefined;
        }),
      ).filter(([k]) => k !== quarantineKey && k !== wholeKey),
    );
    const ids = [...passing, ...inBody].map((e) => e.event_id);
    const before = await storedCounts(ids);
    const first: string[] = [];
    const second: string[] = [];
    // Act
    const code = await runRedriveCollect(
      target(),
      { dryRun: false },
      (l) => first.push(l),
      platform.clients.firehose,
    );
    const afterOne = await storedCounts(ids);
    const quarantineAfterOne = await objects('quarantine/collect/');
    await runRedriveCollect(target(), { dryRun: false }, (l) => second.push(l), platform.clients.firehose);
    const afterTwo = await storedCounts(ids);
    // Assess
    expect(first.join('\n')).toMatch(/recorded: /);
    expect(code).toBe(0);
    expect(before).toEqual([0, 0, 0, 0, 0]);
    expect(afterOne).toEqual([1, 1, 1, 1, 1]);
    expect(afterTwo).toEqual(afterOne);
    // The redriven events keep their request and arrival time.
    const stored = (await platform.settledLines('raw/events/')).find(
      (l) => l.event_id === passing[1]?.event_id,
    );
    expect(stored).toMatchObject({ request_id: requestId, received_at: receivedAt.toISOString() });
    // The duplicate and the bad event stay; the whole body left; the real request's object is untouched.
    expect((await gzLines(quarantineKey)).map((l) => l.index)).toEqual([3, 4]);
    expect(Object.keys(quarantineAfterOne)).not.toContain(wholeKey);
    for (const [key, hash] of Object.entries(genuine)) expect(quarantineAfterOne[key]).toBe(hash);
    expect(first).toContainEqual(
      expect.stringMatching(/^\/schema_version must be 2 +3 quarantined +3 redriven to the streams +0 stay$/),
    );
    expect(first).toContainEqual(
      expect.stringMatching(
        /^\/event_id duplicate event_id; first seen at index 0 +2 quarantined +0 redriven to the streams +2 stay$/,
      ),
    );
    expect(first).toContainEqual(
      'put 2 event(s) on logbase-local-events (Firehose), 3 click(s) on logbase-local-clicks (Kinesis)',
    );
    expect(second.find((l) => / quarantine object\(s\), /.test(l))).toMatch(/: 0 redriven, \d+ stay$/);
    const recorded = first.at(-1)?.replace(`recorded: s3://${BUCKET}/`, '') as string;
    expect(recorded).toMatch(/^ops\/runs\/redrive-collect\/dt=\d{4}-\d{2}-\d{2}\/.+\.json$/);
    const record = JSON.parse((await readObject(platform.clients.s3, BUCKET, recorded)).toString('utf8'));
    expect(record).toMatchObject({
      command: 'redrive-collect',
      stage: 'local',
      counts: { delivered: { events: 2, clicks: 3 } },
    });
  });
});

describe('logbase redrive articles on the local stack', () => {
  const TABLE = 'logbase-local-ArticleVectors';
  const receivedAt = new Date();
  const docs = readFileSync(join(EVENTS, 'articles', 'crawl-sample.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 3)
    .map((l) => ({ ...JSON.parse(l), article_id: `art_redrive_${randomUUID().slice(0, 8)}` }));
  const key = `quarantine/articles/${hourPrefix(receivedAt)}req-articles-1.jsonl.gz`;

  const scan = async () =>
    ((await platform.clients.dynamodb.send(new ScanCommand({ TableName: TABLE }))).Items ?? [])
      .filter((i) => String(i.article_id?.S).startsWith('art_redrive_'))
      .sort((a, b) => String(a.article_id?.S).localeCompare(String(b.article_id?.S)));

  it('vectorizes the articles that pass now as vectorize-article does, keeps the rest, and a second run writes nothing', async () => {
    // Prepare: two articles an earlier schema refused, and one with no title (still refused).
    const { title: _none, ...untitled } = docs[2] as Record<string, unknown>;
    const lines = [docs[0], docs[1], untitled].map((d, index) => ({
      received_at: receivedAt.toISOString(),
      index,
      line: index + 1,
      article_id: (d as { article_id: string }).article_id,
      errors: [{ path: '/category', message: 'must be one of news, got "economy"' }],
      raw: JSON.stringify(d),
      source: { kind: 's3', bucket: BUCKET, key: 'articles/crawl-1.jsonl' },
    }));
    await platform.clients.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join('')),
      }),
    );
    const first: string[] = [];
    const second: string[] = [];
    // Act
    const code = await runRedriveArticles(
      target(),
      { dryRun: false },
      (l) => first.push(l),
      platform.clients.dynamodb,
    );
    const afterOne = await scan();
    await runRedriveArticles(target(), { dryRun: false }, (l) => second.push(l), platform.clients.dynamodb);
    const afterTwo = await scan();
    // Assess
    expect(first.join('\n')).toMatch(/recorded: /);
    expect(code).toBe(0);
    expect(afterOne.map((i) => i.article_id?.S)).toEqual([docs[0], docs[1]].map((d) => d?.article_id).sort());
    for (const item of afterOne) {
      const doc = docs.find((d) => d.article_id === item.article_id?.S);
      const checked = validateArticle(doc);
      if (!checked.ok) throw new Error('the sample article is valid');
      const expected = articleItem(checked.article, defaultVectorizer, receivedAt);
      expect(Buffer.from(item.vector?.B as Uint8Array)).toEqual(Buffer.from(expected.vector));
      expect(item.title?.S).toBe(expected.title);
    }
    expect(afterTwo).toEqual(afterOne);
    expect((await gzLines(key)).map((l) => l.index)).toEqual([2]);
    expect(first).toContainEqual(`wrote 2 article(s) to ${TABLE}`);
    const recorded = first.at(-1)?.replace(`recorded: s3://${BUCKET}/`, '') as string;
    expect(recorded).toMatch(/^ops\/runs\/redrive-articles\/dt=\d{4}-\d{2}-\d{2}\/.+\.json$/);
    const record = JSON.parse((await readObject(platform.clients.s3, BUCKET, recorded)).toString('utf8'));
    expect(record).toMatchObject({ command: 'redrive-articles', stage: 'local', counts: { written: 2 } });
    expect(second).toContainEqual(`wrote 0 article(s) to ${TABLE}`);
  });
});

describe('logbase redrive vectors on the local stack', () => {
  const USERS = 'logbase-local-UserVectors';
  const ARTICLES = 'logbase-local-ArticleVectors';
  const QUEUE = 'logbase-local-user-vectors-failures';

  const vectorOf = (seed: number) => {
    let s = seed * 7919 + 13;
    return normalize(
      Float32Array.from({ length: VECTOR_DIMENSIONS }, () => {
        s = (s * 48271) % 2147483647;
        return s / 2147483647 - 0.5;
      }),
    );
  };

  const getUser = async (userId: string) =>
    (
      await platform.clients.dynamodb.send(
        new GetItemCommand({ TableName: USERS, Key: { user_id: { S: userId } }, ConsistentRead: true }),
      )
    ).Item;

  /**
   * What a user's item says: its vector, clicks, counts and version, not its key, write time or the
   * per-shard watermarks of its history (the two users' clicks have their own sequence numbers).
   */
  const content = (item: Record<string, AttributeValue> | undefined) => {
    if (item === undefined) return undefined;
    const history = readHistory(item.history?.B as Uint8Array);
    return {
      vector: Buffer.from(item.vector?.B as Uint8Array).toString('hex'),
      entries: historyEntries(item.history?.B as Uint8Array),
      anchorMs: history.anchorMs,
      norm: history.norm,
      history_length: item.history_length,
      pending: item.pending,
      version: item.version,
    };
  };

  const queueDepth = async () => {
    const sqs = platform.clients.sqs;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: QUEUE }));
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  };

  const post = async (events: object[]) => {
    const res = await fetch(platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ events }),
    });
    expect(res.status).toBe(202);
  };

  it('re-reads the failed batches from the stream and gives the users the vectors of a clean run; a second redrive changes nothing', async () => {
    // Prepare: article vectors, then the clicks of user B while UserVectors is gone (every retry fails).
    const articleIds = ['art_rv_1', 'art_rv_2', 'art_rv_3'];
    for (const [i, id] of articleIds.entries()) {
      await platform.clients.dynamodb.send(
        new PutItemCommand({
          TableName: ARTICLES,
          Item: {
            article_id: { S: id },
            vector: { B: encodeVector(vectorOf(100 + i)) },
            model: { S: 'test-v1' },
            category: { S: 'economy' },
            published_at: { S: '2026-12-01T00:00:00.000Z' },
            title: { S: id },
            updated_at: { S: new Date().toISOString() },
          },
        }),
      );
    }
    const clicks = (userId: string) =>
      articleIds.map((articleId, i) => ({
        event_id: `00000000-0000-4000-8000-00000000000${i}`,
        event_type: 'click',
        schema_version: 1,
        user_id: userId,
        occurred_at: new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString(),
        article_id: articleId,
        tab: 'top',
        position: i,
        platform: 'ios',
        app_version: '5.12.0',
      }));
    const depth = await queueDepth();
    await platform.clients.dynamodb.send(new DeleteTableCommand({ TableName: USERS }));
    await post(clicks('u_redriven'));
    await eventually(
      'the on-failure record of the failed batch',
      async () => ((await queueDepth()) > depth ? true : undefined),
      30_000,
    );
    // The fix: the table is back (as the stack provisions it); a clean run of the same clicks for A.
    const { clients, stack } = platform;
    await provision(stack.wiring, clients, silentLog);
    await post(clicks('u_clean'));
    const clean = await eventually(
      'the clean run applied',
      async () => {
        const item = await getUser('u_clean');
        return item?.history_length?.N === '3' ? item : undefined;
      },
      20_000,
    );
    expect(await getUser('u_redriven')).toBeUndefined();
    const first: string[] = [];
    const second: string[] = [];
    // Act
    const code = await runRedriveVectors(
      target(),
      { dryRun: false },
      (l) => first.push(l),
      platform.clients.sqs,
    );
    const afterOne = await getUser('u_redriven');
    await runRedriveVectors(target(), { dryRun: false }, (l) => second.push(l), platform.clients.sqs);
    const afterTwo = await getUser('u_redriven');
    // Assess
    expect(code).toBe(0);
    expect(content(afterOne)).toEqual(content(clean));
    expect(afterTwo).toEqual(afterOne);
    expect(await queueDepth()).toBe(0);
    expect(first.at(-2)).toMatch(
      /^\d+ failed batch\(es\): \d+ applied, 0 past retention, 0 still failing, 0 unreadable$/,
    );
    expect(first.filter((l) => / applied, message deleted$/.test(l)).length).toBeGreaterThan(0);
    expect(second[0]).toBe(`${QUEUE}: 0 on-failure record(s)`);
    const recorded = first.at(-1)?.replace(`recorded: s3://${BUCKET}/`, '') as string;
    expect(recorded).toMatch(/^ops\/runs\/redrive-vectors\/dt=\d{4}-\d{2}-\d{2}\/.+\.json$/);
    const record = JSON.parse((await readObject(platform.clients.s3, BUCKET, recorded)).toString('utf8'));
    expect(record).toMatchObject({
      command: 'redrive-vectors',
      counts: { past_retention: 0, still_failing: 0, records_applied: 3 },
    });
    expect(record.counts.applied).toBe(record.counts.messages);
  });
});
