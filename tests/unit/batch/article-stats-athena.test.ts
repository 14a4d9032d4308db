import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { mockClient } from 'aws-sdk-client-mock';
import {
  type ArticleStatsOutput,
  articleStatsTask,
  type BatchDeps,
  loadBatchConfig,
} from '../../../lib/batch/tasks';
import { ConfigError } from '../../../lib/config';
import {
  articleStatsSql,
  asOfDate,
  countsFromRows,
  datesCovered,
  parseWindows,
} from '../../../lib/domain/batch/stats';
import { duckDbDedup, rowNumberSql } from '../../../lib/domain/compact/dedup';

// There is no Athena emulator: the Athena client is mocked; DuckDB runs for real.
const fixture = JSON.parse(readFileSync('events/lake/article-stats-events.json', 'utf8')) as {
  impression: { event_id: string; article_id: string; occurred_at: string; redelivered?: boolean }[];
  click: { event_id: string; article_id: string; occurred_at: string }[];
  counts: { article_id: string; impressions: Record<string, number>; clicks: Record<string, number> }[];
};
const DATE = '2026-11-30';
const WINDOWS = parseWindows('1h,24h,7d');
const athena = mockClient(AthenaClient);
const s3 = mockClient(S3Client);
let dir: string;

beforeEach(() => {
  athena.reset();
  s3.reset();
  dir = mkdtempSync(join(tmpdir(), 'stats-athena-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const baseEnv = {
  DATA_BUCKET: 'data',
  USER_VECTORS_TABLE: 'u',
  ARTICLE_VECTORS_TABLE: 'a',
  RECOMMENDATIONS_TABLE: 'r',
  ATHENA_WORK_GROUP: 'logbase-prod',
  GLUE_DATABASE: 'logbase_prod',
};

function deps(engine: 'duckdb' | 'athena', sleeps: number[] = []): BatchDeps {
  return {
    config: loadBatchConfig({ ...baseEnv, BATCH_STATS_ENGINE: engine, BATCH_WORK_DIR: join(dir, 'work') }),
    s3: new S3Client({ region: 'ap-northeast-1' }),
    ddb: {} as BatchDeps['ddb'],
    athena: new AthenaClient({ region: 'ap-northeast-1' }),
    athenaRun: { sleep: async (ms) => void sleeps.push(ms) },
    now: () => new Date('2026-12-01T01:00:00Z'),
  };
}

/** The fixture's events as Parquet, one file per type, dt and hour (and one for the redelivered copy), DuckDB-written. */
async function lakeObjects(): Promise<Map<string, Uint8Array>> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'UTC'");
  const objects = new Map<string, Uint8Array>();
  for (const type of ['impression', 'click'] as const) {
    for (const [i, e] of (fixture[type] as (typeof fixture.impression)[number][]).entries()) {
      const dt = e.occurred_at.slice(0, 10);
      const hour = e.occurred_at.slice(11, 13);
      const file = join(dir, `${type}-${i}.parquet`);
      await c.run(
        `COPY (SELECT '${e.event_id}' AS event_id, '${e.article_id}' AS article_id, TIMESTAMPTZ '${e.occurred_at}' AS occurred_at, ` +
          `TIMESTAMPTZ '${e.occurred_at}' + INTERVAL ${e.redelivered ? 2 : 1} SECOND AS received_at, 'r${i}' AS request_id) TO '${file}' (FORMAT parquet)`,
      );
      objects.set(
        `lake/${type}/v1/dt=${dt}/hour=${hour}/part-${i}.parquet`,
        new Uint8Array(readFileSync(file)),
      );
    }
  }
  c.closeSync();
  db.closeSync();
  return objects;
}

/** What the task wrote: the mart's rows (read back by DuckDB) and ctr.json. */
async function written(): Promise<{ mart: Record<string, unknown>[]; ctr: unknown }> {
  const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
  const martBody = puts.find((p) => p.Key === `marts/article_stats/dt=${DATE}/article_stats.parquet`)?.Body;
  const ctrBody = puts.find((p) => p.Key === `batch/dt=${DATE}/ctr.json`)?.Body;
  const file = join(dir, `mart-${Math.random()}.parquet`);
  writeFileSync(file, martBody as Uint8Array);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const mart = (await c.runAndReadAll(`SELECT * FROM '${file}' ORDER BY article_id`)).getRowObjectsJS();
  c.closeSync();
  db.closeSync();
  return { mart: mart as Record<string, unknown>[], ctr: JSON.parse(String(ctrBody)) };
}

const COLUMNS = ['article_id', ...WINDOWS.flatMap((w) => [`impressions_${w.label}`, `clicks_${w.label}`])];
const athenaRow = (values: string[]) => ({ Data: values.map((v) => ({ VarCharValue: v })) });
const countRow = (c: (typeof fixture.counts)[number]) =>
  athenaRow([
    c.article_id,
    ...WINDOWS.flatMap((w) => [String(c.impressions[w.label]), String(c.clicks[w.label])]),
  ]);

describe('article stats on Athena', () => {
  it('reads the Glue dedup views with a dt/hour filter covering exactly the windows', () => {
    // Prepare
    const asOf = asOfDate(DATE);

    // Act
    const sql = articleStatsSql({
      dialect: 'athena',
      impressionView: 'impression_v1',
      clickView: 'click_v1',
      windows: parseWindows('1h,36h'),
      asOf,
    });

    // Assess
    expect(sql).toContain('FROM "impression_v1" WHERE ');
    expect(sql).toContain('FROM "click_v1" WHERE ');
    expect(sql).not.toContain('read_parquet');
    const filters = [
      ...sql.matchAll(
        /dt IN \(([^)]*)\) AND \(dt <> '([^']*)' OR hour >= '(\d\d)'\) AND \(dt <> '([^']*)' OR hour <= '(\d\d)'\)/g,
      ),
    ];
    expect(filters).toHaveLength(2);
    for (const [, dates, first, fromHour, last, toHour] of filters) {
      expect(dates).toBe("'2026-11-29', '2026-11-30'");
      expect([first, fromHour, last, toHour]).toEqual(['2026-11-29', '12', '2026-11-30', '23']);
    }
    expect(datesCovered(asOf, 36 * 3600)).toEqual(['2026-11-29', '2026-11-30']);
    expect(sql).toContain(`occurred_at < TIMESTAMP '2026-12-01 00:00:00.000'`);
    expect(sql).toContain(`INTERVAL '129600' SECOND`);
  });

  it('counts the same in the Athena dialect as in the DuckDB one, run in DuckDB over views built like the Glue ones', async () => {
    // Prepare: the lake's files, and DuckDB views impression_v1/click_v1 with dt and hour and the dedup rule, as Glue's
    const objects = await lakeObjects();
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run("SET TimeZone = 'UTC'");
    const files: Record<string, string[]> = { impression: [], click: [] };
    for (const [key, bytes] of objects) {
      const file = join(dir, key.replaceAll('/', '_'));
      writeFileSync(file, bytes);
      files[key.split('/')[1] as string]?.push(file);
    }
    for (const type of ['impression', 'click']) {
      const list = (files[type] ?? []).map((f) => `'${f}'`).join(', ');
      await c.run(
        `CREATE VIEW ${type}_v1 AS SELECT * EXCLUDE (filename) FROM (SELECT *, strftime(occurred_at, '%Y-%m-%d') AS dt, ` +
          `strftime(occurred_at, '%H') AS hour FROM read_parquet([${list}], filename = true)) ` +
          `QUALIFY ${rowNumberSql(duckDbDedup('filename'))} = 1`,
      );
    }
    const asOf = asOfDate(DATE);

    // Act
    const onAthena = articleStatsSql({
      dialect: 'athena',
      impressionView: 'impression_v1',
      clickView: 'click_v1',
      windows: WINDOWS,
      asOf,
    });
    const onDuckDb = articleStatsSql({
      impressionFiles: files.impression ?? [],
      clickFiles: files.click ?? [],
      windows: WINDOWS,
      asOf,
    });
    const athenaCounts = countsFromRows((await c.runAndReadAll(onAthena)).getRowObjectsJS(), WINDOWS);
    const duckDbCounts = countsFromRows((await c.runAndReadAll(onDuckDb)).getRowObjectsJS(), WINDOWS);
    c.closeSync();
    db.closeSync();

    // Assess
    expect(athenaCounts).toEqual(fixture.counts);
    expect(duckDbCounts).toEqual(fixture.counts);
  });

  it('runs the stats query in the work group, pages its results, and writes the mart and ctr.json the DuckDB engine writes', async () => {
    // Prepare: the DuckDB engine's run over the lake's files, for reference
    const objects = await lakeObjects();
    s3.on(ListObjectsV2Command).callsFake((input) => ({
      Contents: [...objects.keys()].filter((k) => k.startsWith(input.Prefix)).map((Key) => ({ Key })),
    }));
    s3.on(GetObjectCommand).callsFake((input) => ({
      Body: { transformToByteArray: async () => objects.get(input.Key) as Uint8Array },
    }));
    s3.on(PutObjectCommand).resolves({});
    const event = { input: { date: DATE }, runId: 'r1' };
    const reference = await articleStatsTask(event, deps('duckdb'));
    const expected = await written();
    s3.resetHistory();
    // Athena: queued, running, succeeded; two pages of results (the first starts with the column names)
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({
        QueryExecution: {
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED' },
          Statistics: { DataScannedInBytes: 123_456 },
        },
      });
    const [a, b, cc] = fixture.counts as [
      (typeof fixture.counts)[number],
      (typeof fixture.counts)[number],
      (typeof fixture.counts)[number],
    ];
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: undefined })
      .resolves({
        ResultSet: {
          ResultSetMetadata: {
            ColumnInfo: COLUMNS.map((Name) => ({ Name, Type: Name === 'article_id' ? 'varchar' : 'bigint' })),
          },
          Rows: [athenaRow(COLUMNS), countRow(a), countRow(b)],
        },
        NextToken: 'page-2',
      })
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: 'page-2' })
      .resolves({ ResultSet: { Rows: [countRow(cc)] } });
    const sleeps: number[] = [];

    // Act
    const output: ArticleStatsOutput = await articleStatsTask(event, deps('athena', sleeps));

    // Assess
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start?.WorkGroup).toBe('logbase-prod');
    expect(start?.QueryExecutionContext).toEqual({ Catalog: 'AwsDataCatalog', Database: 'logbase_prod' });
    expect(start?.QueryString).toContain('FROM "impression_v1" WHERE dt IN (');
    expect(sleeps).toHaveLength(2);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(output.source).toEqual({ engine: 'athena', queryExecutionId: 'q-1', dataScannedBytes: 123_456 });
    expect(reference.source).toEqual({ engine: 'duckdb', lakeFiles: { impression: 6, click: 2 } });
    expect([output.articles, output.prior]).toEqual([reference.articles, reference.prior]);
    const got = await written();
    expect(got).toEqual(expected);
    expect(got.mart.map((r) => [r.article_id, r.impressions_7d, r.clicks_7d])).toEqual([
      ['a', 3n, 1n],
      ['b', 1n, 1n],
      ['c', 1n, 0n],
    ]);
  });

  it("fails with the query id and Athena's reason when the query fails, writing nothing", async () => {
    // Prepare
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({
        QueryExecution: {
          Status: {
            State: 'FAILED',
            StateChangeReason: 'Query cancelled: bytes scanned exceeded the work group limit',
          },
        },
      });
    s3.on(PutObjectCommand).resolves({});

    // Act
    // the runner's own sleep between polls, 1 ms
    const run = articleStatsTask(
      { input: { date: DATE }, runId: 'r2' },
      { ...deps('athena'), athenaRun: { firstPollMs: 1 } },
    );

    // Assess
    await expect(run).rejects.toThrow(
      'Athena query q-2 failed: Query cancelled: bytes scanned exceeded the work group limit',
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('rejects an engine other than duckdb or athena, naming the variable', () => {
    // Prepare
    const env = { ...baseEnv, BATCH_STATS_ENGINE: 'spark' };

    // Act
    const load = () => loadBatchConfig(env);

    // Assess
    expect(load).toThrow(ConfigError);
    expect(load).toThrow('environment variable BATCH_STATS_ENGINE must be duckdb or athena, got "spark"');
    expect(() =>
      loadBatchConfig({ ...baseEnv, ATHENA_WORK_GROUP: '', BATCH_STATS_ENGINE: 'athena' }),
    ).toThrow('ATHENA_WORK_GROUP');
  });
});
