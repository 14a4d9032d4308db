/**
 * Compaction benchmark (a script that prints figures; not a test). Run: `npm run bench:compact`.
 *
 * An hour of click_v1 in many small files (BENCH_FILES files of BENCH_ROWS rows, 2% of the events
 * redelivered in another file), in the local stack's s3rver. Measured: the compaction itself (files/s,
 * rows/s, bytes before and after), and, as the reference a user cares about, the same `logbase query`
 * path (listing, views, DuckDB) over the hour before and after, interleaved rounds, medians: through
 * `click` (each event once: the dedup rule, skipped in an hour holding only one compaction's output)
 * and through `click_v1_stored` (every stored row, no rule), which shows what the rule costs a query.
 *
 * Tune with BENCH_FILES (default 300), BENCH_ROWS (400), BENCH_ROUNDS (7).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { formatBytes } from '../cli/query/guard';
import { LocalLake } from '../cli/query/local';
import { s3Client } from '../lib/aws/clients';
import { compactLake } from '../lib/compact/compact-lake';
import { HourMerger } from '../lib/compact/merge';
import { intEnv } from '../lib/config';
import { silentLog } from '../local/log';
import { startLocalStack } from '../local/stack';

const FILES = intEnv('BENCH_FILES', 300);
const ROWS = intEnv('BENCH_ROWS', 400);
const ROUNDS = intEnv('BENCH_ROUNDS', 7);
const BUCKET = 'logbase-local-data';
const HOUR = { dt: '2026-03-01', hour: '03' };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'logbase-bench-compact-'));
  const stack = await startLocalStack({
    serviceDir: resolve(__dirname, '..'),
    dataDir,
    fresh: true,
    offline: false,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0 },
    log: silentLog,
  });
  const s3 = s3Client({ ...process.env, ...stack.env });
  try {
    // Prepare: the small files, as the formatter writes them (zstd Parquet, one per raw object).
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run("SET TimeZone = 'UTC'");
    let bytesBefore = 0;
    for (let f = 0; f < FILES; f++) {
      const file = join(dataDir, `small-${f}.parquet`);
      // Events f*ROWS .. f*ROWS+ROWS-1; the last 2% of each file are a redelivery of the previous file's first events.
      const dup = Math.floor(ROWS * 0.02);
      await c.run(`COPY (
        SELECT 'e' || CASE WHEN f > 0 AND i >= ${ROWS - dup} THEN (${(f - 1) * ROWS} + i - ${ROWS - dup}) ELSE (${f * ROWS} + i) END AS event_id,
          'click' AS event_type, 1::INTEGER AS schema_version, 'u' || ((i * 7919 + ${f}) % 5000) AS user_id,
          TIMESTAMPTZ '2026-03-01 03:00:00+00' + to_microseconds((${f} * ${ROWS} + i) * 1000) AS occurred_at,
          TIMESTAMPTZ '2026-03-01 03:00:01+00' + to_microseconds((${f} * ${ROWS} + i) * 1000) AS received_at,
          'req-${f}' AS request_id, 'a' || (i % 800) AS article_id, CASE WHEN i % 3 = 0 THEN 'top' ELSE 'news' END AS tab,
          (i % 20)::INTEGER AS position, 'ios' AS platform, '5.12.0' AS app_version
        FROM (SELECT ${f} AS f, range AS i FROM range(${ROWS}))
      ) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
      const body = await readFile(file);
      bytesBefore += body.length;
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `lake/click/v1/dt=${HOUR.dt}/hour=${HOUR.hour}/raw-${String(f).padStart(5, '0')}-s0000.parquet`,
          Body: body,
        }),
      );
    }
    c.closeSync();
    db.closeSync();

    const lake = await LocalLake.open({
      bucketDir: join(stack.dataDir.s3, BUCKET),
      database: 'logbase_local',
    });
    const sql = (table: string) =>
      `SELECT count(*) AS n, count(DISTINCT user_id) AS users FROM ${table} WHERE dt = '${HOUR.dt}' AND hour = '${HOUR.hour}'`;
    const timeQuery = async (table: string) => {
      const t = performance.now();
      const result = await lake.runListed(sql(table));
      return { ms: performance.now() - t, n: Number(result.rows[0]?.[0]) };
    };
    const rounds = async () => {
      const out: Record<string, number[]> = { click: [], click_v1_stored: [] };
      let n: Record<string, number> = {};
      for (let r = 0; r < ROUNDS; r++) {
        for (const table of r % 2 === 0 ? ['click', 'click_v1_stored'] : ['click_v1_stored', 'click']) {
          const q = await timeQuery(table);
          out[table]?.push(q.ms);
          n = { ...n, [table]: q.n };
        }
      }
      return { click: median(out.click ?? []), stored: median(out.click_v1_stored ?? []), n };
    };
    await timeQuery('click'); // warm-up
    const before = await rounds();

    // Act: the compaction
    const work = join(dataDir, 'work');
    const merger = await HourMerger.open({ tempDirectory: join(work, 'spill') });
    const t = performance.now();
    const summary = await compactLake(
      { s3, bucket: BUCKET, workDir: work, now: () => new Date(), merger: async () => merger },
      {
        hours: [HOUR],
        type: 'click',
        targetBytes: 128 * 1024 * 1024,
        settleMinutes: 30,
        graceMinutes: 0,
        limits: { maxHours: 1, maxBytes: Number.MAX_SAFE_INTEGER },
      },
    );
    const compactMs = performance.now() - t;
    merger.close();
    const after = await rounds();
    lake.close();

    const h = summary.totals;
    const rows = (x: number) => x.toLocaleString('en-US');
    console.log(
      `compaction benchmark: ${FILES} files x ${ROWS} rows of click_v1, one hour (this machine; medians of ${ROUNDS} interleaved query rounds)`,
    );
    console.log(
      `  compaction: ${(compactMs / 1000).toFixed(2)} s, ${(FILES / (compactMs / 1000)).toFixed(0)} files/s, ` +
        `${rows(Math.round(h.rows_in / (compactMs / 1000)))} rows/s; ${h.files_before} -> ${h.files_after} file(s), ` +
        `${formatBytes(bytesBefore)} -> ${formatBytes(h.bytes_after)}, ${rows(h.rows_in)} rows -> ${rows(h.rows_out)} (${rows(h.duplicates_removed)} duplicates removed)`,
    );
    console.log(
      `  query through click (each event once):  before ${before.click.toFixed(0)} ms (${rows(before.n.click ?? 0)} rows), after ${after.click.toFixed(0)} ms (${rows(after.n.click ?? 0)} rows): ${(before.click / after.click).toFixed(1)}x`,
    );
    console.log(
      `  query through click_v1_stored (no rule): before ${before.stored.toFixed(0)} ms (${rows(before.n.click_v1_stored ?? 0)} rows), after ${after.stored.toFixed(0)} ms (${rows(after.n.click_v1_stored ?? 0)} rows): ${(before.stored / after.stored).toFixed(1)}x`,
    );
    console.log(
      `  S3 GETs a query of the hour makes (one per file, Athena and ArticleStats alike): ${h.files_before} -> ${h.files_after}`,
    );
  } finally {
    s3.destroy();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
