/**
 * update-user-vectors benchmark (npm run bench:vectors): the batch the issue sets (10,000 records, about
 * 2,000 users skewed so the busiest has about 200 clicks, 5,000 articles of 128 dimensions, 2% resent
 * clicks, 10% new users), measured four ways in one run. See bench/README.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { eventsUrl } from '../cli/client/endpoint';
import { DynamoUserVectorStore, putUserInput } from '../lib/aws/user-vectors';
import type { StoredUser } from '../lib/domain/user-vectors';
import {
  DEFAULT_OPTIONS,
  type StreamRecord,
  type UserVectorOptions,
  updateUserVectors,
} from '../lib/domain/user-vectors';
import { encodeVector, normalize, VECTOR_DIMENSIONS } from '../lib/domain/vectors';
import { silentLog } from '../local/log';
import { startLocalStack } from '../local/stack';
import { MemoryUserVectorStore } from '../tests/helpers/memory-store';

const ROOT = resolve(__dirname, '..');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RECORDS = env('BENCH_RECORDS', 10_000);
const USERS = env('BENCH_USERS', 2_000);
const ARTICLES = env('BENCH_ARTICLES', 5_000);
const RESENT_SHARE = env('BENCH_RESENT_SHARE', 0.02);
const NEW_USER_SHARE = env('BENCH_NEW_USER_SHARE', 0.1);
const ROUNDS = env('BENCH_ROUNDS', 7);
const DYNALITE_ROUNDS = env('BENCH_DYNALITE_ROUNDS', 3);
const FRESHNESS_CLICKS = env('BENCH_FRESHNESS_CLICKS', 300);
const FRESHNESS_REQUESTS_PER_S = env('BENCH_FRESHNESS_RATE', 10);
const FRESHNESS_PER_REQUEST = env('BENCH_FRESHNESS_PER_REQUEST', 3);
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ------------------------------------------------------------------ the data set

/** A small seeded generator (mulberry32), so every run builds the same batch. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20261201);
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = () => {
  const h = hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

/** Cumulative Zipf weights over n ranks, for sampling. */
function zipf(n: number, s: number): Float64Array {
  const c = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) c[k] = total += 1 / (k + 1) ** s;
  for (let k = 0; k < n; k++) c[k] = (c[k] as number) / total;
  return c;
}
function sample(cumulative: Float64Array): number {
  const x = random();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const articleIds = Array.from({ length: ARTICLES }, () => `art_${hex(10)}`);
const articleVectors = articleIds.map(() =>
  encodeVector(normalize(Float32Array.from({ length: VECTOR_DIMENSIONS }, () => random() - 0.5))),
);
const articlePopularity = zipf(ARTICLES, 0.9);
const userIds = Array.from({ length: USERS }, () => `u_${hex(12)}`);
const existing = userIds.slice(0, Math.round(USERS * (1 - NEW_USER_SHARE)));

let sequence = 49_656_612_785_364_119_820_447_201_397_815_380_108_233_432_916_357_087_234n;
const requestId = randomUUID();
/** A click as collect writes it to the stream (JSON line with received_at and request_id). */
function record(userId: string, articleId: string, occurredMs: number, eventId = uuid()): StreamRecord {
  const occurred = new Date(occurredMs).toISOString();
  const event = {
    event_id: eventId,
    event_type: 'click',
    schema_version: 1,
    user_id: userId,
    occurred_at: occurred,
    article_id: articleId,
    tab: 'top',
    position: Math.floor(random() * 20),
    platform: 'ios',
    app_version: '5.12.0',
    received_at: occurred,
    request_id: requestId,
  };
  sequence += 1_000_003n;
  return {
    data: Buffer.from(`${JSON.stringify(event)}\n`).toString('base64'),
    sequenceNumber: sequence.toString(),
    shardId: 'shardId-000000000000',
  };
}

const NOW = Date.UTC(2026, 11, 1, 12);
const OPTIONS: UserVectorOptions = { ...DEFAULT_OPTIONS, now: () => new Date(NOW) };

/** Earlier clicks that fill every existing user's history (N each, over the last week). */
function historyRecords(): { records: StreamRecord[]; clicksOf: Map<string, StreamRecord[]> } {
  const clicksOf = new Map<string, StreamRecord[]>();
  const records: StreamRecord[] = [];
  for (let i = 0; i < OPTIONS.historyLength; i++) {
    for (const u of existing) {
      const r = record(
        u,
        articleIds[sample(articlePopularity)] as string,
        NOW - 7 * 86400_000 + i * 3 * 3600_000,
      );
      records.push(r);
      const list = clicksOf.get(u) ?? [];
      if (list.length === 0) clicksOf.set(u, list);
      list.push(r);
    }
  }
  return { records, clicksOf };
}

/** The benchmark batch: every user at least once, the rest skewed; 2% of it clicks resent with their old event id. */
function benchBatch(clicksOf: Map<string, StreamRecord[]>) {
  const resent = Math.round(RECORDS * RESENT_SHARE);
  const fresh = RECORDS - resent;
  const owners: string[] = [...userIds];
  const skew = zipf(USERS, 0.62);
  while (owners.length < fresh) owners.push(userIds[sample(skew)] as string);
  for (let i = owners.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [owners[i], owners[j]] = [owners[j] as string, owners[i] as string];
  }
  const records: StreamRecord[] = owners.map((u, i) =>
    record(u, articleIds[sample(articlePopularity)] as string, NOW - 60_000 + i * 6),
  );
  for (let i = 0; i < resent; i++) {
    const u = existing[Math.floor(random() * existing.length)] as string;
    const old = clicksOf.get(u) as StreamRecord[];
    const again = old[old.length - 1 - Math.floor(random() * 10)] as StreamRecord;
    const text = JSON.parse(Buffer.from(again.data, 'base64').toString());
    const copy = record(u, text.article_id, Date.parse(text.occurred_at), text.event_id);
    records.splice(Math.floor(random() * records.length), 0, copy);
  }
  // Sequence numbers in stream order.
  const seqs = records.map((r) => BigInt(r.sequenceNumber)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  records.forEach((r, i) => {
    r.sequenceNumber = (seqs[i] as bigint).toString();
  });
  const per = new Map<string, number>();
  const arts = new Set<string>();
  for (const r of records) {
    const e = JSON.parse(Buffer.from(r.data, 'base64').toString());
    per.set(e.user_id, (per.get(e.user_id) ?? 0) + 1);
    arts.add(e.article_id);
  }
  return {
    records,
    busiest: Math.max(...per.values()),
    users: per.size,
    userIds: [...per.keys()],
    articles: arts.size,
  };
}

// ------------------------------------------------------------------ compute against the floor

/** A memory store holding the articles and the users as they were before the batch. */
function storeFrom(
  users: Map<string, StoredUser>,
  store = new MemoryUserVectorStore(),
): MemoryUserVectorStore {
  for (let i = 0; i < articleIds.length; i++)
    store.articles.set(articleIds[i] as string, articleVectors[i] as Uint8Array);
  for (const [id, u] of users) store.users.set(id, u);
  return store;
}

/** A DynamoDB client whose HTTP handler answers every request at once with `{}`: what runs is the SDK's own work (middleware, serialization, signing). */
function instantDynamo(): DynamoDBClient {
  return new DynamoDBClient({
    region: 'ap-northeast-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    endpoint: 'http://127.0.0.1:1',
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from('{}')]),
        },
      }),
    } as never,
  });
}

/**
 * The PutItem request body as the SDK's JSON protocol (awsJson1_0) writes it: attribute values as they
 * are, binaries base64-encoded. What "marshalling the writes" costs, without the SDK client around it.
 */
function putItemBody(item: StoredUser, expected: number | undefined): string {
  const input = putUserInput('logbase-bench-UserVectors', item, expected);
  const wire: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input.Item)) {
    wire[name] =
      'B' in value
        ? { B: Buffer.from(value.B.buffer, value.B.byteOffset, value.B.byteLength).toString('base64') }
        : value;
  }
  return JSON.stringify({ ...input, Item: wire });
}

/**
 * A memory store whose writes are also marshalled: `input` builds the PutItem input (attribute values, what
 * util-dynamodb's marshall makes and the issue's marshalling figures measure), `body` also the JSON request
 * body, `sdk` sends it through a DynamoDB client whose HTTP handler answers at once.
 */
class MarshallingStore extends MemoryUserVectorStore {
  size = 0;
  constructor(
    private readonly how: 'input' | 'body' | 'sdk',
    private readonly client?: DynamoDBClient,
  ) {
    super();
  }
  override async putUser(item: StoredUser, expected: number | undefined): Promise<boolean> {
    const input = putUserInput('logbase-bench-UserVectors', item, expected);
    if (this.how === 'input') this.size += Object.keys(input.Item).length;
    else if (this.how === 'body') this.size += putItemBody(item, expected).length;
    else await this.client?.send(new PutItemCommand(input));
    return super.putUser(item, expected);
  }
}

function floorOnce(records: readonly StreamRecord[]): number {
  let n = 0;
  for (const r of records) if (JSON.parse(Buffer.from(r.data, 'base64').toString()) !== null) n++;
  return n;
}

/** CPU time (user + system, this process: GC threads included) and wall time of one run, in ms. */
async function measure(run: () => unknown): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}

type Variant = 'plain' | 'input' | 'body' | 'sdk';

async function compute(records: StreamRecord[], before: Map<string, StoredUser>) {
  const client = instantDynamo();
  const stores: Record<Variant, () => MemoryUserVectorStore> = {
    plain: () => new MemoryUserVectorStore(),
    input: () => new MarshallingStore('input'),
    body: () => new MarshallingStore('body'),
    sdk: () => new MarshallingStore('sdk', client),
  };
  let last:
    | { store: MemoryUserVectorStore; result: Awaited<ReturnType<typeof updateUserVectors>> }
    | undefined;
  const once = async (variant: Variant) => {
    const store = storeFrom(before, stores[variant]());
    let result: Awaited<ReturnType<typeof updateUserVectors>> | undefined;
    const m = await measure(async () => {
      result = await updateUserVectors(records, store, OPTIONS);
    });
    if (!result || result.failures.size > 0) throw new Error(`${result?.failures.size} records failed`);
    if (variant === 'plain') last = { store, result };
    return m;
  };
  const runs: Record<'floor' | Variant, { cpu: number; wall: number }[]> = {
    floor: [],
    plain: [],
    input: [],
    body: [],
    sdk: [],
  };
  const steps: [keyof typeof runs, () => Promise<{ cpu: number; wall: number }>][] = [
    ['floor', () => measure(() => floorOnce(records))],
    ['plain', () => once('plain')],
    ['input', () => once('input')],
    ['body', () => once('body')],
    ['sdk', () => once('sdk')],
  ];
  for (let i = 0; i < 2; i++) for (const [, step] of steps) await step();
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order per round, so no path always runs first.
    for (let k = 0; k < steps.length; k++) {
      const [name, step] = steps[(k + round) % steps.length] as (typeof steps)[number];
      runs[name].push(await step());
    }
  }
  client.destroy();
  const rate = (name: keyof typeof runs, clock: 'cpu' | 'wall') =>
    records.length / (median(runs[name].map((r) => r[clock])) / 1000);
  const figures = (clock: 'cpu' | 'wall') => ({
    floor: rate('floor', clock),
    plain: rate('plain', clock),
    input: rate('input', clock),
    body: rate('body', clock),
    sdk: rate('sdk', clock),
  });
  return { cpu: figures('cpu'), wall: figures('wall'), last: last as NonNullable<typeof last> };
}

// ------------------------------------------------------------------ against dynalite

/** dynalite in a child process (its own core), on a free port. */
async function startDynalite(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const d=require('dynalite')({createTableMs:0,updateTableMs:0,deleteTableMs:0});d.listen(0,'127.0.0.1',()=>console.log(d.address().port))",
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolvePort, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (chunk) => resolvePort(String(chunk).trim()));
  });
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

function userItem(u: StoredUser) {
  return putUserInput('', u, undefined).Item;
}

async function againstDynalite(records: StreamRecord[], before: Map<string, StoredUser>) {
  const { endpoint, child } = await startDynalite();
  const requests = new Map<string, number>();
  const client = new DynamoDBClient({
    region: 'ap-northeast-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000 }),
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.set(context.commandName as string, (requests.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize' },
  );
  const tables = { users: 'logbase-bench-UserVectors', articles: 'logbase-bench-ArticleVectors' };
  try {
    for (const [name, key] of [
      [tables.users, 'user_id'],
      [tables.articles, 'article_id'],
    ] as const) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
        }),
      );
    }
    const writeAll = async (table: string, items: Record<string, unknown>[]) => {
      for (let i = 0; i < items.length; i += 25) {
        let pending = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
        while (pending.length) {
          const out = await client.send(
            new BatchWriteItemCommand({ RequestItems: { [table]: pending as never } }),
          );
          pending = (out.UnprocessedItems?.[table] ?? []) as never;
        }
      }
    };
    await writeAll(
      tables.articles,
      articleIds.map((id, i) => ({
        article_id: { S: id },
        vector: { B: articleVectors[i] },
        model: { S: 'bench' },
      })),
    );
    const walls: number[] = [];
    let calls: Record<string, number> = {};
    for (let round = 0; round < DYNALITE_ROUNDS; round++) {
      await writeAll(tables.users, [...before.values()].map(userItem));
      // Users new in this batch start absent.
      requests.clear();
      const store = new DynamoUserVectorStore(client, tables);
      const t0 = performance.now();
      const result = await updateUserVectors(records, store, OPTIONS);
      walls.push(performance.now() - t0);
      if (result.failures.size > 0)
        throw new Error(`${result.failures.size} records failed against dynalite`);
      calls = Object.fromEntries(requests);
      // Remove what the batch created, so the next round starts from the same state.
      const created = [
        ...new Set(records.map((r) => JSON.parse(Buffer.from(r.data, 'base64').toString()).user_id)),
      ].filter((u) => !before.has(u));
      for (let i = 0; i < created.length; i += 25) {
        await client.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [tables.users]: created
                .slice(i, i + 25)
                .map((u) => ({ DeleteRequest: { Key: { user_id: { S: u } } } })),
            },
          }),
        );
      }
    }
    return { wallMs: median(walls), walls, calls };
  } finally {
    client.destroy();
    child.kill();
  }
}

// ------------------------------------------------------------------ freshness on the local stack

async function freshness() {
  const { tempDataDir, removeDir } = await import('../tests/integration/local/harness');
  const dataDir = await tempDataDir();
  const stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: true,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, http: 0, lambda: 0 },
    log: silentLog,
  });
  const dynamo = new DynamoDBClient({
    region: stack.wiring.region,
    endpoint: stack.endpoints.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const articles = articleIds.slice(0, 50);
    for (const [i, id] of articles.entries()) {
      await dynamo.send(
        new PutItemCommand({
          TableName: 'logbase-local-ArticleVectors',
          Item: {
            article_id: { S: id },
            vector: { B: articleVectors[i] as Uint8Array },
            model: { S: 'bench' },
          },
        }),
      );
    }
    const url = eventsUrl(stack.endpoints.http ?? '');
    const post = (events: object[]) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'lb_local_0123456789abcdef' },
        body: JSON.stringify({ events }),
      }).then(async (r) => {
        if (r.status !== 202) throw new Error(`collect answered ${r.status}: ${await r.text()}`);
      });
    // Warm-up: serverless-offline loads each function on its first call.
    const warm = Array.from({ length: 3 }, () => `u_warm_${hex(6)}`);
    await Promise.all(warm.map((u) => post([clickEvent(u, articles[0] as string)])));
    for (const u of warm)
      while (!(await getItem(dynamo, u).catch(() => undefined))) await new Promise((r) => setTimeout(r, 50));

    const sentAt = new Map<string, number>();
    const seenAt = new Map<string, number>();
    let sending = true;
    let sendingEnded = 0;
    const watcher = (async () => {
      while (sending || seenAt.size < sentAt.size) {
        const waiting = [...sentAt.keys()].filter((u) => !seenAt.has(u));
        await Promise.all(
          waiting.map(async (u) => {
            // A failed read is tried again on the next pass (dynalite drops a connection now and then).
            if (await getItem(dynamo, u).catch(() => undefined)) seenAt.set(u, performance.now());
          }),
        );
        if (!sending && performance.now() - sendingEnded > 20_000) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const gap = 1000 / FRESHNESS_REQUESTS_PER_S;
    const start = performance.now();
    const posts: Promise<void>[] = [];
    let failedPosts = 0;
    for (let i = 0; i * FRESHNESS_PER_REQUEST < FRESHNESS_CLICKS; i++) {
      const wait = start + i * gap - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const users = Array.from({ length: FRESHNESS_PER_REQUEST }, (_, k) => `u_fresh_${i}_${k}_${hex(4)}`);
      const t = performance.now();
      const clicks = users.map((u, k) => clickEvent(u, articles[(i + k) % articles.length] as string));
      posts.push(
        post(clicks).then(
          () => {
            for (const u of users) sentAt.set(u, t);
          },
          () => {
            failedPosts++;
          },
        ),
      );
    }
    await Promise.all(posts);
    sending = false;
    sendingEnded = performance.now();
    await watcher;
    const lags = [...sentAt].filter(([u]) => seenAt.has(u)).map(([u, t]) => (seenAt.get(u) as number) - t);
    return {
      p50: quantile(lags, 0.5),
      p99: quantile(lags, 0.99),
      max: Math.max(...lags),
      seen: lags.length,
      sent: sentAt.size,
      failedPosts,
    };
  } finally {
    dynamo.destroy();
    await stack.stop();
    await removeDir(dataDir);
  }
}

const clickEvent = (userId: string, articleId: string) => ({
  event_id: randomUUID(),
  event_type: 'click',
  schema_version: 1,
  user_id: userId,
  occurred_at: new Date().toISOString(),
  article_id: articleId,
  tab: 'top',
  position: 0,
  platform: 'ios',
  app_version: '5.12.0',
});

async function getItem(client: DynamoDBClient, userId: string) {
  const out = await client.send(
    new GetItemCommand({
      TableName: 'logbase-local-UserVectors',
      Key: { user_id: { S: userId } },
      ConsistentRead: true,
      ProjectionExpression: 'user_id',
    }),
  );
  return out.Item;
}

// ------------------------------------------------------------------ main

/** BENCH_PROFILE=1: the compute alone in a loop, for node --cpu-prof. */
async function profile() {
  const { records: past, clicksOf } = historyRecords();
  const seed = storeFrom(new Map());
  for (let i = 0; i < past.length; i += RECORDS)
    await updateUserVectors(past.slice(i, i + RECORDS), seed, OPTIONS);
  const before = new Map(seed.users);
  const { records } = benchBatch(clicksOf);
  const stores = Array.from({ length: 30 }, () => storeFrom(before));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const store of stores) await updateUserVectors(records, store, OPTIONS);
  const c = process.cpuUsage(c0);
  console.log(
    `${((c.user + c.system) / 1000 / stores.length).toFixed(1)} ms CPU, ${((performance.now() - t0) / stores.length).toFixed(1)} ms wall per batch`,
  );
}

const row = (name: string, value: string, target = '', verdict = '') =>
  console.log(`${name.padEnd(44)} ${value.padEnd(52)} ${target.padEnd(12)} ${verdict}`);

async function main() {
  if (process.env.BENCH_PROFILE) return profile();
  console.log(
    `update-user-vectors benchmark, Node ${process.version}, ${ROUNDS} interleaved rounds (medians)\n`,
  );
  const { records: past, clicksOf } = historyRecords();
  const seed = storeFrom(new Map());
  for (let i = 0; i < past.length; i += RECORDS)
    await updateUserVectors(past.slice(i, i + RECORDS), seed, OPTIONS);
  const before = new Map(seed.users);
  const batch = benchBatch(clicksOf);
  const records = batch.records;
  const avgItem =
    [...before.values()].reduce((s, u) => s + u.history.byteLength + u.vector.byteLength, 0) / before.size;
  console.log(
    `batch: ${fmt(records.length)} records, ${fmt(batch.users)} users (${fmt(batch.userIds.filter((u) => !before.has(u)).length)} new), busiest ${batch.busiest} clicks, ${fmt(batch.articles)} distinct articles clicked of ${fmt(ARTICLES)}, ${Math.round(RESENT_SHARE * 100)}% resent`,
  );
  console.log(
    `stored users: ${fmt(before.size)} with full histories (N = ${OPTIONS.historyLength}), item ~${fmt(avgItem)} B of vector + history\n`,
  );

  row('figure', 'measured (CPU time; wall time in brackets)', 'target', '');
  const c = await compute(records, before);
  const x = (v: number, clock: 'cpu' | 'wall') => (v / c[clock].floor).toFixed(2);
  const both = (k: Variant) => `${fmt(c.cpu[k])} rec/s = ${x(c.cpu[k], 'cpu')}x [${x(c.wall[k], 'wall')}x]`;
  const ok = (v: number, target: number) => (v >= target ? 'ok' : 'FAIL <<<<<<<<<<');
  row('floor: JSON.parse(base64 decode) per record', `${fmt(c.cpu.floor)} rec/s [${fmt(c.wall.floor)}]`);
  row('compute, in-memory store', both('plain'), '>= 0.3x', ok(c.cpu.plain / c.cpu.floor, 0.3));
  row('compute + marshalling the writes', both('input'), '>= 0.25x', ok(c.cpu.input / c.cpu.floor, 0.25));
  row('  (info) + the JSON request bodies', both('body'), '', 'binaries base64, as the SDK sends them');
  row('  (info) writes through the SDK client', both('sdk'), '', 'middleware, SigV4, HTTP answered at once');
  const s = c.last.result.stats;
  const calls = c.last.store.calls;
  const minReads = Math.ceil(batch.articles / 100) + Math.ceil(batch.users / 100);
  row(
    'DynamoDB reads per batch (BatchGetItem)',
    `${calls.batchGetArticles + calls.batchGetUsers} (articles ${calls.batchGetArticles}, users ${calls.batchGetUsers})`,
    `min ${minReads}`,
    `articles read ${fmt(s.articlesRead)}: clicked + trimmed entries`,
  );
  row(
    'DynamoDB writes per batch (PutItem)',
    `${calls.puts}`,
    `min ${s.usersWritten}`,
    calls.puts === s.usersWritten ? 'ok' : 'more than min',
  );
  row(
    'records: applied / resent / redelivered',
    `${s.applied} / ${s.duplicates} / ${s.redelivered}`,
    '',
    `sum ${s.applied + s.duplicates + s.redelivered + s.poison + s.failed} of ${s.records}`,
  );

  if (!SKIP.has('dynalite')) {
    const d = await againstDynalite(records, before);
    row(
      'batch wall time against dynalite',
      `${fmt(d.wallMs)} ms (rounds ${d.walls.map((w) => fmt(w)).join(', ')})`,
      '',
      'dynalite in a child process',
    );
    row('requests against dynalite', JSON.stringify(d.calls));
  }
  if (!SKIP.has('freshness')) {
    const f = await freshness();
    row(
      `freshness click -> user item, ${f.seen} clicks`,
      `p50 ${fmt(f.p50)} ms, p99 ${fmt(f.p99)} ms, max ${fmt(f.max)} ms`,
      'p99 < 2000',
      `${f.p99 < 2000 && f.seen === f.sent ? 'ok' : 'FAIL <<<<<<<<<<'}${f.failedPosts ? ` (${f.failedPosts} POSTs failed)` : ''}`,
    );
  }
  // A 1024 MB Lambda gets about 1024/1769 of one vCPU (Lambda gives a full vCPU at 1,769 MB).
  const share = 1024 / 1769;
  const cpuMs = (RECORDS / c.cpu.sdk) * 1000;
  row(
    'shards one function keeps up with at 1024 MB',
    `~${((c.cpu.sdk * share) / 1000).toFixed(1)} (CPU-bound: ${fmt(c.cpu.sdk * share)} rec/s)`,
    '',
    `${fmt(cpuMs / share)} ms CPU per batch at 1024 MB, SDK writes included`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
