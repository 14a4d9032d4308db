import { createHash } from 'node:crypto';
import { sampleReport } from '../../../cli/report/sample';
import {
  attentionItems,
  figure,
  jsonForScript,
  type KpiReport,
  renderReportHtml,
} from '../../../lib/domain/report';

/** The JSON a page embeds, read back the way a browser's HTML parser delimits it (up to the first `</script`). */
function embeddedReport(html: string): unknown {
  const start = html.indexOf('<script type="application/json" id="kpi-report">');
  const body = html.slice(start).replace(/^<script[^>]*>/, '');
  return JSON.parse(body.slice(0, body.search(/<\/script/i)));
}

const scripts = (html: string) => html.match(/<script\b/gi)?.length ?? 0;
const card = (html: string, id: string) =>
  html.match(new RegExp(`data-figure="${id}"[\\s\\S]*?</article>`))?.[0] ?? '';

describe('the KPI page', () => {
  it('is one self-contained page: the report as JSON, the chart library inline, nothing to fetch', () => {
    // Prepare
    const report = sampleReport();

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(embeddedReport(html)).toEqual(report);
    expect(html).toContain('Chart.js v4.6.1');
    const markup = html.replace(/(<script[^>]*>)[\s\S]*?<\/script>/g, '$1</script>');
    expect(markup).not.toMatch(/<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(|https?:/i);
    expect(scripts(html)).toBe(2);
    expect(Buffer.byteLength(html)).toBeLessThan(260_000);
  });

  it('allows only its own script by hash, so the browser fetches nothing even if asked', () => {
    const html = renderReportHtml(sampleReport());
    const inline = html.match(/<script>([\s\S]*)<\/script>\s*<\/body>/)?.[1] ?? '';
    const hash = createHash('sha256').update(inline).digest('base64');

    expect(html).toContain(`content="default-src 'none'; script-src 'sha256-${hash}';`);
  });

  it('keeps a tab named </script><script>… inside the data: the page still has two scripts and the same report', () => {
    // Prepare
    const report = structuredClone(sampleReport());
    const evil = '</script><script>alert("x")</script><!--';
    (report.ctr_by_tab[0] as { tab: string }).tab = evil;
    report.data_quality.skipped_articles.items[0]!.reason = 'line\u2028separator & <b>bold</b>';

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(scripts(html)).toBe(2);
    expect(embeddedReport(html)).toEqual(report);
    expect(html).toContain(
      '<td>&#60;/script&#62;&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#60;!--</td>',
    );
    expect(html).toContain('line\u2028separator &#38; &#60;b&#62;bold&#60;/b&#62;');
    expect(html).not.toContain('<b>bold</b>');
  });

  it('escapes the characters that could end a script element or a JavaScript line', () => {
    expect(jsonForScript({ t: '</script>&\u2028' })).toBe('{"t":"\\u003c/script\\u003e\\u0026\\u2028"}');
  });

  it('shows each headline figure with its day-over-day arrow: green up, red down, CTR in points', () => {
    // Prepare
    const report: KpiReport = structuredClone(sampleReport());
    report.headline.daily_active_users = figure(110_000, 100_000);
    report.headline.clicks = figure(report.headline.clicks.value, report.headline.clicks.value * 2);
    report.headline.ctr = figure(0.0512, 0.0498);

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(card(html, 'daily_active_users')).toMatch(
      /class="value">110,000<[\s\S]*class="change up"><span class="arrow">▲<\/span> \+10\.0% <span class="prev">前日 100,000/,
    );
    expect(card(html, 'clicks')).toMatch(/class="change down"><span class="arrow">▼<\/span> −50\.0%/);
    expect(card(html, 'ctr')).toMatch(
      /class="value">5\.12%<[\s\S]*class="change up">.*\+0\.14 pt <span class="prev">前日 4\.98%/,
    );
  });

  it('says when there is no previous day and when a figure did not move', () => {
    const report: KpiReport = structuredClone(sampleReport({ previous: false }));
    report.headline.events = figure(report.headline.events.value, report.headline.events.value);

    const html = renderReportHtml(report);

    expect(card(html, 'daily_active_users')).toContain(
      'class="change none"><span class="arrow"></span> 前日データなし',
    );
    expect(card(html, 'events')).toContain('class="change flat"><span class="arrow">→</span> ±0.0%');
  });

  it('draws every chart of a normal day', () => {
    const html = renderReportHtml(sampleReport());

    const charts = [...html.matchAll(/<canvas data-chart="([^"]+)"/g)].map((m) => m[1]);
    expect(charts).toEqual(['ctr-platform', 'ctr-tab', 'events-type', 'users', 'quarantine']);
    expect(html).not.toContain('id="no-events"');
  });

  it('says so on a day without events, and still shows quarantine, freshness and data quality', () => {
    // Act
    const html = renderReportHtml(sampleReport({ status: 'no_events', date: '2026-12-24' }));

    // Assess
    expect(html).toContain('<strong>この日 (2026-12-24) のイベントはありません</strong>');
    expect(html).toContain('No events for this date');
    const charts = [...html.matchAll(/<canvas data-chart="([^"]+)"/g)].map((m) => m[1]);
    expect(charts).toEqual(['quarantine']);
    expect(html.match(/イベントなし/g)).toHaveLength(4);
    expect(html).toContain('すべて整形済み');
  });

  it('flags a stage over the quarantine threshold and a late pipeline', () => {
    // Prepare
    const report = structuredClone(sampleReport());
    report.quarantine.threshold = 0.01;
    report.quarantine.stages[2] = { stage: 'articles', records_in: 1000, quarantined: 25, rate: 0.025 };
    report.freshness.oldest_unformatted_raw = {
      key: 'raw/events/dt=2026-11-30/hour=01/x.gz',
      age_seconds: 7500,
    };
    report.freshness.user_vector_lag_seconds = 30;

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(html).toMatch(
      /<tr class="over"><td>記事ベクトル <small>articles<\/small><\/td><td>25 \/ 1,000<\/td><td>2\.50%<\/td><td><span class="badge bad">閾値超え/,
    );
    expect(html).toMatch(/data-freshness="raw"><dt>[^<]*<span class="badge bad">遅延<\/span>.*2 時間 5 分前/);
    expect(html).toMatch(/data-freshness="vectors"><dt>[^<]*<span class="badge good">OK<\/span>.*30 秒/);
  });

  it('names the skipped articles and unreadable user items, and counts the ones not listed', () => {
    const report = structuredClone(sampleReport());
    report.data_quality.unreadable_user_items = {
      count: 40,
      items: [{ user_id: 'u-42', reason: 'vector attribute holds 508 bytes, not 512' }],
    };

    const html = renderReportHtml(report);

    expect(html).toMatch(
      /data-quality="unreadable-users"><h3>読めないユーザー項目 <b class="warn">40 件<\/b>/,
    );
    expect(html).toContain(
      '<li><code>u-42</code> <span>vector attribute holds 508 bytes, not 512</span></li><li class="more">ほか 39 件</li>',
    );
    expect(html).toContain('<code>a-20261130-0412</code>');
  });

  it('lists at the top what needs someone this morning, or says nothing does', () => {
    // Prepare
    const late = structuredClone(sampleReport());
    late.freshness.user_vector_lag_seconds = 600;
    const calm = structuredClone(sampleReport());
    calm.quarantine.threshold = 0.5;
    calm.data_quality.skipped_articles = { count: 0, items: [] };
    calm.data_quality.unreadable_user_items = { count: 0, items: [] };

    // Act / Assess
    expect(attentionItems(late)).toEqual([
      expect.stringMatching(/^記事ベクトルの隔離率 \d\.\d\d% が閾値 1\.0% を超えています$/),
      'ユーザーベクトルが 10 分遅れています',
      'ベクトルのない記事 3 件をスキップしました',
      '読めないユーザー項目が 2 件あります',
    ]);
    expect(renderReportHtml(late)).toContain('<strong>要確認 4 件</strong>');
    expect(attentionItems(calm)).toEqual([]);
    expect(renderReportHtml(calm)).toContain('<strong>要確認なし</strong>');
  });

  it('gives the same bytes for the same report', () => {
    expect(renderReportHtml(sampleReport())).toBe(renderReportHtml(sampleReport()));
  });
});
