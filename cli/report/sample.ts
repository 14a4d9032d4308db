import { figure, KPI_REPORT_VERSION, type KpiReport, ratio } from '../../lib/domain/report';
import { Random } from '../traffic/random';

/** What a sample report looks like. */
export interface SampleReportOptions {
  /** The report's day (UTC), YYYY-MM-DD. Default 2026-11-30. */
  date?: string;
  /** Same seed, same report. Default 3 (a day with figures both up and down). */
  seed?: number | string;
  /** "no_events": a day the lake holds nothing for (quarantine and freshness still reported). */
  status?: KpiReport['status'];
  /** False: no report for the day before (every `previous` is null). Default true. */
  previous?: boolean;
}

/** Splits `total` into integers proportional to `weights` that add up to exactly `total`. */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new RangeError(`cannot apportion ${total} over weights that add up to ${sum}`);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((e, i) => ({ i, r: e - Math.floor(e) }))
    .sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left-- <= 0) break;
    parts[i] = (parts[i] as number) + 1;
  }
  return parts;
}

const PLATFORMS = [
  { platform: 'ios', share: 0.46, ctr: 0.056 },
  { platform: 'android', share: 0.44, ctr: 0.05 },
  { platform: 'web', share: 0.1, ctr: 0.031 },
];
const TABS = [
  { tab: 'top', share: 0.41, ctr: 0.061 },
  { tab: 'entertainment', share: 0.14, ctr: 0.058 },
  { tab: 'sports', share: 0.12, ctr: 0.052 },
  { tab: 'economy', share: 0.09, ctr: 0.041 },
  { tab: 'tech', share: 0.09, ctr: 0.047 },
  { tab: 'world', share: 0.08, ctr: 0.036 },
  { tab: 'local', share: 0.07, ctr: 0.044 },
];

/**
 * A realistic KPI report of a mid-sized Japanese news app (about 180k daily users, 8M impressions),
 * deterministic for a seed, that adds up like a real one (`parseReport` accepts it). For tests, the
 * page's design and `npm start` until the batch chain computes real ones.
 */
export function sampleReport(options: SampleReportOptions = {}): KpiReport {
  const date = options.date ?? '2026-11-30';
  const random = new Random(options.seed ?? 3);
  const jitter = (value: number, spread: number) => value * (1 + (random.next() * 2 - 1) * spread);
  const hasPrevious = options.previous ?? true;
  const noEvents = options.status === 'no_events';

  // The day before, then today: a few percent apart.
  const day = (scale: number) => {
    const dau = Math.round(jitter(184_000 * scale, 0.04));
    const impressions = Math.round(dau * jitter(43, 0.05));
    const tabImpressions = apportion(
      impressions,
      TABS.map((t) => jitter(t.share, 0.08)),
    );
    const tabClicks = TABS.map((t, i) => Math.round((tabImpressions[i] as number) * jitter(t.ctr, 0.06)));
    const clicks = tabClicks.reduce((a, b) => a + b, 0);
    const platformImpressions = apportion(
      impressions,
      PLATFORMS.map((p) => jitter(p.share, 0.03)),
    );
    const platformClicks = apportion(
      clicks,
      PLATFORMS.map((p, i) => (platformImpressions[i] as number) * p.ctr),
    );
    const adImpressions = Math.round(impressions * jitter(0.17, 0.05));
    const actions = Math.round(dau * jitter(0.9, 0.1));
    return {
      dau,
      impressions,
      clicks,
      tabImpressions,
      tabClicks,
      platformImpressions,
      platformClicks,
      adImpressions,
      actions,
    };
  };
  const before = day(0.98);
  const today = noEvents ? null : day(1);
  const eventsOf = (d: ReturnType<typeof day>) => d.impressions + d.clicks + d.adImpressions + d.actions;
  const prev = <T>(value: T) => (hasPrevious ? value : null);

  const newUsers = today === null ? 0 : Math.round(today.dau * jitter(0.045, 0.2));
  const collectIn = today === null ? 0 : eventsOf(today);
  const collectQuarantined = today === null ? 0 : Math.round(collectIn * jitter(0.003, 0.3));
  const formatQuarantined = today === null ? 0 : Math.round(collectIn * jitter(0.0004, 0.3));
  const articlesIn = Math.round(jitter(1_850, 0.1));
  const articlesQuarantined = Math.round(articlesIn * jitter(0.013, 0.2));
  const stage = (s: 'collect' | 'format' | 'articles', records_in: number, quarantined: number) => ({
    stage: s,
    records_in,
    quarantined,
    rate: ratio(quarantined, records_in),
  });
  const nextDay = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const checkedAt = `${nextDay}T21:05:12.000Z`.replace(`${nextDay}T21`, `${nextDay}T00`);
  const rawAge = Math.round(jitter(14 * 60, 0.3));
  const rawTime = new Date(Date.parse(checkedAt) - rawAge * 1000).toISOString();
  const rawHour = rawTime.slice(11, 13);

  return {
    report_version: KPI_REPORT_VERSION,
    date,
    generated_at: `${nextDay}T00:07:41.318Z`,
    run_id: `batch-scoring-${date}-${random.hex(8)}`,
    status: noEvents ? 'no_events' : 'ok',
    headline: {
      daily_active_users: figure(today?.dau ?? 0, prev(before.dau)),
      events: figure(today === null ? 0 : eventsOf(today), prev(eventsOf(before))),
      impressions: figure(today?.impressions ?? 0, prev(before.impressions)),
      clicks: figure(today?.clicks ?? 0, prev(before.clicks)),
      ctr: figure(
        today === null ? null : ratio(today.clicks, today.impressions),
        prev(ratio(before.clicks, before.impressions)),
      ),
    },
    ctr_by_platform:
      today === null
        ? []
        : PLATFORMS.map((p, i) => {
            const impressions = today.platformImpressions[i] as number;
            const clicks = today.platformClicks[i] as number;
            return { platform: p.platform, impressions, clicks, ctr: ratio(clicks, impressions) };
          }),
    ctr_by_tab:
      today === null
        ? []
        : TABS.map((t, i) => {
            const impressions = today.tabImpressions[i] as number;
            const clicks = today.tabClicks[i] as number;
            return { tab: t.tab, impressions, clicks, ctr: ratio(clicks, impressions) };
          }),
    events_by_type:
      today === null
        ? []
        : [
            { event_type: 'impression', count: today.impressions },
            { event_type: 'ad_impression', count: today.adImpressions },
            { event_type: 'click', count: today.clicks },
            { event_type: 'action', count: today.actions },
          ],
    users: { new_users: newUsers, returning_users: (today?.dau ?? 0) - newUsers },
    quarantine: {
      threshold: 0.01,
      stages: [
        stage('collect', collectIn + collectQuarantined, collectQuarantined),
        stage('format', collectIn, formatQuarantined),
        stage('articles', articlesIn, articlesQuarantined),
      ],
    },
    freshness: {
      checked_at: checkedAt,
      oldest_unformatted_raw: noEvents
        ? null
        : {
            key: `raw/events/dt=${rawTime.slice(0, 10)}/hour=${rawHour}/logbase-prod-events-1-${rawTime.slice(0, 19).replace(/[T:]/g, '-')}-${random.uuidV4()}.gz`,
            age_seconds: rawAge,
          },
      user_vector_lag_seconds: noEvents ? null : Math.round(jitter(42, 0.4)),
      limits: { raw_age_seconds: 30 * 60, user_vector_lag_seconds: 120 },
    },
    data_quality: {
      skipped_articles: {
        count: 3,
        items: [
          { article_id: `a-${date.replace(/-/g, '')}-0412`, reason: 'no vector in ArticleVectors' },
          { article_id: `a-${date.replace(/-/g, '')}-0977`, reason: 'no vector in ArticleVectors' },
          { article_id: `a-${date.replace(/-/g, '')}-1203`, reason: 'vector of model hash-v0, not hash-v1' },
        ],
      },
      unreadable_user_items: {
        count: 2,
        items: [
          { user_id: `u-${random.hex(10)}`, reason: 'vector attribute holds 508 bytes, not 512' },
          { user_id: `u-${random.hex(10)}`, reason: 'history is not a list' },
        ],
      },
    },
  };
}
