/**
 * The KPI page's script (runs in the browser): draws a chart on every `<canvas data-chart>` from the
 * report embedded in `<script id="kpi-report" type="application/json">`. Bundled with Chart.js into
 * one minified script by scripts/build-report-page.cjs; the renderer inlines it, so the page needs no
 * network. The charts are left on `window.kpiCharts` (id -> Chart) for tests and for a curious reader.
 */
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  DoughnutController,
  Legend,
  LinearScale,
  type Plugin,
  Tooltip,
} from 'chart.js';
import { compact, count, eventTypeLabel, percent, platformLabel, stageLabel, tabLabel } from '../labels';
import type { KpiReport } from '../model';
import { CHART_COLORS, FONT_STACK } from '../theme';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  DoughnutController,
  ArcElement,
  Tooltip,
  Legend,
);
Chart.defaults.font.family = FONT_STACK;
Chart.defaults.font.size = 12;
Chart.defaults.color = CHART_COLORS.text;
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

declare global {
  interface Window {
    kpiCharts: Record<string, Chart>;
  }
}

/** Writes each bar's value at its end (Chart.js draws no value labels by itself). */
const valueLabels = (format: (value: number, index: number) => string): Plugin<'bar'> => ({
  id: 'valueLabels',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const horizontal = chart.options.indexAxis === 'y';
    ctx.save();
    ctx.font = `600 12px ${FONT_STACK}`;
    ctx.fillStyle = CHART_COLORS.text;
    chart.data.datasets.forEach((dataset, d) => {
      chart.getDatasetMeta(d).data.forEach((bar, i) => {
        const value = dataset.data[i];
        if (typeof value !== 'number') return;
        const text = format(value, i);
        if (horizontal) {
          ctx.textAlign = 'left';
          ctx.textBaseline = 'middle';
          ctx.fillText(text, bar.x + 6, bar.y);
        } else {
          ctx.textAlign = 'center';
          ctx.textBaseline = 'bottom';
          ctx.fillText(text, bar.x, bar.y - 4);
        }
      });
    });
    ctx.restore();
  },
});

/** A dashed line across the plot at `value`, labelled: the quarantine threshold. */
const thresholdLine = (value: number, text: string): Plugin<'bar'> => ({
  id: 'thresholdLine',
  afterDatasetsDraw(chart) {
    const { ctx, chartArea } = chart;
    const y = chart.scales.y?.getPixelForValue(value);
    if (y === undefined) return;
    ctx.save();
    ctx.strokeStyle = CHART_COLORS.threshold;
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(chartArea.left, y);
    ctx.lineTo(chartArea.right, y);
    ctx.stroke();
    ctx.fillStyle = CHART_COLORS.threshold;
    ctx.font = `600 11px ${FONT_STACK}`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.fillText(text, chartArea.left + 4, y - 3);
    ctx.restore();
  },
});

const shorten = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const pct = (fraction: number | null) => (fraction === null ? null : fraction * 100);
const pctLabel = (value: number) => `${value.toFixed(2)}%`;
const pctTick = (value: number) => `${value}%`;

function barChart(
  labels: string[],
  data: (number | null)[],
  colors: string[],
  options: {
    horizontal?: boolean;
    format: (v: number, index: number) => string;
    tick: (v: number) => string;
    suggestedMax?: number;
    tooltip?: (i: number) => string;
  },
  plugins: Plugin<'bar'>[] = [],
): ChartConfiguration<'bar'> {
  const valueAxis = {
    beginAtZero: true,
    suggestedMax: options.suggestedMax,
    grace: '12%',
    grid: { color: CHART_COLORS.grid },
    ticks: { callback: (value: number | string) => options.tick(Number(value)) },
  };
  // A long name (a new tab, say) is cut on the axis; the tooltip and the table below show it whole.
  const categoryAxis = {
    grid: { display: false },
    ticks: { callback: (_: unknown, index: number) => shorten(labels[index] ?? '', 14) },
  };
  return {
    type: 'bar',
    data: { labels, datasets: [{ data, backgroundColor: colors, borderRadius: 4, maxBarThickness: 56 }] },
    options: {
      indexAxis: options.horizontal ? 'y' : 'x',
      layout: { padding: { right: options.horizontal ? 100 : 8, top: 8 } },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: options.tooltip ? { afterLabel: (item) => options.tooltip?.(item.dataIndex) } : {},
        },
      },
      scales: options.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
    },
    plugins: [valueLabels(options.format), ...plugins],
  };
}

/**
 * A CTR bar's label with its impressions: a rate read every morning needs its denominator beside it (a
 * tab's 33% over 9 impressions is noise, over 90,000 it is news).
 */
const ctrLabel = (rows: { impressions: number }[]) => (value: number, i: number) =>
  `${pctLabel(value)} (n=${compact(rows[i]?.impressions ?? 0)})`;

const ctrTooltip = (rows: { impressions: number; clicks: number }[]) => (i: number) =>
  `クリック ${count(rows[i]?.clicks ?? 0)} / インプレッション ${count(rows[i]?.impressions ?? 0)}`;

/** Every chart the page can hold, by the `data-chart` id of its canvas. */
const CHARTS: Record<string, (report: KpiReport) => ChartConfiguration<'bar' | 'doughnut'>> = {
  'ctr-platform': (r) =>
    barChart(
      r.ctr_by_platform.map((p) => platformLabel(p.platform)),
      r.ctr_by_platform.map((p) => pct(p.ctr)),
      r.ctr_by_platform.map((p) => CHART_COLORS.platform[p.platform] ?? CHART_COLORS.primary),
      { format: ctrLabel(r.ctr_by_platform), tick: pctTick, tooltip: ctrTooltip(r.ctr_by_platform) },
    ),
  'ctr-tab': (r) =>
    barChart(
      r.ctr_by_tab.map((t) => tabLabel(t.tab)),
      r.ctr_by_tab.map((t) => pct(t.ctr)),
      r.ctr_by_tab.map(() => CHART_COLORS.primary),
      { horizontal: true, format: ctrLabel(r.ctr_by_tab), tick: pctTick, tooltip: ctrTooltip(r.ctr_by_tab) },
    ),
  'events-type': (r) =>
    barChart(
      r.events_by_type.map((e) => eventTypeLabel(e.event_type)),
      r.events_by_type.map((e) => e.count),
      r.events_by_type.map(
        (e, i) => CHART_COLORS.eventType[e.event_type] ?? CHART_COLORS.series[i % 6] ?? '',
      ),
      { horizontal: true, format: count, tick: compact },
    ),
  users: (r) => {
    const total = r.users.new_users + r.users.returning_users;
    const share = (n: number) => percent(total === 0 ? null : n / total, 1);
    return {
      type: 'doughnut',
      data: {
        labels: [`新規 ${share(r.users.new_users)}`, `リピーター ${share(r.users.returning_users)}`],
        datasets: [
          {
            data: [r.users.new_users, r.users.returning_users],
            backgroundColor: [CHART_COLORS.newUsers, CHART_COLORS.returningUsers],
            borderWidth: 2,
          },
        ],
      },
      options: {
        cutout: '58%',
        plugins: {
          legend: { position: 'right', labels: { boxWidth: 14, font: { size: 13 } } },
          tooltip: { callbacks: { label: (item) => `${count(Number(item.raw))} 人` } },
        },
      },
    };
  },
  quarantine: (r) => {
    const { threshold, stages } = r.quarantine;
    const highest = Math.max(threshold, ...stages.map((s) => s.rate ?? 0));
    return barChart(
      stages.map((s) => stageLabel(s.stage)),
      stages.map((s) => pct(s.rate)),
      stages.map((s) => ((s.rate ?? 0) > threshold ? CHART_COLORS.bad : CHART_COLORS.good)),
      {
        format: pctLabel,
        tick: pctTick,
        suggestedMax: highest * 100 * 1.25,
        tooltip: (i) =>
          `隔離 ${count(stages[i]?.quarantined ?? 0)} / ${count(stages[i]?.records_in ?? 0)} 件`,
      },
      [thresholdLine(threshold * 100, `閾値 ${percent(threshold, 1)}`)],
    );
  },
};

function draw(): void {
  const data = document.getElementById('kpi-report')?.textContent;
  if (!data) throw new Error('the page holds no report data');
  const report = JSON.parse(data) as KpiReport;
  window.kpiCharts = {};
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>('canvas[data-chart]')) {
    const id = canvas.dataset.chart ?? '';
    const config = CHARTS[id];
    if (!config) throw new Error(`no chart is called ${id}`);
    window.kpiCharts[id] = new Chart(canvas, config(report) as ChartConfiguration);
  }
}

draw();
