/**
 * PublishReport (state-machines/batch-scoring.asl.yml): the day's KPI report from the lake, written as
 * `reports/kpi/dt=<date>/report.json` and the page `reports/kpi/dt=<date>/index.html`.
 *
 * The day's lake Parquet (every registry type and version under lake/<type>/v<N>/dt=<date>/) and the user
 * ids of the lookback days before it are downloaded and queried in DuckDB, as ArticleStats does (there is
 * no Athena path yet: see docs/ARCHITECTURE.md). Around that: the formatter's manifests (raw lines read and
 * quarantined), the collect and articles quarantine objects, ArticleVectors' and UserVectors' updated_at,
 * the raw objects with no manifest (freshness), the day before's report, and what ScoreShard skipped.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getBytes, listKeys, listObjects, putBytes, scanItems } from '../aws/batch';
import type { FormatManifest } from '../domain/format/records';
import { type ListedObject, rawBacklog } from '../domain/freshness';
import { InvalidReportError, type KpiReport, parseReport, renderReportHtml } from '../domain/report';
import {
  type CountRow,
  dailyUsersKey,
  dayBefore,
  kpiReport,
  kpiSql,
  type LakeFile,
  REPORT_NAMED,
  reportKeys,
  type SkippedInputs,
} from '../domain/report/kpi';
import { listSchemas } from '../schemas';
import { withBatchDuckDb } from './duckdb';
import type { BatchDeps, RunRef, ScoreShardOutput } from './tasks';

/** What PublishReport returns (the state's `$.report`). */
export interface PublishReportOutput {
  date: string;
  status: KpiReport['status'];
  report: string;
  page: string;
  dailyActiveUsers: number;
  events: number;
  lakeFiles: { day: number; earlier: number };
  /** The lookback days read from their users marts, and those read from the lake (no report wrote their mart). */
  earlierDays: { fromMarts: number; fromLake: number };
  /** The day's users mart written (dailyUsersKey). */
  dailyUsers: string;
}

/** The raw datasets the formatter reads, and where its manifests of them go. */
const RAW_DATASETS = ['events', 'clicks'] as const;

/**
 * The manifests of distinct raw deliveries: one per (ETag, size) of the source object, the first by key
 * (a manifest without an ETag, an object gone before it was read, always counts).
 */
export function distinctDeliveries(manifests: readonly FormatManifest[]): FormatManifest[] {
  const seen = new Set<string>();
  return [...manifests]
    .sort((a, b) => (a.source.key < b.source.key ? -1 : a.source.key > b.source.key ? 1 : 0))
    .filter((m) => {
      if (m.source.etag === undefined) return true;
      const id = `${m.source.etag}\u0000${m.source.size ?? ''}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
}

/** Runs `work` over `items`, `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T, i);
      }
    }),
  );
  return results;
}

/** Lines of every gzip JSON-lines object under a prefix (a quarantine object holds one record a line). */
async function countGzipLines(deps: BatchDeps, prefix: string): Promise<number> {
  const keys = await listKeys(deps.s3, deps.config.bucket, prefix);
  const counts = await mapLimit(keys, 16, async (key) => {
    const text = gunzipSync(await getBytes(deps.s3, deps.config.bucket, key)).toString('utf8');
    return text.split('\n').filter((line) => line.trim() !== '').length;
  });
  return counts.reduce((a, b) => a + b, 0);
}

/** The UTC dates from `from` to `to`, inclusive, oldest first. */
function datesBetween(from: string, to: string): string[] {
  const dates: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    dates.push(new Date(t).toISOString().slice(0, 10));
  }
  return dates;
}

/** The report of the day before, or null when there is none (or it cannot be read as a report). */
async function previousReport(deps: BatchDeps, date: string): Promise<KpiReport | null> {
  const key = reportKeys(dayBefore(date)).json;
  const keys = await listKeys(deps.s3, deps.config.bucket, key);
  if (!keys.includes(key)) return null;
  const text = Buffer.from(await getBytes(deps.s3, deps.config.bucket, key)).toString('utf8');
  // A report this logbase cannot read (another version, hand-edited) is no day before: the page says so.
  try {
    return parseReport(JSON.parse(text));
  } catch (error) {
    if (error instanceof InvalidReportError || error instanceof SyntaxError) return null;
    throw error;
  }
}

/** What the run's shards skipped, split into articles (no vector) and unreadable user items. */
export function skippedInputs(shardResults: readonly Pick<ScoreShardOutput, 'skipped'>[]): SkippedInputs {
  const out: SkippedInputs = { articles: { count: 0, items: [] }, users: { count: 0, items: [] } };
  for (const { skipped } of shardResults) {
    const namedArticles = skipped.named.filter((s) => s.kind === 'article');
    const articles = skipped.articles ?? namedArticles.length;
    out.articles.count += articles;
    out.users.count += skipped.count - articles;
    for (const s of skipped.named) {
      if (s.kind === 'article' && out.articles.items.length < REPORT_NAMED)
        out.articles.items.push({ article_id: s.id, reason: s.reason });
      if (s.kind === 'user' && out.users.items.length < REPORT_NAMED)
        out.users.items.push({ user_id: s.id, reason: s.reason });
    }
  }
  return out;
}

/** Publishes the KPI report of the run's date (JSON and page); a rerun of the date replaces them. */
export async function publishReportTask(
  event: { run: RunRef; shardResults?: Pick<ScoreShardOutput, 'skipped'>[] },
  deps: BatchDeps,
): Promise<PublishReportOutput> {
  const { run } = event;
  const { bucket } = deps.config;
  const settings = deps.config.report;
  const date = run.date;
  const checkedAt = deps.now();
  const dir = join(deps.config.workDir, `report-${date}-${run.runId}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    // The day's Parquet and the user ids of the lookback days, downloaded like ArticleStats does.
    const schemas = listSchemas();
    const download = async (key: string, name: string) => {
      const file = join(dir, name);
      writeFileSync(file, await getBytes(deps.s3, bucket, key));
      return file;
    };
    const day: LakeFile[] = [];
    const earlier: string[] = [];
    const earlierDays = { fromMarts: 0, fromLake: 0 };
    for (const dt of [date, ...datesBetween(dayBefore(date, settings.lookbackDays), dayBefore(date))]) {
      // A day before with a users mart (an earlier report wrote it): one small file instead of its events.
      if (dt !== date) {
        const mart = dailyUsersKey(dt);
        if ((await listKeys(deps.s3, bucket, mart)).includes(mart)) {
          earlier.push(await download(mart, `${dt}-daily-users.parquet`));
          earlierDays.fromMarts += 1;
          continue;
        }
        earlierDays.fromLake += 1;
      }
      for (const s of schemas) {
        const keys = await listKeys(deps.s3, bucket, `lake/${s.type}/v${s.version}/dt=${dt}/`);
        const parquet = keys.filter((k) => k.endsWith('.parquet'));
        const files = await mapLimit(parquet, 8, (key, i) =>
          download(key, `${dt}-${s.type}-v${s.version}-${String(i).padStart(6, '0')}-${basename(key)}`),
        );
        if (dt === date) {
          const hasTab = s.fields.some((f) => f.name === 'tab');
          day.push(...files.map((path) => ({ path, eventType: s.type, hasTab })));
        } else earlier.push(...files);
      }
    }

    const usersFile = join(dir, 'daily-users.parquet');
    const { counts, users, newestClickMs } = await withBatchDuckDb(async (c) => {
      await c.run("SET TimeZone = 'UTC'");
      const sql = kpiSql({ day, earlier });
      const counts: CountRow[] = (await c.runAndReadAll(sql.counts)).getRowObjectsJS().map((r) => ({
        event_type: String(r.event_type),
        platform: r.platform === null ? null : String(r.platform),
        tab: r.tab === null ? null : String(r.tab),
        events: Number(r.events),
      }));
      const [u] = (await c.runAndReadAll(sql.users)).getRowObjectsJS();
      const users = {
        daily_active_users: Number(u?.daily_active_users ?? 0),
        returning_users: Number(u?.returning_users ?? 0),
      };
      const [n] = (await c.runAndReadAll(sql.newestClick)).getRowObjectsJS();
      const newestClickMs = n?.newest_click_ms === null || n === undefined ? null : Number(n.newest_click_ms);
      await c.run(
        `COPY (${sql.dailyUsers}) TO '${usersFile.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`,
      );
      return { counts, users, newestClickMs };
    });

    // The formatter's manifests of the day's raw objects: what collect landed, what the formatter kept.
    const manifestKeys = (
      await Promise.all(
        RAW_DATASETS.map((d) => listKeys(deps.s3, bucket, `lake/_manifests/${d}/dt=${date}/`)),
      )
    ).flat();
    const manifests = await mapLimit(
      manifestKeys.filter((k) => k.endsWith('.json')),
      16,
      async (key) =>
        JSON.parse(Buffer.from(await getBytes(deps.s3, bucket, key)).toString('utf8')) as FormatManifest,
    );
    // A raw object Firehose delivered twice (the same bytes under another key) is read once: it is not more traffic.
    const delivered = distinctDeliveries(manifests);
    const linesRead = delivered.reduce((t, m) => t + m.lines_read, 0);
    const linesQuarantined = delivered.reduce((t, m) => t + m.lines_quarantined, 0);
    const collectQuarantined = await countGzipLines(deps, `quarantine/collect/dt=${date}/`);
    const articlesQuarantined = await countGzipLines(deps, `quarantine/articles/dt=${date}/`);
    const articleItems = await scanItems(deps.ddb, {
      table: deps.config.articleVectorsTable,
      attributes: ['article_id', 'updated_at'],
    });
    const articlesStored = articleItems.filter((a) => a.updated_at?.S?.startsWith(date)).length;

    // Freshness: raw objects of the lookback days up to today with no manifest, and the vectors' newest update.
    const today = checkedAt.toISOString().slice(0, 10);
    const raw: ListedObject[] = [];
    const formatted: string[] = [];
    for (const dt of datesBetween(dayBefore(date, settings.lookbackDays), today)) {
      for (const d of RAW_DATASETS) {
        const objects = await listObjects(deps.s3, bucket, `raw/${d}/dt=${dt}/`);
        if (objects.length === 0) continue;
        raw.push(...objects);
        formatted.push(...(await listKeys(deps.s3, bucket, `lake/_manifests/${d}/dt=${dt}/`)));
      }
    }
    // The same rule as `logbase status` (lib/domain/freshness.ts), over the lookback days only.
    const backlog = rawBacklog(raw, formatted, checkedAt).oldest;
    const oldest = backlog ? { key: backlog.key, lastModified: new Date(backlog.lastModified) } : null;
    const vectorUpdates = await scanItems(deps.ddb, {
      table: deps.config.userVectorsTable,
      attributes: ['updated_at'],
    });
    const newestVector = vectorUpdates.reduce((newest, item) => {
      const t = Date.parse(item.updated_at?.S ?? '');
      return Number.isFinite(t) && t > newest ? t : newest;
    }, Number.NEGATIVE_INFINITY);

    const report = parseReport(
      kpiReport({
        date,
        runId: run.runId,
        generatedAt: checkedAt,
        counts,
        users,
        stages: {
          collect: { records_in: linesRead + collectQuarantined, quarantined: collectQuarantined },
          format: { records_in: linesRead, quarantined: linesQuarantined },
          articles: { records_in: articlesStored + articlesQuarantined, quarantined: articlesQuarantined },
        },
        freshness: {
          checkedAt,
          oldestUnformattedRaw: oldest,
          newestClickMs,
          newestVectorUpdateMs: Number.isFinite(newestVector) ? newestVector : null,
        },
        limits: {
          quarantineThreshold: settings.quarantineThreshold,
          rawAgeSeconds: settings.rawAgeLimitSeconds,
          userVectorLagSeconds: settings.userVectorLagLimitSeconds,
        },
        previous: await previousReport(deps, date),
        skipped: skippedInputs(event.shardResults ?? []),
      }),
    );
    const keys = reportKeys(date);
    await putBytes(deps.s3, bucket, keys.json, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
    await putBytes(deps.s3, bucket, keys.html, renderReportHtml(report), 'text/html; charset=utf-8');
    await putBytes(
      deps.s3,
      bucket,
      dailyUsersKey(date),
      readFileSync(usersFile),
      'application/vnd.apache.parquet',
    );
    return {
      date,
      status: report.status,
      report: keys.json,
      page: keys.html,
      dailyActiveUsers: report.headline.daily_active_users.value,
      events: report.headline.events.value,
      lakeFiles: { day: day.length, earlier: earlier.length },
      earlierDays,
      dailyUsers: dailyUsersKey(date),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
