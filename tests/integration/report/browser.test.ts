import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { sampleReport } from '../../../cli/report/sample';
import { type KpiReport, renderReportHtml } from '../../../lib/domain/report';
import { launchChromium } from '../../helpers/chromium';
import { drawnCharts } from '../../helpers/report-page';

/**
 * The KPI page in a real browser (Debian's headless Chromium), opened from a file with the network cut:
 * every chart must be drawn with its data, and the screenshots are kept under artifacts/report/.
 */
const ARTIFACTS = resolve(__dirname, '../../../artifacts/report');

let browser: { context: BrowserContext; close: () => Promise<void> };
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});
afterAll(() => browser?.close());

interface Opened {
  page: Page;
  /** Every request the page tried that was not for its own file (all aborted). */
  blocked: string[];
  /** Console errors, CSP violations included, and uncaught exceptions. */
  errors: string[];
}

/** Writes the report's page to artifacts/report/<name>.html and opens it from its file:// URL. */
async function openReport(name: string, report: KpiReport): Promise<Opened> {
  const file = join(ARTIFACTS, `${name}.html`);
  const html = renderReportHtml(report);
  writeFileSync(file, html);
  console.log(`KPI page ${name}.html: ${(Buffer.byteLength(html) / 1024).toFixed(1)} KiB`);
  const page = await browser.context.newPage();
  const blocked: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.waitForFunction(() => typeof (globalThis as any).kpiCharts === 'object');
  return { page, blocked, errors };
}

/** Saves a full-page screenshot under artifacts/report/ and prints where. */
async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`KPI page screenshot: ${path}`);
}

describe('When the team opens the KPI page of a normal day from a file, offline', () => {
  it('draws every chart with the report data and asks the network for nothing', async () => {
    // Prepare
    const report = sampleReport();

    // Act
    const { page, blocked, errors } = await openReport('kpi-report', report);
    const charts = await drawnCharts(page);
    await screenshot(page, 'kpi-report');

    // Assess: nothing was fetched or refused, nothing failed.
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);

    // Assess: five charts, each holding the report's numbers and visibly painted with them.
    expect(charts.map((c) => c.id)).toEqual([
      'ctr-platform',
      'ctr-tab',
      'events-type',
      'users',
      'quarantine',
    ]);
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    const percent = (x: number | null) => (x === null ? null : x * 100);
    expect(byId['ctr-platform']!.labels).toEqual(['iOS', 'Android', 'Web']);
    expect(byId['ctr-platform']!.data).toEqual(report.ctr_by_platform.map((r) => percent(r.ctr)));
    expect(byId['ctr-tab']!.labels).toEqual([
      'トップ',
      'エンタメ',
      'スポーツ',
      '経済',
      'テクノロジー',
      '国際',
      '地域',
    ]);
    expect(byId['ctr-tab']!.data).toEqual(report.ctr_by_tab.map((r) => percent(r.ctr)));
    expect(byId['events-type']!.data).toEqual(report.events_by_type.map((r) => r.count));
    expect(byId.users!.data).toEqual([report.users.new_users, report.users.returning_users]);
    expect(byId.quarantine!.data).toEqual(report.quarantine.stages.map((s) => percent(s.rate)));
    for (const chart of charts)
      expect({ id: chart.id, painted: chart.dataPixels > 400 }).toEqual({ id: chart.id, painted: true });

    // Assess: the headline reads as the report says.
    await expect(page.locator('[data-figure="daily_active_users"] .value').textContent()).resolves.toBe(
      report.headline.daily_active_users.value.toLocaleString('en-US'),
    );
    await expect(page.locator('#no-events').count()).resolves.toBe(0);
    await page.close();
  });
});

describe('When the team opens the KPI page of a day without events', () => {
  it('says there were no events and still draws the quarantine chart', async () => {
    // Prepare
    const report = sampleReport({ status: 'no_events', date: '2026-12-24' });

    // Act
    const { page, blocked, errors } = await openReport('kpi-report-no-events', report);
    const charts = await drawnCharts(page);
    await screenshot(page, 'kpi-report-no-events');

    // Assess
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await expect(page.locator('#no-events strong').textContent()).resolves.toBe(
      'この日 (2026-12-24) のイベントはありません',
    );
    await expect(page.locator('#no-events').isVisible()).resolves.toBe(true);
    expect(charts.map((c) => c.id)).toEqual(['quarantine']);
    expect(charts[0]!.dataPixels).toBeGreaterThan(400);
    await page.close();
  });
});

describe('When the page draws its Japanese labels', () => {
  it('draws them with a Japanese font, not as boxes for missing glyphs', async () => {
    // Prepare
    const { page } = await openReport('kpi-report-fonts', sampleReport());

    // Act: Japanese drawn with the page's font stack (the charts' too), and unassigned code points,
    // whose glyphs are always missing. Runs in the page: browser types, hence the `any`.
    const drawn = await page.evaluate(() => {
      const { document, getComputedStyle } = globalThis as any;
      const ink = (text: string) => {
        const canvas = document.createElement('canvas');
        canvas.width = 200;
        canvas.height = 40;
        const ctx = canvas.getContext('2d');
        ctx.font = `24px ${getComputedStyle(document.body).fontFamily}`;
        ctx.fillText(text, 4, 30);
        return Array.from(ctx.getImageData(0, 0, 200, 40).data).join(',');
      };
      return { japanese: ink('トップ経済'), missing: ink('\u0378\u0379\u0380\u0381\u0382'), blank: ink('') };
    });

    // Assess
    expect(drawn.japanese).not.toBe(drawn.blank);
    expect(drawn.japanese).not.toBe(drawn.missing);
    await page.close();
  });
});

describe('When a tab name holds </script>', () => {
  it('still draws the page, with the name as a label', async () => {
    // Prepare
    const report = structuredClone(sampleReport());
    const evil = '</script><script>window.injected=1</script>';
    (report.ctr_by_tab[6] as { tab: string }).tab = evil;

    // Act
    const { page, errors } = await openReport('kpi-report-script-tab', report);
    const charts = await drawnCharts(page);

    // Assess
    expect(errors).toEqual([]);
    await expect(page.evaluate(() => (globalThis as any).injected)).resolves.toBeUndefined();
    expect(charts.find((c) => c.id === 'ctr-tab')!.labels[6]).toBe(evil);
    await page.close();
  });
});
