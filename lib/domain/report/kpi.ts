import { duckDbDedup, rowNumberSql } from '../compact/dedup';
import { figure, KPI_REPORT_VERSION, type KpiReport, type ReportStage, ratio } from './model';

/**
 * The KPI report of one day computed from the lake: the SQL the PublishReport task runs in DuckDB over
 * the day's Parquet (and the lookback days' user ids), and the pure mapping of its rows, the quarantine
 * counts, the freshness probes, the day before's report and the run's skipped inputs to a `KpiReport`.
 * Pure: no AWS imports.
 */

/**
 * One lake Parquet file downloaded for the report: its event type and whether its schema has `tab`. Its
 * path keeps the key's order and file name (`<n>-<name>`), so the dedup rule's tiebreak sees what a query sees.
 */
export interface LakeFile {
  path: string;
  eventType: string;
  hasTab: boolean;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The day's events as one relation (event_type, user_id, platform, tab, occurred_at); empty without files. */
export function dayEventsSql(files: readonly LakeFile[]): string {
  if (files.length === 0) {
    return 'SELECT NULL::VARCHAR AS event_type, NULL::VARCHAR AS user_id, NULL::VARCHAR AS platform, NULL::VARCHAR AS tab, NULL::TIMESTAMPTZ AS occurred_at WHERE false';
  }
  // One read per (type, has tab) group: an action file has no tab column.
  const groups = new Map<string, LakeFile[]>();
  for (const f of files) {
    const key = `${f.eventType}\u0000${f.hasTab}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.values()]
    .map((group) => {
      const tab = group[0]?.hasTab ? 'tab' : 'NULL::VARCHAR AS tab';
      // Each event once, by the lake's dedup rule: a Firehose redelivery, a client resend after a 503, or a
      // compaction's inputs still beside its output (the grace period) are one event, as every query reads them.
      return (
        `SELECT event_type, user_id, platform, ${tab}, occurred_at FROM read_parquet([${group.map((f) => quote(f.path)).join(', ')}], union_by_name = true, filename = true) ` +
        `QUALIFY ${rowNumberSql(duckDbDedup('filename', []))} = 1`
      );
    })
    .join(' UNION ALL ');
}

/**
 * The queries of the report, each returning rows the mapping below reads (`dailyUsers`: the day's users
 * mart). `earlier` are the lookback days' files with a `user_id` column: their users marts, or, for a day
 * no report wrote one for, its lake files.
 */
export function kpiSql(input: { day: readonly LakeFile[]; earlier: readonly string[] }): {
  counts: string;
  users: string;
  newestClick: string;
  dailyUsers: string;
} {
  const day = `(${dayEventsSql(input.day)})`;
  const earlier =
    input.earlier.length === 0
      ? 'SELECT NULL::VARCHAR AS user_id WHERE false'
      : `SELECT DISTINCT user_id FROM read_parquet([${input.earlier.map(quote).join(', ')}], union_by_name = true)`;
  return {
    counts: `SELECT event_type, platform, tab, count(*)::BIGINT AS events FROM ${day} AS d GROUP BY ALL ORDER BY ALL`,
    users: `SELECT count(*)::BIGINT AS daily_active_users, count(e.user_id)::BIGINT AS returning_users
FROM (SELECT DISTINCT user_id FROM ${day} AS d WHERE user_id IS NOT NULL) AS t
LEFT JOIN (${earlier}) AS e ON t.user_id = e.user_id`,
    newestClick: `SELECT epoch_ms(max(occurred_at))::BIGINT AS newest_click_ms FROM ${day} AS d WHERE event_type = 'click'`,
    dailyUsers: `SELECT DISTINCT user_id FROM ${day} AS d WHERE user_id IS NOT NULL ORDER BY user_id`,
  };
}

/** A row of the counts query. */
export interface CountRow {
  event_type: string;
  platform: string | null;
  tab: string | null;
  events: number;
}

/** What each stage read and quarantined on the day. */
export type StageCounts = Record<ReportStage, { records_in: number; quarantined: number }>;

/** What the run skipped (ScoreShard's outputs): counts and the first names. */
export interface SkippedInputs {
  articles: { count: number; items: { article_id: string; reason: string }[] };
  users: { count: number; items: { user_id: string; reason: string }[] };
}

export interface KpiInput {
  date: string;
  runId: string;
  generatedAt: Date;
  counts: readonly CountRow[];
  users: { daily_active_users: number; returning_users: number };
  stages: StageCounts;
  freshness: {
    checkedAt: Date;
    oldestUnformattedRaw: { key: string; lastModified: Date } | null;
    /** The newest click of the day in the lake (ms), null without clicks. */
    newestClickMs: number | null;
    /** The newest UserVectors updated_at (ms), null without any vector. */
    newestVectorUpdateMs: number | null;
  };
  limits: { quarantineThreshold: number; rawAgeSeconds: number; userVectorLagSeconds: number };
  previous: KpiReport | null;
  skipped: SkippedInputs;
}

/** Named lists in a report are capped (the schema's maxItems). */
export const REPORT_NAMED = 100;

const ORDER: Record<string, string[]> = {
  platform: ['ios', 'android', 'web'],
  tab: ['top', 'entertainment', 'sports', 'economy', 'tech', 'world', 'local'],
  event_type: ['impression', 'ad_impression', 'click', 'action'],
};

/** Known values in the page's order, then the others by name. */
function ordered<T>(rows: T[], name: (r: T) => string, known: readonly string[]): T[] {
  const rank = (v: string) => {
    const i = known.indexOf(v);
    return i < 0 ? known.length : i;
  };
  return [...rows].sort((a, b) => rank(name(a)) - rank(name(b)) || (name(a) < name(b) ? -1 : 1));
}

function ctrRows(
  counts: readonly CountRow[],
  dimension: 'platform' | 'tab',
): { name: string; impressions: number; clicks: number; ctr: number | null }[] {
  const by = new Map<string, { impressions: number; clicks: number }>();
  for (const r of counts) {
    if (r.event_type !== 'impression' && r.event_type !== 'click') continue;
    const name = r[dimension] || '(none)';
    const entry = by.get(name) ?? { impressions: 0, clicks: 0 };
    if (r.event_type === 'impression') entry.impressions += r.events;
    else entry.clicks += r.events;
    by.set(name, entry);
  }
  const rows = [...by.entries()].map(([name, v]) => ({ name, ...v, ctr: ratio(v.clicks, v.impressions) }));
  return ordered(rows, (r) => r.name, ORDER[dimension] as string[]);
}

/**
 * The report of the day from the queries' rows and the probes (the caller checks it with `parseReport`).
 * New users are the day's users not seen in the lookback days; the user-vector lag is how far the newest
 * UserVectors update trails the day's newest click (0 when it is later; with no vector ever written, the
 * newest click's age at the check).
 */
export function kpiReport(input: KpiInput): KpiReport {
  const { counts, previous: prev } = input;
  const sumOf = (type?: string) =>
    counts.reduce((t, r) => t + (type === undefined || r.event_type === type ? r.events : 0), 0);
  const events = sumOf();
  const impressions = sumOf('impression');
  const clicks = sumOf('click');
  const dau = input.users.daily_active_users;
  const byType = new Map<string, number>();
  for (const r of counts) byType.set(r.event_type, (byType.get(r.event_type) ?? 0) + r.events);
  const ph = prev?.headline;
  const stage = (name: ReportStage) => {
    const s = input.stages[name];
    return {
      stage: name,
      records_in: s.records_in,
      quarantined: s.quarantined,
      rate: ratio(s.quarantined, s.records_in),
    };
  };
  const f = input.freshness;
  // No vector at all: every click since the newest one is still waiting, so the lag is at least its age.
  const behind = (from: number, to: number) => Math.max(0, Math.round((to - from) / 1000));
  const lag =
    f.newestClickMs === null
      ? null
      : f.newestVectorUpdateMs === null
        ? behind(f.newestClickMs, f.checkedAt.getTime())
        : behind(f.newestVectorUpdateMs, f.newestClickMs);
  return {
    report_version: KPI_REPORT_VERSION,
    date: input.date,
    generated_at: input.generatedAt.toISOString(),
    run_id: input.runId,
    status: events === 0 ? 'no_events' : 'ok',
    headline: {
      daily_active_users: figure(dau, ph?.daily_active_users.value ?? null),
      events: figure(events, ph?.events.value ?? null),
      impressions: figure(impressions, ph?.impressions.value ?? null),
      clicks: figure(clicks, ph?.clicks.value ?? null),
      ctr: figure(ratio(clicks, impressions), ph ? ph.ctr.value : null),
    },
    ctr_by_platform: ctrRows(counts, 'platform').map((r) => ({
      platform: r.name,
      impressions: r.impressions,
      clicks: r.clicks,
      ctr: r.ctr,
    })),
    ctr_by_tab: ctrRows(counts, 'tab').map((r) => ({
      tab: r.name,
      impressions: r.impressions,
      clicks: r.clicks,
      ctr: r.ctr,
    })),
    events_by_type: ordered(
      [...byType.entries()].map(([event_type, count]) => ({ event_type, count })),
      (r) => r.event_type,
      ORDER.event_type as string[],
    ),
    users: { new_users: dau - input.users.returning_users, returning_users: input.users.returning_users },
    quarantine: {
      threshold: input.limits.quarantineThreshold,
      stages: [stage('collect'), stage('format'), stage('articles')],
    },
    freshness: {
      checked_at: f.checkedAt.toISOString(),
      oldest_unformatted_raw:
        f.oldestUnformattedRaw === null
          ? null
          : {
              key: f.oldestUnformattedRaw.key,
              age_seconds: Math.max(
                0,
                Math.round((f.checkedAt.getTime() - f.oldestUnformattedRaw.lastModified.getTime()) / 1000),
              ),
            },
      user_vector_lag_seconds: lag,
      limits: {
        raw_age_seconds: input.limits.rawAgeSeconds,
        user_vector_lag_seconds: input.limits.userVectorLagSeconds,
      },
    },
    data_quality: {
      skipped_articles: {
        count: input.skipped.articles.count,
        items: input.skipped.articles.items.slice(0, REPORT_NAMED),
      },
      unreadable_user_items: {
        count: input.skipped.users.count,
        items: input.skipped.users.items.slice(0, REPORT_NAMED),
      },
    },
  };
}

/** The report's date minus `days`, YYYY-MM-DD. */
export function dayBefore(date: string, days = 1): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Where PublishReport keeps the day's distinct user ids (`user_id`, sorted): a later report's lookback
 * reads these small marts instead of downloading every event of the seven days before.
 */
export const dailyUsersKey = (date: string) => `marts/daily_users/dt=${date}/users.parquet`;

/** Where a date's report goes. */
export const reportKeys = (date: string) => ({
  json: `reports/kpi/dt=${date}/report.json`,
  html: `reports/kpi/dt=${date}/index.html`,
});

/** The newest report date among keys under reports/kpi/ (dt=YYYY-MM-DD/index.html), or undefined. */
export function latestReportDate(keys: readonly string[]): string | undefined {
  const dates = keys.flatMap((k) => {
    const m = /^reports\/kpi\/dt=(\d{4}-\d{2}-\d{2})\/index\.html$/.exec(k);
    return m ? [m[1] as string] : [];
  });
  return dates.sort().at(-1);
}
