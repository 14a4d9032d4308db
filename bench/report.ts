/**
 * KPI report benchmark (a script that prints figures; not a test). Run: `npm run bench:report`.
 *
 * PublishReport (lib/batch/report.ts, the real task) over a lake of 8 days in the local stack's s3rver:
 * the report's date and the 7 lookback days, BENCH_EVENTS impressions and clicks a day in hourly files
 * (as compaction leaves them), BENCH_USERS users. Measured in the same run, interleaved rounds, medians:
 * - reference: the lookback read from the lake (what every report did before the users marts, and what
 *   a report still does for a day no report wrote a mart for): every event file of the 7 days;
 * - marts: the lookback read from the 7 days' `marts/daily_users/` (each written by that day's report).
 * Printed: wall time, bytes the task downloaded, and its peak /tmp use (the Lambda's 2 GiB limit).
 *
 * Tune with BENCH_EVENTS (default 200000 a day), BENCH_USERS (50000), BENCH_ROUNDS (3).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { formatBytes } from '../cli/query/guard';
import { dynamoDbClient, s3Client } from '../lib/aws/clients';
import { publishReportTask } from '../lib/batch/report';
import { loadBatchConfig } from '../lib/batch/tasks';
import { intEnv } from '../lib/config';
import { dailyUsersKey, dayBefore } from '../lib/domain/report/kpi';
import { silentLog } from '../local/log';
import { startLocalStack } from '../local/stack';

const EVENTS = intEnv('BENCH_EVENTS', 200_000);
const USERS = intEnv('BENCH_USERS', 50_000);
const ROUNDS = intEnv('BENCH_ROUNDS', 3);
const BUCKET = 'logbase-local-data';
const DATE = '2026-03-08';
const DAYS = [...Array.from({ length: 7 }, (_, i) => dayBefore(DATE, 7 - i)), DATE];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Counts the bytes of every GetObject answer (what the task downloads). */
function countDownloads(s3: S3Client): { bytes: number } {
  const counter = { bytes: 0 };
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === GetObjectCommand.name) {
        counter.bytes += Number((out.output as { ContentLength?: number } | undefined)?.ContentLength ?? 0);
      }
      return out;
    },
    { step: 'initialize', name: 'benchCountDownloads' },
  );
  return counter;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'logbase-bench-report-'));
  const stack = await startLocalStack({
    serviceDir: resolve(__dirname, '..'),
    dataDir,
    fresh: true,
    offline: false,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0 },
    log: silentLog,
  });
  const env = { ...process.env, ...stack.env };
  const s3 = s3Client(env);
  const ddb = dynamoDbClient(env);
  const downloads = countDownloads(s3);
  try {
    // Prepare: each day's impressions (90%) and clicks (10%), one file per hour and type, zstd Parquet.
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run("SET TimeZone = 'UTC'");
    let lakeBytes = 0;
    const perHour = Math.ceil(EVENTS / 24);
    for (const [d, dt] of DAYS.entries()) {
      for (let hour = 0; hour < 24; hour++) {
        for (const [type, share] of [
          ['impression', 0.9],
          ['click', 0.1],
        ] as const) {
          const rows = Math.ceil(perHour * share);
          const file = join(dataDir, `${dt}-${hour}-${type}.parquet`);
          const seed = d * 1_000_003 + hour * 12_289;
          await c.run(`COPY (
            SELECT '${type[0]}-${dt}-${hour}-' || i AS event_id, '${type}' AS event_type, 1::INTEGER AS schema_version,
              'u' || ((i * 7919 + ${seed}) % ${USERS}) AS user_id,
              TIMESTAMPTZ '${dt} ${String(hour).padStart(2, '0')}:00:00+00' + to_microseconds(i * 1000) AS occurred_at,
              TIMESTAMPTZ '${dt} ${String(hour).padStart(2, '0')}:00:01+00' + to_microseconds(i * 1000) AS received_at,
              'req-' || (i // 50) AS request_id, 'a' || (i % 800) AS article_id,
              CASE WHEN i % 3 = 0 THEN 'top' ELSE 'news' END AS tab, (i % 20)::INTEGER AS position,
              CASE i % 3 WHEN 0 THEN 'ios' WHEN 1 THEN 'android' ELSE 'web' END AS platform, '5.12.0' AS app_version
            FROM range(${rows}) t(i)
          ) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
          const body = await readFile(file);
          lakeBytes += body.length;
          const hh = String(hour).padStart(2, '0');
          await s3.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: `lake/${type}/v1/dt=${dt}/hour=${hh}/compacted-${'0'.repeat(16)}-0.parquet`,
              Body: body,
            }),
          );
        }
      }
    }
    c.closeSync();
    db.closeSync();

    const config = loadBatchConfig({
      ...env,
      DATA_BUCKET: BUCKET,
      USER_VECTORS_TABLE: 'logbase-local-UserVectors',
      ARTICLE_VECTORS_TABLE: 'logbase-local-ArticleVectors',
      RECOMMENDATIONS_TABLE: 'logbase-local-Recommendations',
      BATCH_WORK_DIR: join(dataDir, 'batch'),
    });
    const deps = { config, s3, ddb, now: () => new Date(`${DATE}T23:59:00Z`) };
    const report = async (date: string, runId: string) => {
      const before = downloads.bytes;
      const t = performance.now();
      const out = await publishReportTask(
        { run: { date, asOf: `${date}T23:59:00Z`, runId }, shardResults: [] },
        deps,
      );
      return { ms: performance.now() - t, bytes: downloads.bytes - before, out };
    };
    // The lookback days' marts, as their own reports wrote them.
    for (const dt of DAYS.slice(0, 7)) await report(dt, `mart-${dt}`);
    const marts = DAYS.slice(0, 7).map(dailyUsersKey);
    const saved = new Map<string, Uint8Array>();
    for (const key of marts) {
      const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      saved.set(key, (await out.Body?.transformToByteArray()) as Uint8Array);
    }
    const setMarts = async (present: boolean) => {
      for (const key of marts) {
        await s3.send(
          present
            ? new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: saved.get(key) })
            : new DeleteObjectCommand({ Bucket: BUCKET, Key: key }),
        );
      }
    };

    // Act: interleaved rounds, the reference (no marts: the lake) and the marts.
    const runs: Record<'lake' | 'marts', { ms: number; bytes: number; fromLake: number; dau: number }[]> = {
      lake: [],
      marts: [],
    };
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of r % 2 === 0 ? (['lake', 'marts'] as const) : (['marts', 'lake'] as const)) {
        await setMarts(kind === 'marts');
        const run = await report(DATE, `${kind}-${r}`);
        runs[kind].push({
          ms: run.ms,
          bytes: run.bytes,
          fromLake: run.out.earlierDays.fromLake,
          dau: run.out.dailyActiveUsers,
        });
      }
    }
    await setMarts(true);

    const row = (kind: 'lake' | 'marts') => {
      const xs = runs[kind];
      return {
        ms: median(xs.map((x) => x.ms)),
        bytes: median(xs.map((x) => x.bytes)),
        fromLake: xs[0]?.fromLake,
        dau: xs[0]?.dau,
      };
    };
    const lake = row('lake');
    const mart = row('marts');
    const martBytes = [...saved.values()].reduce((n, b) => n + b.length, 0);
    console.log(
      `KPI report benchmark: ${DAYS.length} days x ${EVENTS.toLocaleString('en-US')} events (90% impressions, 10% clicks), ` +
        `${USERS.toLocaleString('en-US')} users, 48 files a day; lake ${formatBytes(lakeBytes)}; ` +
        `medians of ${ROUNDS} interleaved rounds (this machine)`,
    );
    console.log(
      `  reference, lookback from the lake (${lake.fromLake} days): ${(lake.ms / 1000).toFixed(2)} s, ${formatBytes(lake.bytes)} downloaded`,
    );
    console.log(
      `  lookback from the users marts (${7 - (mart.fromLake ?? 0)} marts, ${formatBytes(martBytes)}): ${(mart.ms / 1000).toFixed(2)} s, ${formatBytes(mart.bytes)} downloaded`,
    );
    console.log(
      `  ${(lake.ms / mart.ms).toFixed(1)}x faster, ${(lake.bytes / mart.bytes).toFixed(1)}x fewer bytes; ` +
        `same DAU (${lake.dau} / ${mart.dau}); /tmp holds what is downloaded (2 GiB in the Lambda)`,
    );
    if (lake.dau !== mart.dau) process.exitCode = 1;
  } finally {
    s3.destroy();
    ddb.destroy();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
