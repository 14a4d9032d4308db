/**
 * The batch chain's tasks (state-machines/batch-scoring.asl.yml), one per Lambda function under
 * functions/batch-*. Each reads what it needs, calls the pure logic of lib/domain/batch/, and writes
 * its output under fixed keys of its date, so a rerun of a date replaces what an earlier run wrote.
 *
 *   batch/dt=<date>/ctr.json                 prior and smoothed CTR per article (ArticleStats)
 *   marts/article_stats/dt=<date>/article_stats.parquet
 *   batch/dt=<date>/articles.json            the fresh articles (ShardUsers)
 *   batch/dt=<date>/shards/<nnnn>.json       the user ids of each shard (ShardUsers)
 *   batch/dt=<date>/scores/<nnnn>.json       each shard's Recommendations items (ScoreShard)
 *   marts/push_candidates/dt=<date>/push_candidates.parquet   (PushCandidates, lib/batch/push.ts)
 *   batch/dt=<date>/summary.json             the run summary (Summarize)
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type AthenaRunOptions, type AthenaTarget, runAthenaQuery } from '../aws/athena';
import { getBytes, type Item, listKeys, putAll, putBytes, scanItems } from '../aws/batch';
import { batchGetItems } from '../aws/user-vectors';
import { ConfigError, intEnv, optionalEnv, requireEnv } from '../config';
import {
  freshArticles,
  popularList,
  type RankArticle,
  type RankUser,
  rankShard,
  type Skipped,
  shardUsers,
} from '../domain/batch/rank';
import {
  failureMessage,
  type RecommendationItem,
  recommendationItem,
  SUMMARY_NAMED,
  summarizeSkipped,
} from '../domain/batch/recommendations';
import {
  articleStats,
  articleStatsSql,
  asOfDate,
  type BetaPrior,
  countsFromRows,
  datesCovered,
  parseWindows,
  STATS_ENGINES,
  type StatsEngine,
  type StatsWindow,
} from '../domain/batch/stats';
import type { ScoringWeights } from '../domain/scoring';
import { withBatchDuckDb } from './duckdb';
import type { PushCandidatesOutput } from './push';
import type { PublishReportOutput } from './report';

export interface BatchConfig {
  bucket: string;
  userVectorsTable: string;
  articleVectorsTable: string;
  recommendationsTable: string;
  windows: string;
  freshHours: number;
  freshnessTauHours: number;
  topK: number;
  shardSize: number;
  weights: ScoringWeights;
  workDir: string;
  failureTopicArn: string;
  stateMachine: string;
  /** PublishReport's settings (lib/batch/report.ts). */
  report: {
    lookbackDays: number;
    quarantineThreshold: number;
    rawAgeLimitSeconds: number;
    userVectorLagLimitSeconds: number;
  };
  /** PushCandidates (lib/batch/push.ts): the best new article's score to clear, and the cooldown. */
  pushScoreThreshold: number;
  pushCooldownHours: number;
  /** Where ArticleStats counts (`duckdb` over downloaded Parquet, `athena` over the Glue views), and Athena's target. */
  statsEngine: StatsEngine;
  athena: AthenaTarget;
}

/** Settings read once per container; throws a ConfigError naming a missing variable. */
export function loadBatchConfig(env: NodeJS.ProcessEnv = process.env): BatchConfig {
  const num = (name: string, fallback: number) => {
    const value = Number(optionalEnv(name, String(fallback), env));
    if (!Number.isFinite(value)) throw new Error(`environment variable ${name} must be a number`);
    return value;
  };
  const statsEngine = optionalEnv('BATCH_STATS_ENGINE', 'duckdb', env) as StatsEngine;
  if (!STATS_ENGINES.includes(statsEngine)) {
    throw new ConfigError(
      `environment variable BATCH_STATS_ENGINE must be ${STATS_ENGINES.join(' or ')}, got "${statsEngine}"`,
    );
  }
  return {
    bucket: requireEnv('DATA_BUCKET', env),
    userVectorsTable: requireEnv('USER_VECTORS_TABLE', env),
    articleVectorsTable: requireEnv('ARTICLE_VECTORS_TABLE', env),
    recommendationsTable: requireEnv('RECOMMENDATIONS_TABLE', env),
    windows: optionalEnv('BATCH_WINDOWS', '1h,24h,7d', env),
    freshHours: intEnv('BATCH_FRESH_HOURS', 48, env),
    freshnessTauHours: num('BATCH_FRESHNESS_TAU_HOURS', 24),
    topK: intEnv('BATCH_TOP_K', 20, env),
    shardSize: intEnv('BATCH_SHARD_SIZE', 5000, env),
    weights: {
      similarity: num('BATCH_WEIGHT_SIMILARITY', 1),
      prior: num('BATCH_WEIGHT_PRIOR', 1),
      freshness: num('BATCH_WEIGHT_FRESHNESS', 0.1),
    },
    workDir: optionalEnv('BATCH_WORK_DIR', '/tmp/batch', env),
    failureTopicArn: optionalEnv('BATCH_FAILURE_TOPIC_ARN', '', env),
    stateMachine: optionalEnv('BATCH_STATE_MACHINE', 'batchScoring', env),
    report: {
      lookbackDays: intEnv('BATCH_REPORT_LOOKBACK_DAYS', 7, env),
      quarantineThreshold: num('BATCH_REPORT_QUARANTINE_THRESHOLD', 0.01),
      rawAgeLimitSeconds: intEnv('BATCH_REPORT_RAW_AGE_LIMIT_SECONDS', 1800, env),
      userVectorLagLimitSeconds: intEnv('BATCH_REPORT_VECTOR_LAG_LIMIT_SECONDS', 120, env),
    },
    pushScoreThreshold: num('BATCH_PUSH_SCORE_THRESHOLD', 0.5),
    pushCooldownHours: num('BATCH_PUSH_COOLDOWN_HOURS', 24),
    statsEngine,
    athena:
      statsEngine === 'athena'
        ? { workGroup: requireEnv('ATHENA_WORK_GROUP', env), database: requireEnv('GLUE_DATABASE', env) }
        : {
            workGroup: optionalEnv('ATHENA_WORK_GROUP', '', env),
            database: optionalEnv('GLUE_DATABASE', '', env),
          },
  };
}

export interface BatchDeps {
  config: BatchConfig;
  s3: S3Client;
  ddb: DynamoDBClient;
  sns?: SNSClient;
  /** ArticleStats with engine `athena` (there is no Athena emulator: unit tests mock it). */
  athena?: AthenaClient;
  /** The Athena runner's polling (tests inject the sleep). */
  athenaRun?: AthenaRunOptions;
  now: () => Date;
}

/** What every task after the first receives: the run's date, as-of instant and id. */
export interface RunRef {
  date: string;
  asOf: string;
  runId: string;
}

const prefix = (date: string) => `batch/dt=${date}`;
const pad = (i: number) => String(i).padStart(4, '0');
const json = (value: unknown) => JSON.stringify(value);
const readJson = async <T>(deps: BatchDeps, key: string): Promise<T> =>
  JSON.parse(Buffer.from(await getBytes(deps.s3, deps.config.bucket, key)).toString('utf8')) as T;

// ---------------------------------------------------------------- ArticleStats

/** What counted the events: DuckDB over the lake files it downloaded, or one Athena query. */
export type StatsRun =
  | { engine: 'duckdb'; lakeFiles: { impression: number; click: number } }
  | { engine: 'athena'; queryExecutionId: string; dataScannedBytes: number };

export interface ArticleStatsOutput extends RunRef {
  articles: number;
  prior: BetaPrior;
  source: StatsRun;
  mart: string;
}

/** DuckDB engine: downloads the windows' impression_v1 and click_v1 Parquet, then counts (the dedup rule applied). */
async function countWithDuckDb(
  c: DuckDBConnection,
  dir: string,
  windows: readonly StatsWindow[],
  asOf: Date,
  deps: BatchDeps,
): Promise<{ rows: Record<string, unknown>[]; source: StatsRun }> {
  const longest = windows[windows.length - 1]?.seconds as number;
  const files: Record<'impression' | 'click', string[]> = { impression: [], click: [] };
  for (const type of ['impression', 'click'] as const) {
    for (const dt of datesCovered(asOf, longest)) {
      for (const key of await listKeys(deps.s3, deps.config.bucket, `lake/${type}/v1/dt=${dt}/`)) {
        if (!key.endsWith('.parquet')) continue;
        // Named in the keys' order with the key's file name: the dedup rule's tiebreak sees what a query sees.
        const file = join(dir, `${type}-${String(files[type].length).padStart(6, '0')}-${basename(key)}`);
        writeFileSync(file, await getBytes(deps.s3, deps.config.bucket, key));
        files[type].push(file);
      }
    }
  }
  const sql = articleStatsSql({ impressionFiles: files.impression, clickFiles: files.click, windows, asOf });
  return {
    rows: (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[],
    source: {
      engine: 'duckdb',
      lakeFiles: { impression: files.impression.length, click: files.click.length },
    },
  };
}

/** Athena engine: the same query over the Glue dedup views, in the stage's work group (its scan cutoff applies). */
async function countWithAthena(
  windows: readonly StatsWindow[],
  asOf: Date,
  deps: BatchDeps,
): Promise<{ rows: Record<string, unknown>[]; source: StatsRun }> {
  if (!deps.athena) throw new Error('no Athena client for BATCH_STATS_ENGINE=athena');
  const sql = articleStatsSql({
    dialect: 'athena',
    impressionView: 'impression_v1',
    clickView: 'click_v1',
    windows,
    asOf,
  });
  const { result, stats } = await runAthenaQuery(deps.athena, sql, deps.config.athena, deps.athenaRun);
  const rows = result.rows.map((row) =>
    Object.fromEntries(result.columns.map((col, i) => [col.name, row[i]])),
  );
  return {
    rows,
    source: {
      engine: 'athena',
      queryExecutionId: stats.queryExecutionId,
      dataScannedBytes: stats.dataScannedBytes,
    },
  };
}

/**
 * The run's date (the input's, or yesterday UTC), then the stats of the lake's impressions and
 * clicks, counted by the configured engine; the mart and ctr.json are written the same either way.
 */
export async function articleStatsTask(
  event: { input?: { date?: string }; runId: string },
  deps: BatchDeps,
): Promise<ArticleStatsOutput> {
  const date = event.input?.date ?? new Date(deps.now().getTime() - 86_400_000).toISOString().slice(0, 10);
  const asOf = asOfDate(date);
  const windows = parseWindows(deps.config.windows);
  const dir = join(deps.config.workDir, `stats-${date}-${event.runId}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    return await withBatchDuckDb(async (c) => {
      await c.run("SET TimeZone = 'UTC'");
      const counted =
        deps.config.statsEngine === 'athena'
          ? await countWithAthena(windows, asOf, deps)
          : await countWithDuckDb(c, dir, windows, asOf, deps);
      const counts = countsFromRows(counted.rows, windows);
      const { prior, rows } = articleStats(counts, windows);
      const flat = rows.map((r) => ({
        article_id: r.article_id,
        ...Object.fromEntries(
          windows.flatMap((w) => [
            [`impressions_${w.label}`, r.impressions[w.label] ?? 0],
            [`clicks_${w.label}`, r.clicks[w.label] ?? 0],
          ]),
        ),
        ctr: r.ctr,
        ctr_posterior: r.ctr_posterior,
        prior_alpha: prior.alpha,
        prior_beta: prior.beta,
        date,
      }));
      const lines = join(dir, 'rows.jsonl');
      writeFileSync(lines, flat.map(json).join('\n'));
      const columns = [
        "article_id: 'VARCHAR'",
        ...windows.flatMap((w) => [`impressions_${w.label}: 'BIGINT'`, `clicks_${w.label}: 'BIGINT'`]),
        "ctr: 'DOUBLE'",
        "ctr_posterior: 'DOUBLE'",
        "prior_alpha: 'DOUBLE'",
        "prior_beta: 'DOUBLE'",
        "date: 'VARCHAR'",
      ].map((col) => col.replace(/^([^:]+):/, "'$1':"));
      const parquet = join(dir, 'article_stats.parquet');
      await c.run(
        `COPY (SELECT * FROM read_json('${lines}', format = 'newline_delimited', columns = {${columns.join(', ')}}) ORDER BY article_id) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`,
      );
      const mart = `marts/article_stats/dt=${date}/article_stats.parquet`;
      await putBytes(
        deps.s3,
        deps.config.bucket,
        mart,
        new Uint8Array(readFileSync(parquet)),
        'application/vnd.apache.parquet',
      );
      const ctr = Object.fromEntries(rows.map((r) => [r.article_id, r.ctr_posterior]));
      await putBytes(
        deps.s3,
        deps.config.bucket,
        `${prefix(date)}/ctr.json`,
        json({ prior, ctr }),
        'application/json',
      );
      return {
        date,
        asOf: asOf.toISOString(),
        runId: event.runId,
        articles: rows.length,
        prior,
        source: counted.source,
        mart,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- ShardUsers

export interface ShardRef {
  index: number;
  key: string;
  users: number;
}

export interface ShardUsersOutput {
  users: number;
  freshArticles: number;
  shards: ShardRef[];
}

/** Lists the users of UserVectors into shards, and the articles of ArticleVectors once for all shards. */
export async function shardUsersTask(event: { run: RunRef }, deps: BatchDeps): Promise<ShardUsersOutput> {
  const { run } = event;
  const users = await scanItems(deps.ddb, { table: deps.config.userVectorsTable, attributes: ['user_id'] });
  const shards = shardUsers(
    users.flatMap((u) => (u.user_id?.S ? [u.user_id.S] : [])),
    deps.config.shardSize,
  );
  const articles = await scanItems(deps.ddb, {
    table: deps.config.articleVectorsTable,
    attributes: ['article_id', 'vector', 'published_at'],
  });
  const since = Date.parse(run.asOf) - deps.config.freshHours * 3_600_000;
  const fresh = articles
    .filter((a) => a.article_id?.S && !(Date.parse(a.published_at?.S ?? '') < since))
    .map((a) => ({
      article_id: a.article_id?.S,
      published_at: a.published_at?.S ?? '',
      vector: Buffer.from(a.vector?.B ?? new Uint8Array()).toString('base64'),
    }));
  await putBytes(
    deps.s3,
    deps.config.bucket,
    `${prefix(run.date)}/articles.json`,
    json(fresh),
    'application/json',
  );
  const refs: ShardRef[] = [];
  for (const [index, ids] of shards.entries()) {
    const key = `${prefix(run.date)}/shards/${pad(index)}.json`;
    await putBytes(deps.s3, deps.config.bucket, key, json(ids), 'application/json');
    refs.push({ index, key, users: ids.length });
  }
  return { users: shards.reduce((s, ids) => s + ids.length, 0), freshArticles: fresh.length, shards: refs };
}

// ---------------------------------------------------------------- ScoreShard

export interface ScoreShardOutput {
  index: number;
  key: string;
  users: number;
  personal: number;
  popular: number;
  /** `articles`: how many of them are articles (the rest are users), for the report's data-quality panel. */
  skipped: { count: number; articles?: number; named: Skipped[] };
  kernel: string;
}

/** Ranks one shard's users (scoreShard) and stores their Recommendations items for WriteRecommendations. */
export async function scoreShardTask(
  event: { run: RunRef; shard: ShardRef },
  deps: BatchDeps,
): Promise<ScoreShardOutput> {
  const { run, shard } = event;
  const ids = await readJson<string[]>(deps, shard.key);
  const { prior, ctr } = await readJson<{ prior: BetaPrior; ctr: Record<string, number> }>(
    deps,
    `${prefix(run.date)}/ctr.json`,
  );
  const stored = await readJson<{ article_id: string; published_at: string; vector: string }[]>(
    deps,
    `${prefix(run.date)}/articles.json`,
  );
  const articles: RankArticle[] = stored.map((a) => ({ ...a, vector: Buffer.from(a.vector, 'base64') }));
  const ctrOf = new Map(Object.entries(ctr));
  const asOf = new Date(run.asOf);
  const params = {
    asOf,
    freshHours: deps.config.freshHours,
    freshnessTauHours: deps.config.freshnessTauHours,
  };
  const fresh = freshArticles(articles, ctrOf, prior.alpha / (prior.alpha + prior.beta), params);
  // the popular list: the fresh articles (or, with none fresh, all the articles with stats) by smoothed CTR
  const freshCtr = new Map(fresh.ids.map((id, j) => [id, fresh.prior[j] as number]));
  const popular = popularList(freshCtr.size > 0 ? freshCtr : ctrOf, deps.config.topK);
  const items = await batchGetItems(deps.ddb, {
    table: deps.config.userVectorsTable,
    keyName: 'user_id',
    keys: ids,
    attributes: ['user_id', 'vector', 'history'],
  });
  const byId = new Map(items.map((i) => [i.user_id?.S as string, i]));
  const users: RankUser[] = ids.flatMap((user_id) => {
    const item = byId.get(user_id);
    if (!item) return []; // deleted since the listing: nothing to recommend
    return [{ user_id, vector: item.vector?.B, history: item.history?.B }];
  });
  const ranked = await rankShard(users, fresh, popular, {
    weights: deps.config.weights,
    k: deps.config.topK,
  });
  const recs = ranked.recommendations.map((r) =>
    recommendationItem(r, { date: run.date, runId: run.runId, asOf }),
  );
  const key = `${prefix(run.date)}/scores/${pad(shard.index)}.json`;
  await putBytes(deps.s3, deps.config.bucket, key, json(recs), 'application/json');
  const skipped = [...(shard.index === 0 ? fresh.skipped : []), ...ranked.skipped];
  return {
    index: shard.index,
    key,
    users: ids.length,
    personal: recs.filter((r) => r.source === 'personal').length,
    popular: recs.filter((r) => r.source === 'popular').length,
    skipped: {
      count: skipped.length,
      articles: skipped.filter((s) => s.kind === 'article').length,
      named: skipped.slice(0, SUMMARY_NAMED),
    },
    kernel: ranked.kernel,
  };
}

// ---------------------------------------------------------------- WriteRecommendations

/** The DynamoDB attributes of a Recommendations item. */
export function marshalRecommendation(r: RecommendationItem): Item {
  return {
    user_id: { S: r.user_id },
    source: { S: r.source },
    articles: { L: r.articles.map((S) => ({ S })) },
    scores: { L: r.scores.map((n) => ({ N: String(n) })) },
    date: { S: r.date },
    run_id: { S: r.run_id },
    generated_at: { S: r.generated_at },
    expires_at: { N: String(r.expires_at) },
  };
}

export function recommendationFromItem(item: Item): RecommendationItem {
  return {
    user_id: item.user_id?.S ?? '',
    source: item.source?.S === 'personal' ? 'personal' : 'popular',
    articles: (item.articles?.L ?? []).map((a) => a.S ?? ''),
    scores: (item.scores?.L ?? []).map((s) => Number(s.N)),
    date: item.date?.S ?? '',
    run_id: item.run_id?.S ?? '',
    generated_at: item.generated_at?.S ?? '',
    expires_at: Number(item.expires_at?.N ?? 0),
  };
}

/** Raised when items stay unwritten after the retries: the state's Retry runs the task again (puts are idempotent). */
export class RecommendationsWriteError extends Error {
  override name = 'RecommendationsWriteError';
}

/** Puts a shard's items into Recommendations (BatchWriteItem 25 a time, UnprocessedItems retried). */
export async function writeRecommendationsTask(
  event: { run: RunRef; scored: ScoreShardOutput },
  deps: BatchDeps,
  retry: Parameters<typeof putAll>[4] = {},
): Promise<ScoreShardOutput & { written: number }> {
  const recs = await readJson<RecommendationItem[]>(deps, event.scored.key);
  const result = await putAll(
    deps.ddb,
    deps.config.recommendationsTable,
    recs.map(marshalRecommendation),
    'user_id',
    retry,
  );
  if (result.failed.length > 0) {
    const first = result.failed[0];
    throw new RecommendationsWriteError(
      `${result.failed.length} of ${recs.length} recommendations not written (first: ${first?.key}, ${first?.reason})`,
    );
  }
  return { ...event.scored, written: result.written };
}

// ---------------------------------------------------------------- Summarize and NotifyFailure

export interface RunSummary extends RunRef {
  status: 'SUCCEEDED';
  articleStats: { articles: number; prior: BetaPrior; source: StatsRun };
  users: number;
  freshArticles: number;
  shards: number;
  recommendations: { written: number; personal: number; popular: number };
  skipped: { count: number; named: Skipped[] };
  /** PushCandidates' counts and mart. */
  push: PushCandidatesOutput;
  /** PublishReport's keys and figures (where its lookback days were read from), when it ran. */
  report?: PublishReportOutput;
}

/** The run's summary, written to batch/dt=<date>/summary.json and returned as the execution's output. */
export async function summarizeTask(
  event: {
    run: ArticleStatsOutput;
    sharding: ShardUsersOutput;
    shardResults: (ScoreShardOutput & { written: number })[];
    push: PushCandidatesOutput;
    report?: PublishReportOutput;
  },
  deps: BatchDeps,
): Promise<RunSummary> {
  const { run, sharding, shardResults, push, report } = event;
  const skipped = summarizeSkipped(shardResults.map((s) => s.skipped.named));
  const summary: RunSummary = {
    date: run.date,
    asOf: run.asOf,
    runId: run.runId,
    status: 'SUCCEEDED',
    articleStats: { articles: run.articles, prior: run.prior, source: run.source },
    users: sharding.users,
    freshArticles: sharding.freshArticles,
    shards: sharding.shards.length,
    recommendations: {
      written: shardResults.reduce((s, r) => s + r.written, 0),
      personal: shardResults.reduce((s, r) => s + r.personal, 0),
      popular: shardResults.reduce((s, r) => s + r.popular, 0),
    },
    skipped: { count: shardResults.reduce((s, r) => s + r.skipped.count, 0), named: skipped.named },
    push,
    ...(report ? { report } : {}),
  };
  await putBytes(
    deps.s3,
    deps.config.bucket,
    `${prefix(run.date)}/summary.json`,
    json(summary),
    'application/json',
  );
  return summary;
}

/** Publishes which task failed and why to the failure topic; returns what it published. */
export async function notifyFailureTask(
  event: {
    failedTask: string;
    error?: { Error?: string; Cause?: string };
    executionId: string;
    input?: { date?: string };
  },
  deps: BatchDeps,
): Promise<{ subject: string; message: string; summary: string; messageId?: string }> {
  const notice = failureMessage({
    stateMachine: deps.config.stateMachine,
    executionId: event.executionId,
    date: event.input?.date ?? 'latest',
    failedTask: event.failedTask,
    error: event.error,
  });
  if (!deps.sns) throw new Error('no SNS client for the failure topic');
  const answer = await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.config.failureTopicArn,
      Subject: notice.subject,
      Message: notice.message,
    }),
  );
  const { failed_task, error, cause } = JSON.parse(notice.message) as Record<string, string>;
  return { ...notice, summary: `${failed_task} failed: ${error}: ${cause}`, messageId: answer.MessageId };
}
