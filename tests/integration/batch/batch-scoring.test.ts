import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  DeleteTableCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DuckDBInstance } from '@duckdb/node-api';
import { pushCandidatesTask, pushMartKey } from '../../../lib/batch/push';
import { publishReportTask } from '../../../lib/batch/report';
import {
  articleStatsTask,
  type BatchDeps,
  loadBatchConfig,
  notifyFailureTask,
  recommendationFromItem,
  scoreShardTask,
  shardUsersTask,
  summarizeTask,
  writeRecommendationsTask,
} from '../../../lib/batch/tasks';
import { fitBetaPrior } from '../../../lib/domain/batch/stats';
import { writeHistory } from '../../../lib/domain/user-history';
import { encodeVector, normalize, VECTOR_DIMENSIONS } from '../../../lib/domain/vectors';
import { InProcessInvoker } from '../../../local/invoker';
import { silentLog } from '../../../local/log';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { readParquet } from '../../helpers/parquet';
import { clientsFor, destroyClients, removeDir, tempDataDir } from '../local/harness';

/**
 * The batch-scoring state machine of serverless.yml on the local stack (aws-local-stepfunctions), its
 * Task states running the batch tasks in process against s3rver, dynalite and fauxqs. The lake, the
 * vectors and the users' histories are written by the test; the expected ranking is computed here.
 */
const ROOT = join(__dirname, '../../..');
const MACHINE = 'logbase-local-batch-scoring';
const BUCKET = 'logbase-local-data';
const USERS = 'logbase-local-UserVectors';
const ARTICLES = 'logbase-local-ArticleVectors';
const RECS = 'logbase-local-Recommendations';
const TOPIC = 'arn:aws:sns:ap-northeast-1:000000000000:logbase-local-batch-failures';
const DATE = '2026-11-30';
const AS_OF = Date.parse('2026-12-01T00:00:00Z');
const D = VECTOR_DIMENSIONS;

function vectorOf(seed: number): Float32Array {
  let s = seed * 7919 + 13;
  return normalize(
    Float32Array.from({ length: D }, () => {
      s = (s * 48271) % 2147483647;
      return s / 2147483647 - 0.5;
    }),
  );
}

const ARTICLE_IDS = Array.from({ length: 30 }, (_, i) => `a${String(i).padStart(2, '0')}`);
/** Hours before the as-of instant each article was published (a29 is too old to be fresh). */
const ageOf = (i: number) => (i === 29 ? 100 : i + 1);
/** Impressions and clicks per article on the date (a few with none at all). */
const impressionsOf = (i: number) => (i % 7 === 6 ? 0 : 20 + ((i * 13) % 40));
const clicksOf = (i: number) => (impressionsOf(i) === 0 ? 0 : (i * 5) % 9);
const USER_IDS = ['u1', 'u2', 'u3', 'u4', 'u5'];
/** What each user clicked (their history); u4 has no vector, u5's item is corrupt. */
const CLICKED: Record<string, string[]> = { u1: ['a00', 'a03', 'a99'], u2: ['a10'], u3: [] };

let stack: LocalStack;
let clients: ReturnType<typeof clientsFor>;
let dataDir: string;
let deps: BatchDeps;

function history(ids: string[]): Uint8Array {
  return writeHistory(
    { anchorMs: 0, norm: 1, watermarks: [] },
    undefined,
    0,
    undefined,
    ids.map((id, i) => ({
      hashHi: 1,
      hashLo: i,
      occurredMs: AS_OF - 3_600_000,
      counted: true,
      articleId: Buffer.from(id),
    })),
  );
}

async function writeLake(): Promise<{ impressions: number; clicks: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'batch-lake-'));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'UTC'");
  let impressions = 0;
  let clicks = 0;
  const rows = (kind: 'i' | 'c') =>
    ARTICLE_IDS.flatMap((id, i) => {
      const n = kind === 'i' ? impressionsOf(i) : clicksOf(i);
      if (kind === 'i') impressions += n;
      else clicks += n;
      return Array.from(
        { length: n },
        // the columns the KPI report reads too (event_type, user_id, platform, tab)
        (_, k) =>
          `('${id}', TIMESTAMPTZ '${new Date(AS_OF - 60_000 * (k + 1) * 7).toISOString()}', '${kind === 'i' ? 'impression' : 'click'}', 'u${k % 5}', 'ios', 'top')`,
      );
    });
  for (const [type, kind] of [
    ['impression', 'i'],
    ['click', 'c'],
  ] as const) {
    const file = join(dir, `${type}.parquet`);
    await c.run(
      // With the envelope the lake's dedup rule reads (each row its own event) and the columns the report reads.
      `COPY (SELECT '${kind}' || row_number() OVER () AS event_id, occurred_at AS received_at, 'r' AS request_id, * FROM (VALUES ${rows(kind).join(', ')}) AS t(article_id, occurred_at, event_type, user_id, platform, tab)) TO '${file}' (FORMAT parquet)`,
    );
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `lake/${type}/v1/dt=${DATE}/hour=12/part-0.parquet`,
        Body: readFileSync(file),
      }),
    );
  }
  c.closeSync();
  rmSync(dir, { recursive: true, force: true });
  return { impressions, clicks };
}

async function writeTables(): Promise<void> {
  for (const [i, id] of ARTICLE_IDS.entries()) {
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: ARTICLES,
        Item: {
          article_id: { S: id },
          vector: { B: encodeVector(vectorOf(i + 1)) },
          published_at: { S: new Date(AS_OF - ageOf(i) * 3_600_000).toISOString() },
          model: { S: 'test' },
          category: { S: 'news' },
          title: { S: id },
          updated_at: { S: new Date(AS_OF).toISOString() },
        },
      }),
    );
  }
  // an article without a readable vector: skipped and named
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: ARTICLES,
      Item: {
        article_id: { S: 'broken' },
        vector: { B: new Uint8Array(3) },
        published_at: { S: new Date(AS_OF - 3_600_000).toISOString() },
      },
    }),
  );
  for (const [u, id] of USER_IDS.entries()) {
    const item: Record<string, AttributeValue> = { user_id: { S: id }, version: { N: '1' } };
    if (id !== 'u4') item.vector = { B: encodeVector(vectorOf(100 + u)) };
    item.history = { B: id === 'u5' ? new Uint8Array([7, 7, 7]) : history(CLICKED[id] ?? []) };
    await clients.dynamodb.send(new PutItemCommand({ TableName: USERS, Item: item }));
  }
}

/** The reference ranking: nested loops over the articles the test wrote, its own counts and prior. */
function referenceTop(userSeed: number, clicked: string[], k: number): string[] {
  return referenceScores(userSeed, clicked)
    .slice(0, k)
    .map((s) => s.id);
}

/** The reference scores of a user's fresh, unclicked articles, best first. */
function referenceScores(userSeed: number, clicked: string[]): { id: string; score: number }[] {
  const prior = fitBetaPrior(
    ARTICLE_IDS.map((_, i) => ({ impressions: impressionsOf(i), clicks: clicksOf(i) })),
  );
  const user = vectorOf(userSeed);
  const scored = ARTICLE_IDS.flatMap((id, i) => {
    if (ageOf(i) > 48 || clicked.includes(id)) return [];
    const a = vectorOf(i + 1);
    let dot = 0;
    for (let d = 0; d < D; d++) dot += (user[d] as number) * (a[d] as number);
    const ctr = (clicksOf(i) + prior.alpha) / (impressionsOf(i) + prior.alpha + prior.beta);
    return [{ id, score: dot + ctr + 0.1 * Math.exp(-ageOf(i) / 24) }];
  });
  return scored.sort((x, y) => y.score - x.score);
}

/** Each personal user's best new article by the reference, best user first. */
const BEST = (['u1', 'u2', 'u3'] as const)
  .map((id, u) => ({
    user_id: id,
    ...(referenceScores(100 + u, CLICKED[id] ?? [])[0] as { id: string; score: number }),
  }))
  .sort((x, y) => y.score - x.score);
/** Between the second and third best user's best score: two users clear it, one does not. */
const PUSH_THRESHOLD = ((BEST[1]?.score as number) + (BEST[2]?.score as number)) / 2;
/** The best user was pushed by the day before's run (24 h before the as-of instant: in the cooldown);
 * the second best two days before (48 h: out of it, and not read). */
const PUSHED_BEFORE: { date: string; user_id: string }[] = [
  { date: '2026-11-29', user_id: BEST[0]?.user_id as string },
  { date: '2026-11-28', user_id: BEST[1]?.user_id as string },
];

/** A candidates mart of an earlier date, as PushCandidates writes it. */
async function writePushedMart(date: string, userIds: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'batch-push-'));
  const file = join(dir, 'push_candidates.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const generated = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString();
  const rows = userIds.map((u) => `('${u}', 'a01', 0.9::DOUBLE, 'run-${date}', '${generated}', '${date}')`);
  await c.run(
    `COPY (SELECT * FROM (VALUES ${rows.join(', ')}) AS t(user_id, article_id, score, run_id, generated_at, date)) TO '${file}' (FORMAT parquet)`,
  );
  c.closeSync();
  await clients.s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: pushMartKey(date), Body: readFileSync(file) }),
  );
  rmSync(dir, { recursive: true, force: true });
}

async function pushMartRows(): Promise<Record<string, unknown>[]> {
  const answer = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: pushMartKey(DATE) }));
  return (await readParquet((await answer.Body?.transformToByteArray()) ?? new Uint8Array())).rows;
}

async function recommendations() {
  const page = await clients.dynamodb.send(new ScanCommand({ TableName: RECS }));
  return new Map((page.Items ?? []).map((i) => [i.user_id?.S as string, recommendationFromItem(i)]));
}

async function s3Text(key: string): Promise<string> {
  const answer = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await answer.Body?.transformToString()) ?? '';
}

/** Every task invocation (function key and shard) since the counter was last cleared. */
const invoked: string[] = [];
const counted =
  (key: string, run: (e: any) => Promise<unknown>) =>
  (e: any): Promise<unknown> => {
    const index = e?.shard?.index ?? e?.scored?.index;
    invoked.push(index === undefined ? key : `${key}[${index}]`);
    return run(e);
  };
const invocations = (name: string) => invoked.filter((k) => k === name).length;

beforeAll(async () => {
  dataDir = await tempDataDir();
  const handlers = {
    batchArticleStats: counted('batchArticleStats', (e) => articleStatsTask(e, deps)),
    batchShardUsers: counted('batchShardUsers', (e) => shardUsersTask(e, deps)),
    batchScoreShard: counted('batchScoreShard', (e) => scoreShardTask(e, deps)),
    batchWriteRecommendations: counted('batchWriteRecommendations', (e) =>
      writeRecommendationsTask(e, deps, { sleep: async () => {} }),
    ),
    batchPushCandidates: counted('batchPushCandidates', (e) => pushCandidatesTask(e, deps)),
    batchPublishReport: counted('batchPublishReport', (e) => publishReportTask(e, deps)),
    batchSummarize: counted('batchSummarize', (e) => summarizeTask(e, deps)),
    batchNotifyFailure: counted('batchNotifyFailure', (e) => notifyFailureTask(e, deps)),
  };
  stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: false,
    invoker: new InProcessInvoker(handlers),
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
    log: silentLog,
  });
  clients = clientsFor(stack);
  const env = { ...process.env, ...stack.env };
  deps = {
    // serverless.yml's settings at stage local, three small shards
    config: loadBatchConfig({
      ...env,
      DATA_BUCKET: BUCKET,
      USER_VECTORS_TABLE: USERS,
      ARTICLE_VECTORS_TABLE: ARTICLES,
      RECOMMENDATIONS_TABLE: RECS,
      BATCH_SHARD_SIZE: '2',
      BATCH_FAILURE_TOPIC_ARN: TOPIC,
      BATCH_STATE_MACHINE: MACHINE,
      BATCH_WORK_DIR: join(dataDir, 'batch'),
      BATCH_PUSH_SCORE_THRESHOLD: String(PUSH_THRESHOLD),
    }),
    s3: clients.s3,
    ddb: clients.dynamodb,
    sns: clients.sns,
    now: () => new Date(AS_OF + 3_600_000),
  };
}, 60_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await stack?.stop();
  if (dataDir) await removeDir(dataDir);
}, 30_000);

describe('batch scoring on the local stack', () => {
  let lake: { impressions: number; clicks: number };

  /** The first (clean) run's summary, to compare reruns with. */
  let clean: any;

  beforeAll(async () => {
    lake = await writeLake();
    await writeTables();
    for (const { date, user_id } of PUSHED_BEFORE) await writePushedMart(date, [user_id]);
  }, 30_000);

  it('recommends what the reference ranking computes, gives the popular list to a user without a vector, and names what it skipped', async () => {
    // Act
    const ended = await stack.stepFunctions.start(MACHINE, { date: DATE }).result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    const summary = ended.output as any;
    expect(summary).toMatchObject({
      date: DATE,
      status: 'SUCCEEDED',
      users: 5,
      shards: 3,
      freshArticles: 30,
      recommendations: { written: 4, personal: 3, popular: 1 },
      skipped: { count: 2 },
    });
    expect(summary.articleStats.source).toEqual({ engine: 'duckdb', lakeFiles: { impression: 1, click: 1 } });
    expect(summary.skipped.named.map((s: any) => `${s.kind}:${s.id}`).sort()).toEqual([
      'article:broken',
      'user:u5',
    ]);
    const recs = await recommendations();
    expect(recs.get('u1')?.articles).toEqual(referenceTop(100, CLICKED.u1 as string[], 20));
    expect(recs.get('u2')?.articles).toEqual(referenceTop(101, CLICKED.u2 as string[], 20));
    expect(recs.get('u3')?.articles).toEqual(referenceTop(102, [], 20));
    expect(recs.get('u1')?.articles).not.toContain('a00');
    expect(recs.get('u4')).toMatchObject({
      source: 'popular',
      generated_at: '2026-12-01T00:00:00.000Z',
      run_id: ended.executionId,
    });
    expect(recs.get('u4')?.articles).toHaveLength(20);
    expect(recs.has('u5')).toBe(false);
    // the KPI report's data-quality panel names the same skipped article and user item
    const report = JSON.parse(await s3Text(`reports/kpi/dt=${DATE}/report.json`));
    expect(report.data_quality.skipped_articles).toEqual({
      count: 1,
      items: [{ article_id: 'broken', reason: expect.any(String) }],
    });
    expect(report.data_quality.unreadable_user_items).toEqual({
      count: 1,
      items: [{ user_id: 'u5', reason: expect.any(String) }],
    });
    expect(report.headline.impressions.value).toBe(lake.impressions);
    clean = summary;
  }, 60_000);

  it('writes as push candidates the users whose best new article clears the threshold, except one pushed within the cooldown', async () => {
    // Prepare: the first run's outputs (the test above)
    const [best, second, third] = BEST;

    // Act
    const rows = await pushMartRows();

    // Assess
    expect(clean.push).toEqual({
      users: 4,
      candidates: 1,
      belowThreshold: 1,
      inCooldown: 1,
      popular: 1,
      noArticle: 0,
      mart: `marts/push_candidates/dt=${DATE}/push_candidates.parquet`,
      threshold: PUSH_THRESHOLD,
      cooldownHours: 24,
      historyFiles: 1,
    });
    expect(rows).toEqual([
      {
        user_id: second?.user_id,
        article_id: second?.id,
        score: expect.closeTo(second?.score as number, 5),
        run_id: clean.runId,
        generated_at: '2026-12-01T00:00:00.000Z',
        date: DATE,
      },
    ]);
    expect(rows.map((r) => r.user_id)).not.toContain(best?.user_id);
    expect(rows.map((r) => r.user_id)).not.toContain(third?.user_id);
    expect(rows.map((r) => r.user_id)).not.toContain('u4');
  }, 60_000);

  it('writes article stats whose counts equal the lake, and a second run of the date gives the same mart and recommendations', async () => {
    // Prepare
    const before = await recommendations();
    const martKey = `marts/article_stats/dt=${DATE}/article_stats.parquet`;
    const firstMart = await s3Text(martKey);

    // Act
    const again = await stack.stepFunctions.start(MACHINE, { date: DATE }).result;

    // Assess
    expect(again.status).toBe('SUCCEEDED');
    const after = await recommendations();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, rec] of before) expect({ ...after.get(id), run_id: '' }).toEqual({ ...rec, run_id: '' });
    expect(await s3Text(martKey)).toBe(firstMart);
    expect((await pushMartRows()).map((r) => ({ ...r, run_id: '' }))).toEqual([
      expect.objectContaining({ user_id: BEST[1]?.user_id, run_id: '' }),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'batch-mart-'));
    const file = join(dir, 'mart.parquet');
    const answer = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: martKey }));
    writeFileSync(file, (await answer.Body?.transformToByteArray()) ?? new Uint8Array());
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const [row] = (
      await c.runAndReadAll(
        `SELECT sum(impressions_7d)::INT AS i, sum(clicks_7d)::INT AS c, count(*)::INT AS n FROM '${file}'`,
      )
    ).getRowObjectsJS();
    c.closeSync();
    rmSync(dir, { recursive: true, force: true });
    expect(row).toEqual({
      i: lake.impressions,
      c: lake.clicks,
      n: ARTICLE_IDS.filter((_, i) => impressionsOf(i) + clicksOf(i) > 0).length,
    });
  }, 60_000);

  it('retries a task that fails once (S3 refuses its read, or its write) and ends with the results of a clean run, not doubled', async () => {
    // Prepare: shard 1's WriteRecommendations cannot read its scores once; PushCandidates cannot write its mart once
    const before = await recommendations();
    const cleanRows = await pushMartRows();
    const scores = `batch/dt=${DATE}/scores/0001.json`;
    stack.s3.injectFaults({ method: 'GET', key: scores }, { method: 'PUT', key: pushMartKey(DATE) });
    invoked.length = 0;

    // Act
    const ended = await stack.stepFunctions.start(MACHINE, { date: DATE }).result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    expect(stack.s3.refused('GET', scores)).toBe(1);
    expect(stack.s3.refused('PUT', pushMartKey(DATE))).toBe(1);
    expect(invocations('batchWriteRecommendations[1]')).toBe(2);
    expect(invocations('batchPushCandidates')).toBe(2);
    expect(invocations('batchWriteRecommendations[0]')).toBe(1);
    expect(invocations('batchWriteRecommendations[2]')).toBe(1);
    expect(invocations('batchArticleStats')).toBe(1);
    expect(invocations('batchSummarize')).toBe(1);
    expect(invocations('batchNotifyFailure')).toBe(0);
    const summary = ended.output as any;
    expect(summary.recommendations).toEqual({ written: 4, personal: 3, popular: 1 });
    expect({ ...summary, runId: '' }).toEqual({ ...clean, runId: '' });
    const after = await recommendations();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, rec] of before) expect({ ...after.get(id), run_id: '' }).toEqual({ ...rec, run_id: '' });
    const rows = await pushMartRows();
    expect(rows.map((r) => ({ ...r, run_id: '' }))).toEqual(cleanRows.map((r) => ({ ...r, run_id: '' })));
    expect(rows[0]?.run_id).toBe(ended.executionId);
  }, 60_000);

  it('ends a run whose task keeps failing in FAILED, naming the task, and the SNS notice reaches a subscribed queue', async () => {
    // Prepare
    const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'batch-failures-inbox' }));
    const attrs = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn: TOPIC,
        Protocol: 'sqs',
        Endpoint: attrs.Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    await clients.dynamodb.send(new DeleteTableCommand({ TableName: RECS }));
    invoked.length = 0;

    // Act
    const ended = await stack.stepFunctions.start(MACHINE, { date: DATE }).result;

    // Assess
    expect(ended.status).toBe('FAILED');
    expect(ended.error).toBe('BatchTaskFailed');
    expect(ended.cause).toMatch(
      /^WriteRecommendations failed: RecommendationsWriteError: 2 of 2 recommendations not written \(first: u\d, ResourceNotFoundException/,
    );
    const received = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 5 }),
    );
    const notice = JSON.parse(received.Messages?.[0]?.Body ?? '{}');
    expect(notice).toMatchObject({ failed_task: 'WriteRecommendations', date: DATE, state_machine: MACHINE });
    expect(notice.cause).toMatch(/ResourceNotFoundException/);
    // it kept failing: the first attempt and both retries of the state's Retry, then no further task
    const attempts = [0, 1, 2].map((i) => invocations(`batchWriteRecommendations[${i}]`));
    expect(Math.max(...attempts)).toBe(3);
    expect(invocations('batchPushCandidates')).toBe(0);
    expect(invocations('batchSummarize')).toBe(0);
    expect(invocations('batchNotifyFailure')).toBe(1);
  }, 60_000);
});
