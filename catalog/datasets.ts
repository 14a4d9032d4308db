/**
 * What the repo cannot derive about its datasets: who owns each, what it is for, and how long it is
 * kept. Which datasets exist is derived (catalog/derive.ts): raw/<stream> from the Firehose
 * prefixes, lake/<type>/v<N> from the schema registry, quarantine/<stage> and marts/<name> from the
 * functions that write there, the tables from the template. The bucket's lifecycle rules and the
 * tables' TTLs are generated from the retention below (catalog/retention.ts), and `logbase datasets`
 * reads the same declarations. A `param:` figure is the stage's param in serverless.yml.
 */

/** Days as a number, or a param of serverless.yml (`param:rawExpireDays`) so a stage can differ. */
export type Days = number | `param:${string}`;

/** How long objects under a prefix live: expired after some days, or kept on purpose (and why). */
export interface S3Retention {
  /** Current versions expire this many days after they were written ... */
  expireDays?: Days;
  /** ... or they are kept for good, for this reason (exactly one of the two). */
  keep?: string;
  transitions?: { storageClass: 'STANDARD_IA' | 'INTELLIGENT_TIERING' | 'GLACIER_IR'; days: Days }[];
  /** The bucket is versioned: an overwritten or deleted object's old version goes after these days. */
  noncurrentDays: Days;
}

/** How long items of a table live: a TTL attribute the writer sets, or kept on purpose (and why). */
export type TableRetention = { ttlAttribute: string; why: string } | { keep: string };

/** Where the members of a family come from. */
export type Derivation =
  /** raw/<stream>: each delivery stream's Prefix and ErrorOutputPrefix, up to the first `!{`. */
  | 'firehose'
  /** lake/<type>/v<N>: one per (type, version) of the schema registry. */
  | 'registry'
  /** <prefix><name>: the names the functions' IAM statements write under the prefix (s3:PutObject). */
  | 'writers'
  /** One dataset at the declaration's prefix. */
  | 'fixed';

export interface S3Declaration {
  /** The lifecycle rule's Id; also the family's name in `logbase datasets`. */
  id: string;
  /** The rule's prefix: what the family covers in the bucket. */
  prefix: string;
  derive: Derivation;
  owner: string;
  description: string;
  /** Descriptions of named members (`marts/push_candidates`), also declaring ones no writer names yet. */
  members?: Record<string, string>;
  /** Undefined: the dataset grows without a retention (and `logbase datasets` flags it). */
  retention?: S3Retention;
}

export interface TableDeclaration {
  /** The table's logical id in serverless.yml. */
  logicalId: string;
  owner: string;
  description: string;
  retention?: TableRetention;
}

export const S3_DATASETS: S3Declaration[] = [
  {
    id: 'raw',
    prefix: 'raw/',
    derive: 'firehose',
    owner: 'pipeline',
    description:
      'gzip JSON lines as Firehose delivered them, by arrival hour; raw/errors/ holds its failed deliveries',
    retention: {
      transitions: [{ storageClass: 'STANDARD_IA', days: 'param:rawToInfrequentAccessDays' }],
      expireDays: 'param:rawExpireDays',
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'lake',
    prefix: 'lake/',
    derive: 'registry',
    owner: 'pipeline (analysts read it)',
    description: 'typed zstd Parquet by event time, one table per event type and schema version',
    retention: {
      keep: 'the history every KPI and model is computed from',
      transitions: [{ storageClass: 'INTELLIGENT_TIERING', days: 0 }],
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'lake-manifests',
    prefix: 'lake/_manifests/',
    derive: 'fixed',
    owner: 'pipeline',
    description:
      "the formatter's record per raw object: its outputs and counts (replays and backfills read it)",
    // A manifest only serves replays of its raw object: it goes when the raw object does.
    retention: { expireDays: 'param:rawExpireDays', noncurrentDays: 'param:noncurrentExpireDays' },
  },
  {
    id: 'lake-compaction',
    prefix: 'lake/_compaction/',
    derive: 'fixed',
    owner: 'pipeline',
    description:
      "compact-lake's manifest per hour: the compacted files, the inputs they replaced, deletes pending",
    retention: {
      keep: 'one small document per compacted hour; a later compaction of the hour reads it',
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'quarantine',
    prefix: 'quarantine/',
    derive: 'writers',
    owner: 'pipeline',
    description: 'rejected input kept with its reason, one prefix per stage that rejects',
    members: {
      collect: 'events collect rejected, with each one’s errors',
      articles: 'articles vectorize-article rejected',
      format: 'raw lines the formatter could not store, with the reason',
    },
    retention: { expireDays: 'param:quarantineExpireDays', noncurrentDays: 1 },
  },
  {
    id: 'marts',
    prefix: 'marts/',
    derive: 'writers',
    owner: 'batch',
    description: 'derived tables the batch chain writes per day',
    members: {
      article_stats: 'impressions, clicks and the smoothed CTR per article over the windows',
      push_candidates: 'the users and articles proposed for a push notification per day',
      daily_users: "the day's distinct user ids (the KPI report's returning-user lookback reads these)",
    },
    retention: {
      keep: 'small daily tables; past days explain past recommendations',
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'reports',
    prefix: 'reports/',
    derive: 'writers',
    owner: 'batch (the KPI page reads it)',
    description: 'reports the batch chain publishes per day',
    members: { kpi: 'the daily KPI report (report.json), what the KPI page shows' },
    retention: {
      keep: 'one small document per day, the KPI history',
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'batch',
    prefix: 'batch/',
    derive: 'fixed',
    owner: 'batch',
    description:
      "the batch chain's work files per run: user shards, fresh articles, scored shards, the run summary",
    retention: { expireDays: 'param:batchWorkExpireDays', noncurrentDays: 1 },
  },
  {
    id: 'ops-runs',
    prefix: 'ops/runs/',
    derive: 'fixed',
    owner: 'operators',
    description: 'one record per backfill, redrive or compaction run: who, when, what, the counts',
    retention: {
      keep: 'the audit trail of what changed the lake',
      noncurrentDays: 'param:noncurrentExpireDays',
    },
  },
  {
    id: 'articles',
    prefix: 'articles/',
    derive: 'fixed',
    owner: 'content',
    description: 'crawled article drops; vectorize-article turns each object into ArticleVectors items',
    retention: { expireDays: 'param:articlesExpireDays', noncurrentDays: 1 },
  },
  {
    id: 'athena-results',
    prefix: 'athena-results/',
    derive: 'fixed',
    owner: 'analysts',
    description: "Athena's query results (the work group's output location)",
    retention: { expireDays: 'param:athenaResultsExpireDays', noncurrentDays: 1 },
  },
];

export const TABLE_DATASETS: TableDeclaration[] = [
  {
    logicalId: 'UserVectorsTable',
    owner: 'pipeline',
    description: "each user's recent clicks and interest vector, updated from the clicks stream",
    retention: { keep: 'live state: one item per user, overwritten on each click' },
  },
  {
    logicalId: 'ArticleVectorsTable',
    owner: 'content',
    description: "each article's 128-dim vector, from POST /v1/articles and articles/",
    retention: { keep: 'live state: one item per article; the batch reads the fresh ones' },
  },
  {
    logicalId: 'RecommendationsTable',
    owner: 'batch',
    description: "each user's latest recommendations, written by the batch chain",
    retention: { ttlAttribute: 'expires_at', why: 'the batch sets expires_at a few days after its run' },
  },
];

/**
 * Functions whose reads maintain a dataset rather than use it (compaction rewrites every lake hour):
 * they do not keep a dataset from being flagged as not read.
 */
export const MAINTENANCE_FUNCTIONS = ['compactLake'];

/** The bucket-wide rule that belongs to no dataset: parts of uploads never completed. */
export const BUCKET_WIDE_RULE_ID = 'abort-incomplete-uploads';
