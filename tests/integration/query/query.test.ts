import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { type LocalQueryOptions, runLocalQuery } from '../../../cli/commands/query';
import { readQueryLog } from '../../../cli/query/query-log';
import { silentLog } from '../../../local/log';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { clientsFor, destroyClients, tempDataDir } from '../local/harness';

/**
 * `logbase query` on the local lake: real zstd Parquet objects (written by DuckDB as the formatter
 * writes them: TIMESTAMPTZ instants, integers, a MAP for properties) put into the local stack's bucket
 * through its S3 API, then queried where s3rver keeps them.
 */
const ROOT = resolve(__dirname, '../../..');
const BUCKET = 'logbase-local-data';
const run = promisify(execFile);

/** Clicks per partition, with their tab: i % 3 === 0 -> 'top', else 'news'. */
const CLICKS: [dt: string, hour: string, count: number][] = [
  ['2026-11-30', '23', 4],
  ['2026-12-01', '00', 6],
  ['2026-12-01', '01', 3],
];
const IMPRESSIONS: [string, string, number][] = [['2026-12-01', '00', 10]];

let stack: LocalStack;
let clients: ReturnType<typeof clientsFor>;
let dataDir: string;
let work: string;
/** Bytes of the click_v1 objects put, per partition. */
const clickBytes = new Map<string, number>();

async function putParquet(db: DuckDBInstance, key: string, select: string): Promise<number> {
  const connection = await db.connect();
  const file = join(work, key.replace(/\//g, '_'));
  await connection.run("SET TimeZone = 'UTC'");
  await connection.run(`COPY (${select}) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
  connection.closeSync();
  const body = await readFile(file);
  await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return body.length;
}

const clickRows = (dt: string, hour: string, n: number) => `
  SELECT uuid()::VARCHAR AS event_id, 'click' AS event_type, 1::INTEGER AS schema_version, 'u' || (i % 2) AS user_id,
    TIMESTAMPTZ '${dt} ${hour}:15:00+00' + to_seconds(i) AS occurred_at, TIMESTAMPTZ '${dt} ${hour}:15:01+00' AS received_at,
    'req-1' AS request_id, 'a' || i AS article_id, CASE WHEN i % 3 = 0 THEN 'top' ELSE 'news' END AS tab,
    i::INTEGER AS position, 'ios' AS platform, '5.12.0' AS app_version
  FROM range(${n}) AS t(i)`;

beforeAll(async () => {
  dataDir = await tempDataDir();
  work = await mkdtemp(join(tmpdir(), 'logbase-query-'));
  stack = await startLocalStack({
    serviceDir: ROOT,
    dataDir,
    fresh: true,
    offline: false,
    ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0 },
    log: silentLog,
  });
  clients = clientsFor(stack);
  const db = await DuckDBInstance.create(':memory:');
  for (const [dt, hour, n] of CLICKS) {
    const key = `lake/click/v1/dt=${dt}/hour=${hour}/raw-clicks-0001.parquet`;
    clickBytes.set(`${dt}/${hour}`, await putParquet(db, key, clickRows(dt, hour, n)));
  }
  // A manifest beside the data is not data.
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'lake/click/v1/dt=2026-12-01/hour=00/raw-clicks-0001.manifest.json',
      Body: '{"rows":6}',
    }),
  );
  for (const [dt, hour, n] of IMPRESSIONS) {
    await putParquet(
      db,
      `lake/impression/v1/dt=${dt}/hour=${hour}/raw-events-0001.parquet`,
      clickRows(dt, hour, n).replace("'click' AS event_type", "'impression' AS event_type"),
    );
  }
  await putParquet(
    db,
    'lake/action/v1/dt=2026-12-01/hour=00/raw-events-0001.parquet',
    `SELECT uuid()::VARCHAR AS event_id, 'action' AS event_type, 1::INTEGER AS schema_version, 'u1' AS user_id,
       TIMESTAMPTZ '2026-12-01 09:30:00+09' AS occurred_at, TIMESTAMPTZ '2026-12-01 00:30:01+00' AS received_at,
       'req-2' AS request_id, 'share' AS action, MAP {'via': 'line', 'count': '2'} AS properties, 'a1' AS article_id,
       'android' AS platform, '5.12.0' AS app_version`,
  );
  db.closeSync();
}, 120_000);

afterAll(async () => {
  destroyClients(clients);
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

/** `logbase query` in-process on this stack's lake; what it prints and its exit code. */
async function query(sql: string, flags: Partial<LocalQueryOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLocalQuery(
    sql,
    {
      format: 'table',
      allowFullScan: false,
      dryRun: false,
      bucketDir: join(stack.dataDir.s3, BUCKET),
      database: 'logbase_local',
      queryLog: stack.dataDir.queryLog,
      now: () => new Date('2026-12-01T12:00:00Z'),
      user: 'analyst',
      ...flags,
    },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out, err };
}

const allClickBytes = () => [...clickBytes.values()].reduce((a, b) => a + b, 0);

describe('logbase query on the local lake', () => {
  it('refuses a query without a dt filter, naming the table, its partitions and bytes', async () => {
    const { code, out, err } = await query('SELECT count(*) FROM click');

    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err[0]).toBe(
      'logbase query: refused: a lake table is read without a filter on dt that prunes partitions:',
    );
    expect(err[1]).toBe('logbase query:   click_v1 (as click, line 1, column 22): no filter on dt');
    expect(err[2]).toContain(
      `it would scan all 3 partitions, 3 files, ${(allClickBytes() / 1024).toFixed(1)} KiB: ` +
        'dt=2026-11-30/hour=23, dt=2026-12-01/hour=00, dt=2026-12-01/hour=01',
    );
  });

  it('refuses it also when the table hides behind a CTE or an alias', async () => {
    const cte = await query(
      "WITH recent AS (SELECT * FROM click) SELECT count(*) FROM recent WHERE tab = 'top'",
    );
    const alias = await query("SELECT count(*) FROM click AS dt WHERE dt.tab = 'dt'");

    expect(cte.code).toBe(1);
    expect(cte.err[1]).toBe('logbase query:   click_v1 (as click, line 1, column 31): no filter on dt');
    expect(alias.code).toBe(1);
    expect(alias.err[1]).toBe('logbase query:   click_v1 (as dt, line 1, column 22): no filter on dt');
  });

  it('runs a query with a dt filter on DuckDB over the Parquet in the bucket and returns the right counts', async () => {
    const { code, out, err } = await query(
      "SELECT tab, count(*) AS clicks, min(occurred_at) AS first FROM click WHERE dt = '2026-12-01' GROUP BY tab ORDER BY tab",
    );

    // 2026-12-01 holds hour 00 (6 clicks: i = 0..5) and hour 01 (3 clicks): top is i % 3 = 0.
    expect(code).toBe(0);
    expect(out).toEqual([
      'tab   clicks  first',
      '----  ------  ----------------------',
      'news       6  2026-12-01 00:15:01+00',
      'top        3  2026-12-01 00:15:00+00',
      '(2 rows)',
    ]);
    const bytes = (clickBytes.get('2026-12-01/00') ?? 0) + (clickBytes.get('2026-12-01/01') ?? 0);
    expect(err).toEqual([
      expect.stringMatching(
        new RegExp(
          `^logbase query: read 2 partitions, ${(bytes / 1024).toFixed(1)} KiB of the local lake in \\d+\\.\\d s$`,
        ),
      ),
    ]);
  });

  it('counts through a CTE filtered on dt, an hour filter, a join of two filtered tables and a range', async () => {
    const cte = await query(
      "WITH recent AS (SELECT * FROM click_v1) SELECT count(*) AS n FROM recent WHERE dt = '2026-12-01' AND hour = '01'",
      { format: 'csv' },
    );
    const join = await query(
      "SELECT count(*) AS n FROM click c JOIN impression i ON c.dt = i.dt AND c.article_id = i.article_id WHERE c.dt = '2026-12-01'",
      { format: 'csv' },
    );
    const range = await query("SELECT count(*) AS n FROM logbase_local.click WHERE dt >= '2026-11-30'", {
      format: 'csv',
    });

    expect(cte.out).toEqual(['n', '3']);
    // Impressions a0..a9 on 2026-12-01 meet clicks a0..a5 (hour 00) and a0..a2 (hour 01).
    expect(join.out).toEqual(['n', '9']);
    expect(range.out).toEqual(['n', '13']);
  });

  it('reads typed columns: a +09:00 time as its UTC instant, properties as a map, integers as numbers', async () => {
    const { code, out } = await query(
      "SELECT occurred_at, properties['via'] AS via, properties, schema_version FROM action WHERE dt = '2026-12-01'",
      { format: 'json' },
    );

    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual([
      {
        occurred_at: '2026-12-01 00:30:00+00',
        via: 'line',
        properties: { via: 'line', count: '2' },
        schema_version: 1,
      },
    ]);
  });

  it('prints the partitions and bytes a dry run would read, and runs nothing', async () => {
    const { code, out } = await query("SELECT * FROM click WHERE dt = '2026-11-30'", { dryRun: true });

    const bytes = clickBytes.get('2026-11-30/23') ?? 0;
    expect(code).toBe(0);
    expect(out).toEqual([
      `click_v1 (as click, line 1, column 15): 1 partition, 1 file, ${(bytes / 1024).toFixed(1)} KiB: dt=2026-11-30/hour=23`,
      "  filter on partitions: dt = '2026-11-30'",
      `total: 1 partition, ${(bytes / 1024).toFixed(1)} KiB (listed in ${join(stack.dataDir.s3, BUCKET, 'lake')})`,
      'the guard lets this query run',
    ]);
  });

  it('logs every local query with who, when, the SQL and the tables read', async () => {
    const before = (await readQueryLog(stack.dataDir.queryLog)).length;
    await query("SELECT count(*) FROM click c JOIN impression i USING (user_id) WHERE c.dt = '2026-12-01'");

    const entries = await readQueryLog(stack.dataDir.queryLog);
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({
      at: '2026-12-01T12:00:00.000Z',
      user: 'analyst',
      sql: "SELECT count(*) FROM click c JOIN impression i USING (user_id) WHERE c.dt = '2026-12-01'",
      tables: ['click_v1', 'impression_v1'],
      outcome: 'refused',
    });
  });

  it('prints results and refusals on the command line as a user sees them', async () => {
    // Prepare
    const cli = (sql: string, ...args: string[]) =>
      run(process.execPath, [join(ROOT, 'bin/logbase.cjs'), 'query', sql, '--data-dir', dataDir, ...args], {
        cwd: ROOT,
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    // Act (two processes at once: each spends seconds compiling the CLI)
    const [ok, refused] = await Promise.all([
      cli("SELECT hour, count(*) AS clicks FROM click WHERE dt = '2026-12-01' GROUP BY hour ORDER BY hour"),
      cli('SELECT * FROM click'),
    ]);

    // Assess
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      ['hour  clicks', '----  ------', '00         6', '01         3', '(2 rows)', ''].join('\n'),
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(
      /^logbase query: refused: a lake table is read without a filter on dt that prunes partitions:\nlogbase query: {3}click_v1 \(as click, line 1, column 15\): no filter on dt\n/,
    );
    expect((await stat(stack.dataDir.queryLog)).size).toBeGreaterThan(0);
  });
});
