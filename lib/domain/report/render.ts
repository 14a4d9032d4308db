import { count, duration, percent, platformLabel, stageLabel, tabLabel } from './labels';
import type { KpiReport } from './model';
import { CHART_LIBRARY, PAGE_SCRIPT, PAGE_SCRIPT_SHA256 } from './page/bundle.generated';
import { CHART_COLORS, FONT_STACK } from './theme';

/**
 * Renders a KPI report as ONE self-contained HTML page: the numbers as HTML, the charts drawn by an
 * inlined script (Chart.js and page/main.ts, bundled at build time) from the report embedded as JSON.
 * The page loads nothing: its Content-Security-Policy allows no request at all, so it reads the same
 * offline, from a file or from S3. Pure and deterministic: the same report gives the same bytes.
 */
export function renderReportHtml(report: KpiReport): string {
  const noEvents = report.status === 'no_events';
  const title = `KPI レポート ${report.date}`;
  return `<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-${PAGE_SCRIPT_SHA256}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<title>${escapeHtml(title)} · logbase</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <div>
    <h1>KPI レポート <span class="date">${escapeHtml(report.date)} (${weekday(report.date)})</span></h1>
    <p class="sub">UTC の 1 日 · 生成 ${jst(report.generated_at)} JST · run <code>${escapeHtml(report.run_id)}</code></p>
  </div>
  <p class="brand">logbase</p>
</header>
${noEvents ? noEventsBanner(report) : ''}
${attention(report)}
<section class="headline" aria-label="主要指標">
${headlineCards(report)}
</section>
<section class="grid">
${panel(
  'CTR プラットフォーム別',
  'CTR by platform',
  chartOrEmpty('ctr-platform', 'CTR プラットフォーム別', report.ctr_by_platform.length, 220) +
    ctrTable(
      'プラットフォーム',
      report.ctr_by_platform.map((r) => ({ name: platformLabel(r.platform), ...r })),
    ),
)}
${panel(
  'CTR タブ別',
  'CTR by tab',
  chartOrEmpty('ctr-tab', 'CTR タブ別', report.ctr_by_tab.length, 260, 30) +
    ctrTable(
      'タブ',
      report.ctr_by_tab.map((r) => ({ name: tabLabel(r.tab), ...r })),
    ),
)}
${panel('イベント種別', 'Events by type', chartOrEmpty('events-type', 'イベント種別', report.events_by_type.length, 220, 40))}
${panel('新規 / リピーター', 'New vs returning users', chartOrEmpty('users', '新規 / リピーター', report.headline.daily_active_users.value, 220) + usersLine(report))}
${panel('隔離率 ステージ別', 'Quarantine rate per stage', quarantine(report))}
${panel('パイプラインの鮮度', 'Pipeline freshness', freshness(report))}
${panel('データ品質', 'Data quality', dataQuality(report), 'wide')}
</section>
<footer>logbase KPI report v${report.report_version} · ${escapeHtml(CHART_LIBRARY)} を内蔵 (オフラインで表示できます)</footer>
<script type="application/json" id="kpi-report">${jsonForScript(report)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a `<script>` element: `<`, `>` and `&` become \u escapes (so no `</script>`
 * or `<!--` can appear), as do U+2028/U+2029. JSON.parse reads it back to the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const WEEKDAYS = ['日', '月', '火', '水', '木', '金', '土'];

function weekday(date: string): string {
  return WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()] ?? '?';
}

/** An instant in Japan time (UTC+9, no daylight saving): "2026-12-01 06:12". */
function jst(instant: string): string {
  return new Date(Date.parse(instant) + 9 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');
}

function noEventsBanner(report: KpiReport): string {
  return `<section class="banner" role="status" id="no-events">
  <strong>この日 (${escapeHtml(report.date)}) のイベントはありません</strong>
  <span>No events for this date: the lake holds no event for dt=${escapeHtml(report.date)}. 収集・整形の隔離とパイプラインの鮮度を確認してください。</span>
</section>`;
}

/** What needs someone this morning: stages over the threshold, a late pipeline, skipped data. */
export function attentionItems(report: KpiReport): string[] {
  const items: string[] = [];
  const { threshold } = report.quarantine;
  for (const s of report.quarantine.stages) {
    if ((s.rate ?? 0) > threshold) {
      items.push(
        `${stageLabel(s.stage)}の隔離率 ${percent(s.rate)} が閾値 ${percent(threshold, 1)} を超えています`,
      );
    }
  }
  const f = report.freshness;
  if (f.oldest_unformatted_raw && f.oldest_unformatted_raw.age_seconds > f.limits.raw_age_seconds) {
    items.push(`未整形の raw オブジェクトが ${duration(f.oldest_unformatted_raw.age_seconds)}残っています`);
  }
  if (f.user_vector_lag_seconds !== null && f.user_vector_lag_seconds > f.limits.user_vector_lag_seconds) {
    items.push(`ユーザーベクトルが ${duration(f.user_vector_lag_seconds)}遅れています`);
  }
  const dq = report.data_quality;
  if (dq.skipped_articles.count > 0)
    items.push(`ベクトルのない記事 ${count(dq.skipped_articles.count)} 件をスキップしました`);
  if (dq.unreadable_user_items.count > 0) {
    items.push(`読めないユーザー項目が ${count(dq.unreadable_user_items.count)} 件あります`);
  }
  return items;
}

function attention(report: KpiReport): string {
  const items = attentionItems(report);
  if (items.length === 0)
    return '<section class="attention ok" id="attention"><strong>要確認なし</strong> すべて閾値内です</section>';
  return `<section class="attention" id="attention"><strong>要確認 ${items.length} 件</strong><ul>${items
    .map((i) => `<li>${escapeHtml(i)}</li>`)
    .join('')}</ul></section>`;
}

type Change = { arrow: string; text: string; tone: 'up' | 'down' | 'flat' | 'none' };

/** The day-over-day line of a figure; `points` shows a rate's change in percentage points. */
function change(
  value: number | null,
  previous: number | null,
  relative: number | null,
  points = false,
): Change {
  if (previous === null) return { arrow: '', text: '前日データなし', tone: 'none' };
  if (value === null) return { arrow: '', text: '', tone: 'none' };
  const delta = points ? (value - previous) * 100 : relative;
  if (delta === null) return { arrow: '', text: `前日 ${count(previous)}`, tone: 'none' };
  const flat = points ? Math.abs(delta) < 0.005 : Math.abs(delta) < 0.0005;
  const tone = flat ? 'flat' : delta > 0 ? 'up' : 'down';
  const arrow = tone === 'up' ? '▲' : tone === 'down' ? '▼' : '→';
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const text = points
    ? `${sign}${Math.abs(delta).toFixed(2)} pt`
    : `${sign}${(Math.abs(delta) * 100).toFixed(1)}%`;
  return { arrow, text, tone };
}

function headlineCards(report: KpiReport): string {
  const h = report.headline;
  const card = (id: string, name: string, en: string, value: string, c: Change, previous: string) =>
    `<article class="card" data-figure="${id}">
  <h2>${name} <small>${en}</small></h2>
  <p class="value">${value}</p>
  <p class="change ${c.tone}"><span class="arrow">${c.arrow}</span> ${c.text} <span class="prev">${previous}</span></p>
</article>`;
  const countCard = (id: keyof Omit<KpiReport['headline'], 'ctr'>, name: string, en: string) => {
    const f = h[id];
    const previous = f.previous === null ? '' : `前日 ${count(f.previous)}`;
    return card(id, name, en, count(f.value), change(f.value, f.previous, f.change), previous);
  };
  const ctrPrevious = h.ctr.previous === null ? '' : `前日 ${percent(h.ctr.previous)}`;
  return [
    countCard('daily_active_users', 'DAU', 'daily active users'),
    countCard('impressions', 'インプレッション', 'impressions'),
    countCard('clicks', 'クリック', 'clicks'),
    card(
      'ctr',
      'CTR',
      'clicks / impressions',
      percent(h.ctr.value),
      change(h.ctr.value, h.ctr.previous, h.ctr.change, true),
      ctrPrevious,
    ),
    countCard('events', 'イベント数', 'all events'),
  ].join('\n');
}

function panel(name: string, en: string, body: string, extra = ''): string {
  return `<article class="panel ${extra}">
  <h2>${name} <small>${en}</small></h2>
  ${body}
</article>`;
}

/** A chart's canvas, at least `height` px tall and taller by `perRow` px a row past 5 (many tabs); or "no events". */
function chartOrEmpty(id: string, label: string, rows: number, height: number, perRow = 0): string {
  if (rows === 0) return `<p class="empty">イベントなし&nbsp;<small>(no events)</small></p>`;
  const px = Math.max(height, height + (rows - 5) * perRow);
  return `<div class="chart" style="height:${px}px"><canvas data-chart="${id}" role="img" aria-label="${label}"></canvas></div>`;
}

function ctrTable(
  dimension: string,
  rows: { name: string; impressions: number; clicks: number; ctr: number | null }[],
): string {
  if (rows.length === 0) return '';
  const body = rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.name)}</td><td>${count(r.impressions)}</td><td>${count(r.clicks)}</td><td>${percent(r.ctr)}</td></tr>`,
    )
    .join('');
  return `<details><summary>数値</summary><table><thead><tr><th>${dimension}</th><th>インプレッション</th><th>クリック</th><th>CTR</th></tr></thead><tbody>${body}</tbody></table></details>`;
}

function usersLine(report: KpiReport): string {
  const { new_users, returning_users } = report.users;
  return `<p class="note">新規 <b>${count(new_users)}</b> 人 · リピーター <b>${count(returning_users)}</b> 人</p>`;
}

function quarantine(report: KpiReport): string {
  const { threshold, stages } = report.quarantine;
  const anyRecords = stages.some((s) => s.records_in > 0);
  const chart = anyRecords
    ? `<div class="chart" style="height:220px"><canvas data-chart="quarantine" role="img" aria-label="隔離率 ステージ別"></canvas></div>`
    : `<p class="empty">記録なし&nbsp;<small>(no records)</small></p>`;
  const rows = stages
    .map((s) => {
      const over = (s.rate ?? 0) > threshold;
      const badge = over ? '<span class="badge bad">閾値超え</span>' : '<span class="badge good">OK</span>';
      return `<tr class="${over ? 'over' : ''}"><td>${escapeHtml(stageLabel(s.stage))} <small>${s.stage}</small></td><td>${count(s.quarantined)} / ${count(s.records_in)}</td><td>${percent(s.rate)}</td><td>${badge}</td></tr>`;
    })
    .join('');
  return `${chart}<table class="compact"><thead><tr><th>ステージ</th><th>隔離 / 入力</th><th>率</th><th>閾値 ${percent(threshold, 1)}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function freshness(report: KpiReport): string {
  const f = report.freshness;
  const raw = f.oldest_unformatted_raw;
  const rawLate = raw !== null && raw.age_seconds > f.limits.raw_age_seconds;
  const lag = f.user_vector_lag_seconds;
  const lagLate = lag !== null && lag > f.limits.user_vector_lag_seconds;
  const badge = (late: boolean) =>
    late ? '<span class="badge bad">遅延</span>' : '<span class="badge good">OK</span>';
  const rawText =
    raw === null
      ? '<span class="big">すべて整形済み</span>'
      : `<span class="big">${duration(raw.age_seconds)}前</span><code class="key">${escapeHtml(raw.key)}</code>`;
  const lagText =
    lag === null
      ? '<span class="big">–</span> <small>クリックなし</small>'
      : `<span class="big">${duration(lag)}</span>`;
  return `<dl class="fresh">
  <div class="${rawLate ? 'late' : ''}" data-freshness="raw"><dt>未整形で最も古い raw オブジェクト ${badge(rawLate)}</dt><dd>${rawText}<small>上限 ${duration(f.limits.raw_age_seconds)}</small></dd></div>
  <div class="${lagLate ? 'late' : ''}" data-freshness="vectors"><dt>ユーザーベクトルの遅れ ${badge(lagLate)}</dt><dd>${lagText}<small>上限 ${duration(f.limits.user_vector_lag_seconds)}</small></dd></div>
</dl>
<p class="note">確認時刻 ${jst(f.checked_at)} JST</p>`;
}

function dataQuality(report: KpiReport): string {
  const list = (
    name: string,
    en: string,
    id: string,
    entry: { count: number; items: { name: string; reason: string }[] },
  ) => {
    const head = `<h3>${name} <b class="${entry.count > 0 ? 'warn' : 'ok'}">${count(entry.count)} 件</b> <small>${en}</small></h3>`;
    if (entry.count === 0) return `<div class="dq" data-quality="${id}">${head}<p class="ok">なし</p></div>`;
    const items = entry.items
      .map((i) => `<li><code>${escapeHtml(i.name)}</code> <span>${escapeHtml(i.reason)}</span></li>`)
      .join('');
    const more =
      entry.count > entry.items.length
        ? `<li class="more">ほか ${count(entry.count - entry.items.length)} 件</li>`
        : '';
    return `<div class="dq" data-quality="${id}">${head}<ul>${items}${more}</ul></div>`;
  };
  const dq = report.data_quality;
  return `<div class="dq-grid">${list(
    'ベクトルのない記事 (スキップ)',
    'articles skipped: no vector',
    'skipped-articles',
    {
      count: dq.skipped_articles.count,
      items: dq.skipped_articles.items.map((i) => ({ name: i.article_id, reason: i.reason })),
    },
  )}${list('読めないユーザー項目', 'unreadable user items', 'unreadable-users', {
    count: dq.unreadable_user_items.count,
    items: dq.unreadable_user_items.items.map((i) => ({ name: i.user_id, reason: i.reason })),
  })}</div>`;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;padding:24px 28px 32px;background:#f3f4f6;color:#111827;font-family:${FONT_STACK};font-size:14px;line-height:1.5}
header{display:flex;justify-content:space-between;align-items:flex-end;margin-bottom:18px}
h1{margin:0;font-size:24px;font-weight:700}
h1 .date{color:${CHART_COLORS.primary};margin-left:6px}
.sub{margin:2px 0 0;color:#6b7280;font-size:13px}
.brand{margin:0;color:#9ca3af;font-weight:700;letter-spacing:.05em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
small{color:#6b7280;font-weight:400;font-size:12px}
.banner{background:#fef3c7;border:1px solid #f59e0b;border-left:6px solid #d97706;border-radius:8px;padding:14px 18px;margin-bottom:16px;display:flex;flex-direction:column;gap:2px}
.banner strong{font-size:18px;color:#92400e}
.attention{display:flex;gap:14px;align-items:baseline;background:#fff;border:1px solid #fecaca;border-left:6px solid #dc2626;border-radius:8px;padding:8px 16px;margin-bottom:14px}
.attention strong{color:#991b1b;white-space:nowrap}
.attention ul{margin:0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 22px;color:#374151}
.attention li::before{content:"● ";color:#dc2626;font-size:10px;vertical-align:2px}
.attention.ok{border-color:#99f6e4;border-left-color:#0d9488}.attention.ok strong{color:#115e59}
.headline{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:14px;margin-bottom:14px}
.card,.panel{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card h2,.panel h2{margin:0 0 6px;font-size:14px;font-weight:700;color:#374151}
.card .value{margin:0;font-size:30px;font-weight:700;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
.change{margin:2px 0 0;font-size:13px;font-weight:600;font-variant-numeric:tabular-nums}
.change.up{color:#15803d}.change.down{color:#b91c1c}.change.flat,.change.none{color:#6b7280}
.change .prev{color:#9ca3af;font-weight:400;margin-left:4px}
.grid{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px}
.panel.wide{grid-column:1/-1}
.chart{position:relative}
.empty{height:160px;display:flex;align-items:center;justify-content:center;margin:0;color:#9ca3af;font-size:16px;background:#f9fafb;border-radius:8px}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12.5px;margin-top:8px}
th,td{padding:3px 6px;border-bottom:1px solid #f3f4f6;text-align:right}
th:first-child,td:first-child{text-align:left}
th{color:#6b7280;font-weight:600}
tr.over td{color:#b91c1c;font-weight:600}
details summary{cursor:pointer;color:#6b7280;font-size:12px;margin-top:6px}
.badge{display:inline-block;border-radius:999px;padding:0 8px;font-size:11px;font-weight:700;line-height:18px;vertical-align:1px}
.badge.good{background:#ccfbf1;color:#115e59}.badge.bad{background:#fee2e2;color:#991b1b}
.fresh{margin:0;display:flex;flex-direction:column;gap:12px}
.fresh div{border-left:4px solid ${CHART_COLORS.good};padding:4px 0 4px 12px}
.fresh div.late{border-left-color:${CHART_COLORS.bad}}
.fresh dt{font-weight:600;color:#374151}
.fresh dd{margin:0;display:flex;flex-direction:column}
.fresh .big{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}
.fresh .late .big{color:#b91c1c}
.fresh .key{color:#6b7280;word-break:break-all}
.note{margin:8px 0 0;color:#4b5563;font-size:13px}
.dq-grid{display:grid;grid-template-columns:1fr 1fr;gap:20px}
.dq h3{margin:0 0 4px;font-size:13.5px}
.dq b.warn{color:#b45309}.dq b.ok,.dq p.ok{color:#15803d}
.dq ul{margin:0;padding-left:18px;columns:2;column-gap:24px;font-size:12.5px}
.dq li span{color:#6b7280}
.dq li.more{color:#6b7280;list-style:none}
footer{margin-top:18px;color:#9ca3af;font-size:12px;text-align:center}
@media (max-width:1100px){.headline{grid-template-columns:repeat(3,minmax(0,1fr))}.grid{grid-template-columns:repeat(2,minmax(0,1fr))}}
@media (max-width:700px){body{padding:14px}.grid,.dq-grid{grid-template-columns:1fr}.headline{grid-template-columns:1fr 1fr}.card .value{font-size:24px}.dq ul{columns:1}}
@media print{body{background:#fff;padding:0}.card,.panel{box-shadow:none;break-inside:avoid}}
`;
