import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { demoReport } from '../../../cli/commands/dev';
import { generateTraffic, steadyClock } from '../../../cli/traffic';
import { manifestKey } from '../../../lib/domain/format/records';
import { type KpiReport, parseReport } from '../../../lib/domain/report';
import { dailyUsersKey, reportKeys } from '../../../lib/domain/report/kpi';
import { launchChromium } from '../../helpers/chromium';
import { readParquet } from '../../helpers/parquet';
import { drawnCharts } from '../../helpers/report-page';
import { API_KEY, BUCKET, usePlatform } from '../collect/platform';
import { eventually, listKeys, readObject } from '../local/harness';

/**
 * The KPI report on the whole local platform, as `npm start -- --demo` makes it: events posted through
 * collect land raw via the local Firehose and are formatted into the lake by formatParquet, then the
 * batch-scoring state machine runs with every Task in serverless-offline, and PublishReport writes the
 * report. Its counts are checked against the lake queried here, in DuckDB, with the test's own SQL; the page
 * is opened from the stack's HTTP API in headless Chromium (screenshot under artifacts/report/).
 */
const platform = usePlatform();
const MACHINE = 'logbase-local-batch-scoring';
const ARTIFACTS = resolve(__dirname, '../../../artifacts/report');
const NO_EVENTS_DATE = '2025-06-01';

async function report(date: string): Promise<KpiReport> {
  return parseReport(
    JSON.parse((await readObject(platform.clients.s3, BUCKET, reportKeys(date).json)).toString('utf8')),
  );
}

/** The lake's counts of a date, straight from its Parquet objects (not the report's SQL). */
async function lakeCounts(date: string) {
  const keys = (await listKeys(platform.clients.s3, BUCKET, 'lake/')).filter(
    (k) => k.includes(`/dt=${date}/`) && k.endsWith('.parquet') && !k.startsWith('lake/_manifests/'),
  );
  const dir = mkdtempSync(join(tmpdir(), 'kpi-lake-'));
  const files = await Promise.all(
    keys.map(async (key, i) => {
      const file = join(dir, `${i}.parquet`);
      writeFileSync(file, await readObject(platform.clients.s3, BUCKET, key));
      return `'${file}'`;
    }),
  );
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const stored = `read_parquet([${files.join(', ')}], union_by_name = true)`;
  // Each event once (a redelivered object stores its events twice): the first copy of every event id.
  const all = `(SELECT * FROM ${stored} QUALIFY row_number() OVER (PARTITION BY event_id) = 1)`;
  const rows = async (sql: string) =>
    (await c.runAndReadAll(sql))
      .getRowObjectsJS()
      .map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
  const [headline] = await rows(
    `SELECT count(DISTINCT user_id) AS dau, count(*) AS events, count(*) FILTER (WHERE event_type = 'impression') AS impressions, count(*) FILTER (WHERE event_type = 'click') AS clicks FROM ${all}`,
  );
  const byPlatform = await rows(
    `SELECT platform, count(*) FILTER (WHERE event_type = 'impression') AS impressions, count(*) FILTER (WHERE event_type = 'click') AS clicks FROM ${all} WHERE event_type IN ('impression', 'click') GROUP BY platform ORDER BY platform`,
  );
  const byType = await rows(`SELECT event_type, count(*) AS count FROM ${all} GROUP BY 1 ORDER BY 1`);
  const [storedRows] = await rows(`SELECT count(*) AS n FROM ${stored}`);
  c.closeSync();
  rmSync(dir, { recursive: true, force: true });
  return { files: files.length, headline, byPlatform, byType, storedRows: Number(storedRows?.n) };
}

describe('The KPI report of a day of events on the local platform', () => {
  // The events' day (UTC), their time a few seconds ago; what collect accepted and rejected.
  const now = Date.now();
  const date = new Date(now).toISOString().slice(0, 10);
  let accepted = 0;
  let rejected = 0;

  it('answers /reports/kpi/latest with a clear 404 page while no report exists', async () => {
    // Act
    const answer = await fetch(`${platform.stack.endpoints.http}/reports/kpi/latest`);

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await answer.text()).toContain('no report yet: run <code>logbase run batch-scoring</code>');
  });

  it("publishes, once the demo's events are formatted, a report whose counts equal the lake's queried independently", async () => {
    // Prepare: 600 generated events, 5% broken on purpose, stamped a few seconds ago
    const events = generateTraffic(600, {
      seed: 21,
      invalidShare: 0.05,
      clock: steadyClock(now - 5_000, 1_000),
    }).map((g) => g.event);
    for (let i = 0; i < events.length; i += 100) {
      const res = await fetch(platform.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify({ events: events.slice(i, i + 100) }),
      });
      const body = (await res.json()) as { accepted: number; rejected: unknown[] };
      accepted += body.accepted;
      rejected += body.rejected.length;
    }
    const progress: string[] = [];

    // Act: what `npm start -- --demo` does after sending
    const lines = await demoReport(platform.stack, date, new AbortController().signal, {
      log: (line) => progress.push(line),
    });

    // Assess: the demo says where the report is
    expect(rejected).toBeGreaterThan(0);
    expect(lines).toContain(
      `KPI report of ${date}: open ${platform.stack.endpoints.http}/reports/kpi/latest`,
    );
    expect(progress.at(-1)).toBe(
      `logbase dev: demo: running batch-scoring for ${date} (article stats, scoring, KPI report) ...`,
    );

    // Assess: the report's counts are the lake's
    const published = await report(date);
    const lake = await lakeCounts(date);
    expect(lake.files).toBeGreaterThan(0);
    expect(published.status).toBe('ok');
    expect({
      dau: published.headline.daily_active_users.value,
      events: published.headline.events.value,
      impressions: published.headline.impressions.value,
      clicks: published.headline.clicks.value,
    }).toEqual(lake.headline);
    expect(
      published.ctr_by_platform
        .map(({ platform, impressions, clicks }) => ({ platform, impressions, clicks }))
        .sort((a, b) => (a.platform < b.platform ? -1 : 1)),
    ).toEqual(lake.byPlatform);
    expect([...published.events_by_type].sort((a, b) => (a.event_type < b.event_type ? -1 : 1))).toEqual(
      lake.byType,
    );
    expect(lake.headline?.events).toBe(accepted);
    // A fresh lake: nobody was seen before; collect kept what it rejected, the formatter read what collect accepted.
    expect(published.users).toEqual({ new_users: lake.headline?.dau, returning_users: 0 });
    expect(published.quarantine.stages.slice(0, 2)).toEqual([
      {
        stage: 'collect',
        records_in: accepted + rejected,
        quarantined: rejected,
        rate: rejected / (accepted + rejected),
      },
      { stage: 'format', records_in: accepted, quarantined: 0, rate: 0 },
    ]);
    expect(published.freshness.oldest_unformatted_raw).toBeNull();
    expect(published.headline.daily_active_users.previous).toBeNull();
    // The day's users mart, which later reports' lookback reads instead of this day's events
    const mart = await readParquet(await readObject(platform.clients.s3, BUCKET, dailyUsersKey(date)));
    expect(mart.rows).toHaveLength(Number(lake.headline?.dau));
    expect(mart.rows.map((r) => r.user_id)).toEqual([...new Set(mart.rows.map((r) => r.user_id))].sort());

    // Assess: the stack's HTTP API serves that page as the latest
    const page = await fetch(`${platform.stack.endpoints.http}/reports/kpi/latest`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(
      (await readObject(platform.clients.s3, BUCKET, reportKeys(date).html)).toString('utf8'),
    );
  }, 180_000);

  it('draws every chart of the published page with data in a real browser, served by the local HTTP API', async () => {
    // Prepare
    mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await launchChromium();
    const url = `${platform.stack.endpoints.http}/reports/kpi/latest`;
    try {
      const page = await browser.context.newPage();
      const blocked: string[] = [];
      const errors: string[] = [];
      await page.route('**/*', (route) => {
        if (route.request().url() === url) return route.continue();
        blocked.push(route.request().url());
        return route.abort();
      });
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));

      // Act
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => typeof (globalThis as any).kpiCharts === 'object');
      const charts = await drawnCharts(page);
      const path = join(ARTIFACTS, 'kpi-report-run.png');
      await page.screenshot({ path, fullPage: true });
      console.log(`KPI page of a real run, screenshot: ${path}`);

      // Assess
      const published = await report(date);
      expect(blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(charts.map((c) => c.id)).toEqual([
        'ctr-platform',
        'ctr-tab',
        'events-type',
        'users',
        'quarantine',
      ]);
      const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
      expect(byId['events-type']?.data).toEqual(published.events_by_type.map((r) => r.count));
      expect(byId.users?.data).toEqual([published.users.new_users, published.users.returning_users]);
      for (const chart of charts)
        expect({ id: chart.id, painted: chart.dataPixels > 400 }).toEqual({ id: chart.id, painted: true });
      await expect(page.locator('[data-figure="daily_active_users"] .value').textContent()).resolves.toBe(
        published.headline.daily_active_users.value.toLocaleString('en-US'),
      );
    } finally {
      await browser.close();
    }
  });

  it('gives the same report.json on a second run of the date after Firehose redelivered a raw object, but for its run id and times', async () => {
    // Prepare: one of the day's raw objects delivered again under another key, formatted again by the stack
    const first = await report(date);
    const raw = (await listKeys(platform.clients.s3, BUCKET, 'raw/events/')).filter((k) =>
      k.includes(`dt=${date}/`),
    );
    const source = raw[0] as string;
    const redelivered = `${source}-redelivered`;
    await platform.clients.s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, CopySource: `${BUCKET}/${source}`, Key: redelivered }),
    );
    await eventually(
      `the formatter's manifest of ${redelivered}`,
      async () => (await listKeys(platform.clients.s3, BUCKET, manifestKey(redelivered))).length > 0,
      60_000,
    );
    const lake = await lakeCounts(date);

    // Act
    const again = await platform.stack.stepFunctions.start(MACHINE, { date }).result;

    // Assess
    expect(lake.storedRows).toBeGreaterThan(Number(lake.headline?.events));
    expect(again.status).toBe('SUCCEEDED');
    const second = await report(date);
    const stable = (r: KpiReport) => ({
      ...r,
      run_id: '',
      generated_at: '',
      freshness: { ...r.freshness, checked_at: '' },
    });
    expect(second.run_id).toBe(again.executionId);
    expect(stable(second)).toEqual(stable(first));
  }, 120_000);

  it('publishes a "no events" report for a date the lake holds nothing for, and latest stays the newest date', async () => {
    // Act
    const ended = await platform.stack.stepFunctions.start(MACHINE, { date: NO_EVENTS_DATE }).result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    const empty = await report(NO_EVENTS_DATE);
    expect(empty.status).toBe('no_events');
    expect(empty.headline.events.value).toBe(0);
    expect(empty.ctr_by_platform).toEqual([]);
    const page = await (
      await fetch(`${platform.stack.endpoints.http}/reports/kpi/dt=${NO_EVENTS_DATE}/`)
    ).text();
    expect(page).toContain(`この日 (${NO_EVENTS_DATE}) のイベントはありません`);
    const latest = await (await fetch(`${platform.stack.endpoints.http}/reports/kpi/latest`)).text();
    expect(latest).toContain(`KPI レポート ${date}`);
  }, 120_000);

  it('compares the next day with the report of the day before it', async () => {
    // Prepare
    const today = await report(date);
    const tomorrow = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

    // Act
    const ended = await platform.stack.stepFunctions.start(MACHINE, { date: tomorrow }).result;

    // Assess
    expect(ended.status).toBe('SUCCEEDED');
    const next = await report(tomorrow);
    expect(next.headline.daily_active_users).toEqual({
      value: 0,
      previous: today.headline.daily_active_users.value,
      change: -1,
    });
    expect(next.headline.clicks.previous).toBe(today.headline.clicks.value);
    expect(next.headline.ctr.previous).toBe(today.headline.ctr.value);
    // Its lookback read the day before from that day's users mart, the six days before it from the lake
    expect((ended.output as { report: { earlierDays: unknown } }).report.earlierDays).toEqual({
      fromMarts: 1,
      fromLake: 6,
    });
  }, 120_000);
});
