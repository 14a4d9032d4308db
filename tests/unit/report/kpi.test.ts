import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { distinctDeliveries, skippedInputs } from '../../../lib/batch/report';
import type { FormatManifest } from '../../../lib/domain/format/records';
import { parseReport } from '../../../lib/domain/report';
import {
  type CountRow,
  dayBefore,
  type KpiInput,
  kpiReport,
  kpiSql,
  latestReportDate,
  reportKeys,
} from '../../../lib/domain/report/kpi';

const DAY = '2026-11-30';
const NOW = new Date('2026-12-01T00:30:00Z');

function input(overrides: Partial<KpiInput> = {}): KpiInput {
  return {
    date: DAY,
    runId: 'run-1',
    generatedAt: NOW,
    counts: [
      { event_type: 'impression', platform: 'web', tab: 'sports', events: 10 },
      { event_type: 'impression', platform: 'ios', tab: 'top', events: 30 },
      { event_type: 'impression', platform: 'ios', tab: 'weather', events: 5 },
      { event_type: 'click', platform: 'ios', tab: 'top', events: 4 },
      { event_type: 'click', platform: 'web', tab: 'sports', events: 1 },
      { event_type: 'action', platform: 'android', tab: null, events: 7 },
    ],
    users: { daily_active_users: 6, returning_users: 4 },
    stages: {
      collect: { records_in: 60, quarantined: 3 },
      format: { records_in: 57, quarantined: 0 },
      articles: { records_in: 0, quarantined: 0 },
    },
    freshness: {
      checkedAt: NOW,
      oldestUnformattedRaw: {
        key: 'raw/events/dt=2026-12-01/hour=00/x.gz',
        lastModified: new Date('2026-12-01T00:10:00Z'),
      },
      newestClickMs: Date.parse('2026-11-30T23:59:00Z'),
      newestVectorUpdateMs: Date.parse('2026-11-30T23:58:00Z'),
    },
    limits: { quarantineThreshold: 0.01, rawAgeSeconds: 1800, userVectorLagSeconds: 120 },
    previous: null,
    skipped: { articles: { count: 0, items: [] }, users: { count: 0, items: [] } },
    ...overrides,
  };
}

describe('the KPI report of a day, from the lake queries', () => {
  it('adds up impressions, clicks and CTR by platform and tab in the page order, events by type, and new users', () => {
    // Act
    const report = parseReport(kpiReport(input()));

    // Assess
    expect(report.status).toBe('ok');
    expect(report.headline.events.value).toBe(57);
    expect(report.headline.ctr.value).toBeCloseTo(5 / 45);
    expect(report.ctr_by_platform).toEqual([
      { platform: 'ios', impressions: 35, clicks: 4, ctr: 4 / 35 },
      { platform: 'web', impressions: 10, clicks: 1, ctr: 0.1 },
    ]);
    expect(report.ctr_by_tab.map((t) => t.tab)).toEqual(['top', 'sports', 'weather']);
    expect(report.events_by_type).toEqual([
      { event_type: 'impression', count: 45 },
      { event_type: 'click', count: 5 },
      { event_type: 'action', count: 7 },
    ]);
    expect(report.users).toEqual({ new_users: 2, returning_users: 4 });
    expect(report.quarantine.stages.map((s) => [s.stage, s.rate])).toEqual([
      ['collect', 0.05],
      ['format', 0],
      ['articles', null],
    ]);
    expect(report.freshness.oldest_unformatted_raw?.age_seconds).toBe(1200);
    expect(report.freshness.user_vector_lag_seconds).toBe(60);
    expect(report.headline.daily_active_users).toEqual({ value: 6, previous: null, change: null });
  });

  it('compares with the day before, and says no events for an empty day', () => {
    // Prepare
    const yesterday = parseReport(kpiReport(input({ date: dayBefore(DAY) })));

    // Act
    const today = parseReport(
      kpiReport(input({ previous: yesterday, users: { daily_active_users: 3, returning_users: 3 } })),
    );
    const empty = parseReport(
      kpiReport(
        input({
          counts: [],
          users: { daily_active_users: 0, returning_users: 0 },
          freshness: {
            checkedAt: NOW,
            oldestUnformattedRaw: null,
            newestClickMs: null,
            newestVectorUpdateMs: null,
          },
        }),
      ),
    );

    // Assess
    expect(today.headline.daily_active_users).toEqual({ value: 3, previous: 6, change: -0.5 });
    expect(today.headline.ctr.previous).toBeCloseTo(5 / 45);
    expect(empty.status).toBe('no_events');
    expect(empty.ctr_by_tab).toEqual([]);
    expect(empty.freshness.user_vector_lag_seconds).toBeNull();
    expect(empty.freshness.oldest_unformatted_raw).toBeNull();
  });

  it("measures the vector lag as the newest click's age when no vector was ever written, and never below 0", () => {
    const none = kpiReport(input({ freshness: { ...input().freshness, newestVectorUpdateMs: null } }));
    const ahead = kpiReport(
      input({ freshness: { ...input().freshness, newestVectorUpdateMs: NOW.getTime() } }),
    );

    expect(none.freshness.user_vector_lag_seconds).toBe(31 * 60);
    expect(ahead.freshness.user_vector_lag_seconds).toBe(0);
  });

  it('names the skipped articles and unreadable users of the shards, counting past the named ones', () => {
    // Act
    const skipped = skippedInputs([
      {
        skipped: {
          count: 3,
          articles: 2,
          named: [
            { kind: 'article', id: 'a1', reason: 'no vector' },
            { kind: 'user', id: 'u1', reason: 'history unreadable' },
          ],
        },
      },
      { skipped: { count: 1, named: [{ kind: 'article', id: 'a2', reason: 'no vector' }] } },
    ]);

    // Assess
    expect(skipped).toEqual({
      articles: {
        count: 3,
        items: [
          { article_id: 'a1', reason: 'no vector' },
          { article_id: 'a2', reason: 'no vector' },
        ],
      },
      users: { count: 1, items: [{ user_id: 'u1', reason: 'history unreadable' }] },
    });
  });

  it('publishes a day whose clicks outnumber its logged impressions, with a CTR above 100% rather than no report', () => {
    // Prepare: clicks from a tab whose impressions were never logged (a push notification, lost impressions)
    const counts: CountRow[] = [
      { event_type: 'impression', platform: 'ios', tab: 'top', events: 2 },
      { event_type: 'click', platform: 'ios', tab: 'top', events: 1 },
      { event_type: 'click', platform: 'ios', tab: 'push', events: 3 },
    ];

    // Act
    const report = parseReport(
      kpiReport(input({ counts, users: { daily_active_users: 2, returning_users: 0 } })),
    );

    // Assess
    expect(report.headline.ctr.value).toBe(2);
    expect(report.ctr_by_tab).toEqual(
      expect.arrayContaining([{ tab: 'push', impressions: 0, clicks: 3, ctr: null }]),
    );
  });

  it('finds the newest report among the keys under reports/kpi/', () => {
    expect(
      latestReportDate([
        'reports/kpi/dt=2026-11-29/index.html',
        'reports/kpi/dt=2026-11-30/report.json',
        'reports/kpi/dt=2026-11-28/index.html',
      ]),
    ).toBe('2026-11-29');
    expect(latestReportDate(['reports/kpi/latest'])).toBeUndefined();
    expect(reportKeys(DAY)).toEqual({
      json: 'reports/kpi/dt=2026-11-30/report.json',
      html: 'reports/kpi/dt=2026-11-30/index.html',
    });
  });
});

describe('the KPI queries in DuckDB', () => {
  it('count each event once by type, platform and tab (an action has no tab), and tell returning users from new ones', async () => {
    // Prepare: the day's impressions and actions, a Firehose redelivery of the impressions' object and a
    // compaction's output beside its input (its grace period), and an earlier day where only u1 was seen
    const dir = mkdtempSync(join(tmpdir(), 'kpi-sql-'));
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const file = (name: string) => join(dir, name);
    const envelope = (id: string) => `'${id}', TIMESTAMPTZ '2026-11-30 05:00:00+00', 'req-${id}'`;
    const impressions = `SELECT * FROM (VALUES ('impression', 'u1', 'ios', 'top', TIMESTAMPTZ '2026-11-30 01:00:00+00', ${envelope('e1')}), ('impression', 'u2', 'web', 'top', TIMESTAMPTZ '2026-11-30 02:00:00+00', ${envelope('e2')}), ('click', 'u2', 'web', 'top', TIMESTAMPTZ '2026-11-30 03:00:00+00', ${envelope('e3')})) AS t(event_type, user_id, platform, tab, occurred_at, event_id, received_at, request_id)`;
    await c.run(`COPY (${impressions}) TO '${file('000000-a-s0000.parquet')}' (FORMAT parquet)`);
    await c.run(`COPY (${impressions}) TO '${file('000001-b-s0000.parquet')}' (FORMAT parquet)`);
    await c.run(
      `COPY (${impressions}) TO '${file('000002-compacted-0123456789abcdef-0.parquet')}' (FORMAT parquet)`,
    );
    await c.run(
      `COPY (SELECT * FROM (VALUES ('action', 'u3', 'android', TIMESTAMPTZ '2026-11-30 04:00:00+00', ${envelope('e4')})) AS t(event_type, user_id, platform, occurred_at, event_id, received_at, request_id)) TO '${file('a.parquet')}' (FORMAT parquet)`,
    );
    await c.run(`COPY (SELECT 'u1' AS user_id) TO '${file('e.parquet')}' (FORMAT parquet)`);
    const sql = kpiSql({
      day: [
        ...[
          '000000-a-s0000.parquet',
          '000001-b-s0000.parquet',
          '000002-compacted-0123456789abcdef-0.parquet',
        ].map((name) => ({ path: file(name), eventType: 'impression', hasTab: true })),
        { path: file('a.parquet'), eventType: 'action', hasTab: false },
      ],
      earlier: [file('e.parquet')],
    });

    // Act
    const counts = (await c.runAndReadAll(sql.counts)).getRowObjectsJS();
    const users = (await c.runAndReadAll(sql.users)).getRowObjectsJS();
    const newest = (await c.runAndReadAll(sql.newestClick)).getRowObjectsJS();
    const empty = kpiSql({ day: [], earlier: [] });
    const none = (await c.runAndReadAll(empty.users)).getRowObjectsJS();
    c.closeSync();
    rmSync(dir, { recursive: true, force: true });

    // Assess
    expect(counts.map((r) => ({ ...r, events: Number(r.events) })) as unknown as CountRow[]).toEqual([
      { event_type: 'action', platform: 'android', tab: null, events: 1 },
      { event_type: 'click', platform: 'web', tab: 'top', events: 1 },
      { event_type: 'impression', platform: 'ios', tab: 'top', events: 1 },
      { event_type: 'impression', platform: 'web', tab: 'top', events: 1 },
    ]);
    expect(users.map((r) => [Number(r.daily_active_users), Number(r.returning_users)])).toEqual([[3, 1]]);
    expect(Number(newest[0]?.newest_click_ms)).toBe(Date.parse('2026-11-30T03:00:00Z'));
    expect(none.map((r) => Number(r.daily_active_users))).toEqual([0]);
  });
});

describe("the quarantine rate's deliveries", () => {
  it('reads a raw object Firehose delivered twice (same ETag and size, another key) once, and one without an ETag always', () => {
    // Prepare
    const manifest = (key: string, etag: string | undefined, size = 10): FormatManifest =>
      ({
        source: { bucket: 'b', key, size, ...(etag ? { etag } : {}) },
        lines_read: 5,
        lines_quarantined: 1,
      }) as never;
    // Act
    const kept = distinctDeliveries([
      manifest('raw/events/b.gz', 'e1'),
      manifest('raw/events/a.gz', 'e1'),
      manifest('raw/events/c.gz', 'e1', 11),
      manifest('raw/events/gone-1.gz', undefined),
      manifest('raw/events/gone-2.gz', undefined),
    ]);
    // Assess
    expect(kept.map((m) => m.source.key)).toEqual([
      'raw/events/a.gz',
      'raw/events/c.gz',
      'raw/events/gone-1.gz',
      'raw/events/gone-2.gz',
    ]);
  });
});
