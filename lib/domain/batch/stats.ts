/**
 * Article stats of the batch chain: impressions and clicks per article over time windows, and the
 * CTR smoothed by a Beta prior fitted to the data. Pure (no AWS, no DuckDB): the article-stats task
 * runs {@link articleStatsSql} in DuckDB over the lake's Parquet, or on Athena over the Glue views
 * (the stage's `batchStatsEngine`), and {@link fitBetaPrior} on its rows.
 */

import { duckDbDedup, rowNumberSql } from '../compact/dedup';

/** A counting window, e.g. `1h`, `24h`, `7d`. */
export interface StatsWindow {
  label: string;
  seconds: number;
}

export class BatchInputError extends Error {
  override name = 'BatchInputError';
}

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** Parses `1h,24h,7d` into windows, shortest first; throws a BatchInputError naming a bad entry. */
export function parseWindows(spec: string): StatsWindow[] {
  const windows = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((label) => {
      const match = /^(\d+)([mhd])$/.exec(label);
      if (!match || Number(match[1]) <= 0) {
        throw new BatchInputError(`window "${label}" is not a count and a unit (m, h or d), e.g. 24h`);
      }
      return { label, seconds: Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number) };
    });
  if (windows.length === 0) throw new BatchInputError('no stats window given');
  return windows.sort((a, b) => a.seconds - b.seconds);
}

/** Counts of one article: per window label, impressions and clicks. */
export interface ArticleCounts {
  article_id: string;
  impressions: Record<string, number>;
  clicks: Record<string, number>;
}

/** A Beta(alpha, beta) prior on an article's CTR, and how it was chosen. */
export interface BetaPrior {
  alpha: number;
  beta: number;
  /** `moments` when fitted, `fallback` when the data cannot support a fit (too few articles, no spread). */
  method: 'moments' | 'fallback';
  /** Articles the fit used (those with at least one impression). */
  articles: number;
}

/** Prior strength (alpha + beta) used when the moments cannot be fitted: two pseudo-impressions. */
export const FALLBACK_STRENGTH = 2;
/** Mean CTR of the fallback prior when there is no impression at all. */
export const FALLBACK_MEAN = 0.05;

/**
 * Fits Beta(alpha, beta) to the articles' observed CTRs (clicks / impressions, articles with
 * impressions only) by the method of moments: with mean m and population variance v,
 * alpha + beta = m (1 - m) / v - 1. Clicks above impressions are capped (a click whose impression
 * was lost). When fewer than two articles have impressions, or v is 0 or at least m (1 - m), the
 * prior falls back to mean m (or {@link FALLBACK_MEAN}) with strength {@link FALLBACK_STRENGTH}.
 */
export function fitBetaPrior(
  observations: ReadonlyArray<{ impressions: number; clicks: number }>,
): BetaPrior {
  const rates = observations
    .filter((o) => o.impressions > 0)
    .map((o) => Math.min(o.clicks, o.impressions) / o.impressions);
  const n = rates.length;
  const mean = n === 0 ? FALLBACK_MEAN : rates.reduce((s, r) => s + r, 0) / n;
  const variance = n === 0 ? 0 : rates.reduce((s, r) => s + (r - mean) ** 2, 0) / n;
  const bound = mean * (1 - mean);
  if (n >= 2 && variance > 0 && variance < bound && mean > 0 && mean < 1) {
    const strength = bound / variance - 1;
    return { alpha: mean * strength, beta: (1 - mean) * strength, method: 'moments', articles: n };
  }
  const m = mean > 0 && mean < 1 ? mean : FALLBACK_MEAN;
  return { alpha: m * FALLBACK_STRENGTH, beta: (1 - m) * FALLBACK_STRENGTH, method: 'fallback', articles: n };
}

/** The posterior mean CTR of an article under the prior. */
export function posteriorCtr(prior: BetaPrior, impressions: number, clicks: number): number {
  return (Math.min(clicks, impressions) + prior.alpha) / (impressions + prior.alpha + prior.beta);
}

/** One row of marts/article_stats: counts per window, the raw and the smoothed CTR of the longest window. */
export interface ArticleStatsRow {
  article_id: string;
  impressions: Record<string, number>;
  clicks: Record<string, number>;
  /** clicks / impressions over the longest window; null without impressions. */
  ctr: number | null;
  /** Posterior mean over the longest window. */
  ctr_posterior: number;
}

/** The mart's rows (by article id) with the prior fitted on the longest window. */
export function articleStats(
  counts: readonly ArticleCounts[],
  windows: readonly StatsWindow[],
): { prior: BetaPrior; rows: ArticleStatsRow[] } {
  const longest = (windows[windows.length - 1] as StatsWindow).label;
  const at = (c: ArticleCounts) => ({
    impressions: c.impressions[longest] ?? 0,
    clicks: c.clicks[longest] ?? 0,
  });
  const prior = fitBetaPrior(counts.map(at));
  const rows = [...counts]
    .sort((a, b) => (a.article_id < b.article_id ? -1 : a.article_id > b.article_id ? 1 : 0))
    .map((c) => {
      const { impressions, clicks } = at(c);
      return {
        article_id: c.article_id,
        impressions: c.impressions,
        clicks: c.clicks,
        ctr: impressions > 0 ? Math.min(clicks, impressions) / impressions : null,
        ctr_posterior: posteriorCtr(prior, impressions, clicks),
      };
    });
  return { prior, rows };
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The stats query's engines: DuckDB over downloaded Parquet files, or Athena over the Glue views. */
export type StatsEngine = 'duckdb' | 'athena';
export const STATS_ENGINES: readonly StatsEngine[] = ['duckdb', 'athena'];

/** Where the stats query reads the events: DuckDB's file lists, or Athena's deduplicated views. */
export type StatsSource =
  | { dialect?: 'duckdb'; impressionFiles: readonly string[]; clickFiles: readonly string[] }
  | {
      dialect: 'athena';
      /** The Glue dedup views (each event once already), e.g. `impression_v1` and `click_v1`. */
      impressionView: string;
      clickView: string;
    };

/** A timestamp literal both dialects read as the UTC instant (DuckDB with TimeZone UTC). */
const timestampLiteral = (at: Date) =>
  `TIMESTAMP ${quote(at.toISOString().replace('T', ' ').replace('Z', ''))}`;

/**
 * The partition filter (dt, hour) of the events from `asOf - seconds` to `asOf` (exclusive): the
 * dates the window touches, and on its first and last date the hours, so partition projection
 * prunes every other partition.
 */
export function partitionFilterSql(asOf: Date, seconds: number): string {
  const dates = datesCovered(asOf, seconds);
  const start = new Date(asOf.getTime() - seconds * 1000);
  const last = new Date(asOf.getTime() - 1);
  const first = dates[0] as string;
  const end = dates[dates.length - 1] as string;
  const hour = (d: Date) => quote(String(d.getUTCHours()).padStart(2, '0'));
  return (
    `dt IN (${dates.map(quote).join(', ')})` +
    ` AND (dt <> ${quote(first)} OR hour >= ${hour(start)})` +
    ` AND (dt <> ${quote(end)} OR hour <= ${hour(last)})`
  );
}

/**
 * The query counting impressions and clicks per article and window. Windows end at `asOf`
 * (exclusive) and start `seconds` before it. One row per article with any event in the longest
 * window; columns `impressions_<label>` and `clicks_<label>`. The same query in both dialects; only
 * the source differs: DuckDB reads the Parquet files given (the lake's impression_v1 and click_v1
 * partitions the windows touch) and applies the lake's dedup rule itself; Athena reads the Glue
 * dedup views (which apply the same rule) with the windows' dt/hour partition filter.
 */
export function articleStatsSql(
  input: StatsSource & { windows: readonly StatsWindow[]; asOf: Date },
): string {
  const asOf = timestampLiteral(input.asOf);
  const longest = (input.windows[input.windows.length - 1] as StatsWindow).seconds;
  const since = (seconds: number) => `${asOf} - INTERVAL ${quote(String(seconds))} SECOND`;
  const duckDbSource = (files: readonly string[], kind: string) =>
    files.length === 0
      ? `SELECT NULL::VARCHAR AS article_id, NULL::TIMESTAMPTZ AS occurred_at, ${quote(kind)} AS kind WHERE false`
      : // Each event once, by the lake's dedup rule (a redelivery, or a compaction's inputs not deleted yet).
        `SELECT article_id, occurred_at, ${quote(kind)} AS kind FROM read_parquet([${files.map(quote).join(', ')}], union_by_name = true, filename = true) ` +
        `QUALIFY ${rowNumberSql(duckDbDedup('filename', []))} = 1`;
  const athenaSource = (view: string, kind: string) =>
    `SELECT article_id, occurred_at, ${quote(kind)} AS kind FROM ${ident(view)} WHERE ${partitionFilterSql(input.asOf, longest)}`;
  const [impressions, clicks] =
    input.dialect === 'athena'
      ? [athenaSource(input.impressionView, 'i'), athenaSource(input.clickView, 'c')]
      : [duckDbSource(input.impressionFiles, 'i'), duckDbSource(input.clickFiles, 'c')];
  const columns = input.windows.flatMap((w) =>
    (['impressions', 'clicks'] as const).map((kind) => {
      const k = kind === 'impressions' ? 'i' : 'c';
      return `count(*) FILTER (WHERE kind = '${k}' AND occurred_at >= ${since(w.seconds)}) AS ${ident(`${kind}_${w.label}`)}`;
    }),
  );
  return `SELECT article_id, ${columns.join(', ')}
FROM (${impressions} UNION ALL ${clicks}) AS events
WHERE article_id IS NOT NULL AND occurred_at < ${asOf} AND occurred_at >= ${since(longest)}
GROUP BY article_id ORDER BY article_id`;
}

/** The query's rows (column name -> value) as counts. */
export function countsFromRows(
  rows: ReadonlyArray<Record<string, unknown>>,
  windows: readonly StatsWindow[],
): ArticleCounts[] {
  return rows.map((row) => ({
    article_id: String(row.article_id),
    impressions: Object.fromEntries(
      windows.map((w) => [w.label, Number(row[`impressions_${w.label}`] ?? 0)]),
    ),
    clicks: Object.fromEntries(windows.map((w) => [w.label, Number(row[`clicks_${w.label}`] ?? 0)])),
  }));
}

/** The UTC dates (YYYY-MM-DD) a window of `seconds` ending at `asOf` touches, oldest first. */
export function datesCovered(asOf: Date, seconds: number): string[] {
  const end = asOf.getTime() - 1;
  const dates: string[] = [];
  for (
    let day = Math.floor((end - seconds * 1000 + 1) / 86_400_000);
    day <= Math.floor(end / 86_400_000);
    day++
  ) {
    dates.push(new Date(day * 86_400_000).toISOString().slice(0, 10));
  }
  return dates;
}

/** The run's as-of instant for a date: the end of that UTC day. Throws on a malformed date. */
export function asOfDate(date: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new BatchInputError(`date "${date}" is not YYYY-MM-DD`);
  }
  const start = new Date(`${date}T00:00:00Z`);
  if (start.toISOString().slice(0, 10) !== date) throw new BatchInputError(`date "${date}" does not exist`);
  return new Date(start.getTime() + 86_400_000);
}
