import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { type LocalQueryOptions, localLake, runLocalQuery, stageLake } from '../../../cli/commands/query';
import { buildProgram } from '../../../cli/main';
import { readQueryLog } from '../../../cli/query/query-log';

/**
 * runLocalQuery on a bucket folder laid out as s3rver keeps it (`<key>._S3rver_object`), with Parquet written
 * by DuckDB; the integration suite does the same through the local stack's S3 API.
 */
let dir: string;
let bucketDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logbase-query-unit-'));
  bucketDir = join(dir, 's3', 'logbase-local-data');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  await connection.run("SET TimeZone = 'UTC'");
  for (const [hour, n] of [
    ['00', 4],
    ['01', 2],
  ] as const) {
    const folder = join(bucketDir, `lake/click/v1/dt=2026-12-01/hour=${hour}`);
    await mkdir(folder, { recursive: true });
    await connection.run(`COPY (
      SELECT uuid()::VARCHAR AS event_id, 'click' AS event_type, 1::INTEGER AS schema_version, 'u' || i AS user_id,
        TIMESTAMPTZ '2026-12-01 ${hour}:00:00+00' AS occurred_at, TIMESTAMPTZ '2026-12-01 ${hour}:00:01+00' AS received_at,
        'r' AS request_id, 'a' || i AS article_id, 'top' AS tab, i::INTEGER AS position, 'web' AS platform,
        '1.0.0' AS app_version
      FROM range(${n}) AS t(i)) TO '${folder}/x.parquet._S3rver_object' (FORMAT parquet, COMPRESSION zstd)`);
  }
  connection.closeSync();
  db.closeSync();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function query(sql: string, flags: Partial<LocalQueryOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLocalQuery(
    sql,
    {
      format: 'table',
      allowFullScan: false,
      dryRun: false,
      bucketDir,
      database: 'logbase_local',
      queryLog: join(dir, 'query-log.jsonl'),
      now: () => new Date('2026-12-01T12:00:00Z'),
      user: 'analyst',
      ...flags,
    },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out, err };
}

describe('logbase query on a local bucket folder', () => {
  it('prints the counts of a filtered query as a table', async () => {
    const { code, out } = await query(
      "SELECT hour, count(*) AS clicks FROM click WHERE dt = '2026-12-01' GROUP BY hour ORDER BY hour",
    );

    expect(code).toBe(0);
    expect(out).toEqual(['hour  clicks', '----  ------', '00         4', '01         2', '(2 rows)']);
  });

  it('prints CSV with a header, and an empty table with its columns', async () => {
    const csv = await query(
      "SELECT user_id, position FROM click WHERE dt = '2026-12-01' AND hour = '01' ORDER BY 1",
      {
        format: 'csv',
      },
    );
    const empty = await query("SELECT count(*) AS n FROM impression WHERE dt = '2026-12-01'", {
      format: 'csv',
    });

    expect(csv.out).toEqual(['user_id,position', 'u0,0', 'u1,1']);
    expect(empty.out).toEqual(['n', '0']);
  });

  it('runs a full scan only with --allow-full-scan, and logs both', async () => {
    const refused = await query('SELECT count(*) AS n FROM click_v1');
    const allowed = await query('SELECT count(*) AS n FROM click_v1', {
      allowFullScan: true,
      format: 'json',
    });

    expect(refused.code).toBe(1);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.out.join('\n'))).toEqual([{ n: 6 }]);
    const log = (await readQueryLog(join(dir, 'query-log.jsonl'))).slice(-2);
    expect(log.map((e) => [e.outcome, e.allowFullScan, e.tables, e.partitions, e.rows])).toEqual([
      ['refused', false, ['click_v1'], 2, undefined],
      ['ran', true, ['click_v1'], 2, 1],
    ]);
  });

  it('reads no file outside the lake and installs nothing, even with --allow-full-scan', async () => {
    const copy = await query("COPY (SELECT 1) TO '/tmp/logbase-query-escape.csv'", { allowFullScan: true });
    const install = await query('INSTALL httpfs', { allowFullScan: true });
    const unlock = await query('SET enable_external_access = true', { allowFullScan: true });

    expect(copy.err[0]).toMatch(
      /^logbase query: DuckDB: Permission Error: Cannot access file "\/tmp\/logbase-query-escape.csv"/,
    );
    expect(install.err[0]).toMatch(/^logbase query: DuckDB: Permission Error: /);
    expect(unlock.err[0]).toMatch(/^logbase query: DuckDB: .*the configuration has been locked/);
  });

  it('says what DuckDB says when a checked query fails, and logs it as failed', async () => {
    const { code, err } = await query("SELECT no_such_column FROM click WHERE dt = '2026-12-01'");

    expect(code).toBe(1);
    expect(err[0]).toMatch(
      /^logbase query: DuckDB: Binder Error: Referenced column "no_such_column" not found/,
    );
    const last = (await readQueryLog(join(dir, 'query-log.jsonl'))).at(-1);
    expect(last).toMatchObject({ outcome: 'failed', error: expect.stringContaining('no_such_column') });
  });
});

describe('logbase query settings from serverless.yml', () => {
  // What `sls print` resolves for the local and dev stages (the parts the command reads).
  const printed = (stage: string) => ({
    service: 'logbase',
    provider: {
      stage,
      region: 'ap-northeast-1',
      environment: {
        DATA_BUCKET: stage === 'local' ? 'logbase-local-data' : `logbase-${stage}-data-ap-northeast-1`,
        GLUE_DATABASE: `logbase_${stage}`,
      },
    },
    custom: { names: { athenaWorkGroup: `logbase-${stage}` } },
  });

  it('finds the local lake in the data dir and the stage resources by their serverless.yml names', () => {
    expect(localLake(printed('local'), '/data')).toEqual({
      bucketDir: '/data/s3/logbase-local-data',
      database: 'logbase_local',
      queryLog: '/data/query-log.jsonl',
    });
    expect(stageLake(printed('dev'))).toEqual({
      region: 'ap-northeast-1',
      bucket: 'logbase-dev-data-ap-northeast-1',
      target: { workGroup: 'logbase-dev', database: 'logbase_dev' },
    });
    expect(stageLake(printed('dev'), 'us-east-1').region).toBe('us-east-1');
  });

  it('names the setting serverless.yml does not give', () => {
    const config = printed('dev');
    config.provider.environment = {} as never;

    expect(() => stageLake(config)).toThrow(
      'serverless.yml gives no provider.environment.DATA_BUCKET for stage dev',
    );
  });

  it('registers `logbase query` with its options and help', () => {
    let help = '';
    const query = buildProgram().commands.find((c) => c.name() === 'query');
    query?.configureOutput({ writeOut: (s) => (help += s) });
    query?.outputHelp();

    for (const option of ['--stage', '--format', '--allow-full-scan', '--dry-run', '--data-dir']) {
      expect(help).toContain(option);
    }
    expect(help).toContain('choices: "table", "csv", "json"');
  });
});
