import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  type ArticleCounts,
  articleStats,
  articleStatsSql,
  asOfDate,
  BatchInputError,
  countsFromRows,
  datesCovered,
  FALLBACK_MEAN,
  FALLBACK_STRENGTH,
  fitBetaPrior,
  parseWindows,
  posteriorCtr,
} from '../../../lib/domain/batch/stats';

describe('article stats', () => {
  it('parses windows shortest first and rejects a window without a unit, naming it', () => {
    // Act
    const windows = parseWindows('7d, 1h,24h,30m');

    // Assess
    expect(windows).toEqual([
      { label: '30m', seconds: 1800 },
      { label: '1h', seconds: 3600 },
      { label: '24h', seconds: 86_400 },
      { label: '7d', seconds: 604_800 },
    ]);
    expect(() => parseWindows('1h,7 days')).toThrow(
      new BatchInputError('window "7 days" is not a count and a unit (m, h or d), e.g. 24h'),
    );
    expect(() => parseWindows('0h')).toThrow(BatchInputError);
    expect(() => parseWindows(' , ')).toThrow('no stats window given');
  });

  it('fits the Beta prior by the method of moments, so its mean and variance are the CTRs', () => {
    // Prepare: CTRs 0.1, 0.2, 0.3 (mean 0.2, population variance 0.02/3)
    const observed = [
      { impressions: 100, clicks: 10 },
      { impressions: 50, clicks: 10 },
      { impressions: 10, clicks: 3 },
      { impressions: 0, clicks: 0 },
    ];

    // Act
    const prior = fitBetaPrior(observed);

    // Assess
    const strength = (0.2 * 0.8) / (0.02 / 3) - 1;
    expect(prior.method).toBe('moments');
    expect(prior.articles).toBe(3);
    expect(prior.alpha).toBeCloseTo(0.2 * strength, 10);
    expect(prior.beta).toBeCloseTo(0.8 * strength, 10);
    const mean = prior.alpha / (prior.alpha + prior.beta);
    const variance =
      (prior.alpha * prior.beta) / ((prior.alpha + prior.beta) ** 2 * (prior.alpha + prior.beta + 1));
    expect(mean).toBeCloseTo(0.2, 10);
    expect(variance).toBeCloseTo(0.02 / 3, 10);
  });

  it('falls back to a weak prior when the data has no spread, one article or no impression', () => {
    // Act
    const same = fitBetaPrior([
      { impressions: 10, clicks: 1 },
      { impressions: 20, clicks: 2 },
    ]);
    const one = fitBetaPrior([{ impressions: 10, clicks: 4 }]);
    const none = fitBetaPrior([]);
    const allClicked = fitBetaPrior([
      { impressions: 3, clicks: 5 },
      { impressions: 2, clicks: 2 },
    ]);

    // Assess
    expect(same).toEqual({
      alpha: expect.closeTo(0.1 * FALLBACK_STRENGTH, 10),
      beta: expect.closeTo(0.9 * FALLBACK_STRENGTH, 10),
      method: 'fallback',
      articles: 2,
    });
    expect(one).toMatchObject({ alpha: expect.closeTo(0.8, 10), method: 'fallback', articles: 1 });
    expect(none).toEqual({
      alpha: FALLBACK_MEAN * 2,
      beta: (1 - FALLBACK_MEAN) * 2,
      method: 'fallback',
      articles: 0,
    });
    expect(allClicked.alpha).toBeCloseTo(FALLBACK_MEAN * 2, 10);
  });

  it('smooths an article with few impressions toward the prior and caps clicks at impressions', () => {
    // Prepare
    const prior = { alpha: 2, beta: 18, method: 'moments' as const, articles: 5 };

    // Act / Assess
    expect(posteriorCtr(prior, 0, 0)).toBeCloseTo(0.1, 10);
    expect(posteriorCtr(prior, 1, 1)).toBeCloseTo(3 / 21, 10);
    expect(posteriorCtr(prior, 2, 5)).toBeCloseTo(4 / 22, 10);
  });

  it('builds mart rows by article id with the raw and smoothed CTR of the longest window', () => {
    // Prepare
    const windows = parseWindows('1h,7d');
    const counts: ArticleCounts[] = [
      { article_id: 'b', impressions: { '1h': 1, '7d': 10 }, clicks: { '1h': 0, '7d': 3 } },
      { article_id: 'a', impressions: { '1h': 0, '7d': 20 }, clicks: { '1h': 0, '7d': 2 } },
      { article_id: 'c', impressions: {}, clicks: { '1h': 1 } },
      { article_id: 'a2', impressions: { '7d': 5 }, clicks: { '7d': 0 } },
    ];

    // Act
    const { prior, rows } = articleStats(counts, windows);

    // Assess
    expect(prior.method).toBe('moments');
    expect(rows.map((r) => r.article_id)).toEqual(['a', 'a2', 'b', 'c']);
    expect(rows[0]?.ctr).toBeCloseTo(0.1, 10);
    expect(rows[3]?.ctr).toBeNull();
    expect(rows[3]?.ctr_posterior).toBeCloseTo(prior.alpha / (prior.alpha + prior.beta), 10);
    expect(rows[2]?.ctr_posterior).toBeCloseTo((3 + prior.alpha) / (10 + prior.alpha + prior.beta), 10);
  });

  it('counts impressions and clicks per window in DuckDB, the window ending at the as-of instant, a redelivered event once', async () => {
    // Prepare: a Parquet file of each type written by DuckDB itself
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run("SET TimeZone = 'UTC'");
    const dir = mkdtempSync(join(tmpdir(), 'stats-'));
    const envelope = (prefix: string) =>
      `SELECT '${prefix}' || row_number() OVER () AS event_id, TIMESTAMPTZ '2026-12-01T00:00:01Z' AS received_at, 'r' AS request_id, *`;
    await c.run(`COPY (${envelope('i')} FROM (VALUES
        ('a', TIMESTAMPTZ '2026-11-30T23:30:00Z'), ('a', TIMESTAMPTZ '2026-11-30T12:00:00Z'),
        ('a', TIMESTAMPTZ '2026-11-25T00:00:00Z'), ('b', TIMESTAMPTZ '2026-11-30T23:59:59Z'),
        ('b', TIMESTAMPTZ '2026-12-01T00:00:00Z'), ('z', TIMESTAMPTZ '2026-11-01T00:00:00Z'))
        AS t(article_id, occurred_at)) TO '${dir}/imp.parquet' (FORMAT parquet)`);
    await c.run(`COPY (${envelope('c')} FROM (VALUES ('a', TIMESTAMPTZ '2026-11-30T23:31:00Z'), ('b', TIMESTAMPTZ '2026-11-29T00:00:00Z'))
        AS t(article_id, occurred_at)) TO '${dir}/clk.parquet' (FORMAT parquet)`);
    // A Firehose redelivery of the first impression: the same event in another file.
    await c.run(
      `COPY (SELECT * FROM '${dir}/imp.parquet' WHERE event_id = 'i1') TO '${dir}/imp-again.parquet' (FORMAT parquet)`,
    );
    const windows = parseWindows('1h,24h,7d');

    // Act
    const sql = articleStatsSql({
      impressionFiles: [`${dir}/imp.parquet`, `${dir}/imp-again.parquet`],
      clickFiles: [`${dir}/clk.parquet`],
      windows,
      asOf: asOfDate('2026-11-30'),
    });
    const rows = countsFromRows((await c.runAndReadAll(sql)).getRowObjectsJS(), windows);
    const noClicks = countsFromRows(
      (
        await c.runAndReadAll(
          articleStatsSql({
            impressionFiles: [`${dir}/imp.parquet`],
            clickFiles: [],
            windows,
            asOf: asOfDate('2026-11-30'),
          }),
        )
      ).getRowObjectsJS(),
      windows,
    );

    // Assess
    expect(rows).toEqual([
      {
        article_id: 'a',
        impressions: { '1h': 1, '24h': 2, '7d': 3 },
        clicks: { '1h': 1, '24h': 1, '7d': 1 },
      },
      {
        article_id: 'b',
        impressions: { '1h': 1, '24h': 1, '7d': 1 },
        clicks: { '1h': 0, '24h': 0, '7d': 1 },
      },
    ]);
    expect(noClicks.map((r) => r.clicks['7d'])).toEqual([0, 0]);
    c.closeSync();
  });

  it('names the dates a window touches and the end of a run date, and rejects a bad date', () => {
    // Act / Assess
    const asOf = asOfDate('2026-11-30');
    expect(asOf.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(datesCovered(asOf, 3600)).toEqual(['2026-11-30']);
    expect(datesCovered(asOf, 7 * 86_400)).toEqual([
      '2026-11-24',
      '2026-11-25',
      '2026-11-26',
      '2026-11-27',
      '2026-11-28',
      '2026-11-29',
      '2026-11-30',
    ]);
    expect(() => asOfDate('2026-13-01')).toThrow('date "2026-13-01" is not YYYY-MM-DD');
    expect(() => asOfDate('2026-02-30')).toThrow('date "2026-02-30" does not exist');
    expect(() => asOfDate('yesterday')).toThrow(BatchInputError);
  });
});
