import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { runStageQuery, type StageQueryOptions } from '../../../cli/commands/query';

const athena = mockClient(AthenaClient);
const s3 = mockClient(S3Client);

const TARGET = { workGroup: 'logbase-dev', database: 'logbase_dev' };
const BUCKET = 'logbase-dev-data-ap-northeast-1';

/** Runs `logbase query --stage dev` in-process against the mocked clients; returns what a user sees. */
async function query(sql: string, flags: Partial<StageQueryOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const waits: number[] = [];
  const code = await runStageQuery(
    sql,
    {
      format: 'table',
      allowFullScan: false,
      dryRun: false,
      athena: new AthenaClient({ region: 'ap-northeast-1' }),
      s3: new S3Client({ region: 'ap-northeast-1' }),
      bucket: BUCKET,
      target: TARGET,
      now: () => new Date('2026-12-01T12:00:00Z'),
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...flags,
    },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out, err, waits };
}

const object = (key: string, size: number) => ({ Key: key, Size: size });

const row = (...values: (string | undefined)[]) => ({
  Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })),
});

beforeEach(() => {
  athena.reset();
  s3.reset();
  // The lake on S3: two hours of 2026-12-01 (and a manifest, which is no data), one of 2026-11-30.
  s3.on(ListObjectsV2Command, { Prefix: 'lake/click/v1/dt=2026-12-01/' }).resolves({
    Contents: [
      object('lake/click/v1/dt=2026-12-01/hour=00/a.parquet', 4096),
      object('lake/click/v1/dt=2026-12-01/hour=00/a.manifest.json', 300),
      object('lake/click/v1/dt=2026-12-01/hour=01/b.parquet', 2048),
    ],
  });
  s3.on(ListObjectsV2Command, { Prefix: 'lake/click/v1/' })
    .resolvesOnce({
      Contents: [object('lake/click/v1/dt=2026-11-30/hour=23/c.parquet', 1024)],
      IsTruncated: true,
      NextContinuationToken: 'page-2',
    })
    .resolvesOnce({
      Contents: [
        object('lake/click/v1/dt=2026-12-01/hour=00/a.parquet', 4096),
        object('lake/click/v1/dt=2026-12-01/hour=01/b.parquet', 2048),
      ],
    });
});

describe('logbase query --stage (Athena)', () => {
  it('runs a filtered query in the stage work group and prints every page of results as a table', async () => {
    // Prepare
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({
        QueryExecution: {
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED' },
          Statistics: { DataScannedInBytes: 5120, EngineExecutionTimeInMillis: 800 },
        },
      });
    const ColumnInfo = [
      { Name: 'tab', Type: 'varchar' },
      { Name: 'clicks', Type: 'bigint' },
    ];
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: undefined })
      .resolves({
        ResultSet: { ResultSetMetadata: { ColumnInfo }, Rows: [row('tab', 'clicks'), row('top', '120')] },
        NextToken: 't2',
      })
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: 't2' })
      .resolves({
        ResultSet: { ResultSetMetadata: { ColumnInfo }, Rows: [row('news', '7'), row(undefined, '1')] },
      });
    const sql = "SELECT tab, count(*) AS clicks FROM click WHERE dt = '2026-12-01' GROUP BY tab";

    // Act
    const { code, out, err, waits } = await query(sql);

    // Assess
    expect(code).toBe(0);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryString: sql,
      WorkGroup: 'logbase-dev',
      QueryExecutionContext: { Catalog: 'AwsDataCatalog', Database: 'logbase_dev' },
    });
    expect(out).toEqual([
      'tab   clicks',
      '----  ------',
      'top      120',
      'news       7',
      'NULL       1',
      '(3 rows)',
    ]);
    expect(waits).toEqual([250, 500]);
    expect(err).toEqual([
      expect.stringMatching(
        /^logbase query: Athena scanned 5\.0 KiB \(the guard listed 2 partitions, 6\.0 KiB\) in \d+\.\d s, work group logbase-dev, query q-1$/,
      ),
    ]);
    // Only the matched day's prefix was listed.
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix)).toEqual([
      'lake/click/v1/dt=2026-12-01/',
    ]);
  });

  it('refuses a query without a dt filter before Athena sees it, with the partitions and bytes from S3', async () => {
    // Act
    const { code, err } = await query('WITH c AS (SELECT * FROM click) SELECT count(*) FROM c');

    // Assess
    expect(code).toBe(1);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(0);
    expect(err.slice(0, 3)).toEqual([
      'logbase query: refused: a lake table is read without a filter on dt that prunes partitions:',
      'logbase query:   click_v1 (as click, line 1, column 26): no filter on dt',
      'logbase query:     it would scan all 3 partitions, 3 files, 7.0 KiB: dt=2026-11-30/hour=23, ' +
        `dt=2026-12-01/hour=00, dt=2026-12-01/hour=01 (in s3://${BUCKET}/lake/)`,
    ]);
    // Both pages of the table's prefix were listed (the paginator reuses one input object, so count calls).
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });

  it('says "at least" when the listing of a big table stops at its cap of 25 pages', async () => {
    s3.reset();
    s3.on(ListObjectsV2Command).resolves({
      Contents: [object('lake/click/v1/dt=2026-11-30/hour=23/c.parquet', 1000)],
      IsTruncated: true,
      NextContinuationToken: 'more',
    });

    const { code, err } = await query('SELECT * FROM click');

    expect(code).toBe(1);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(25);
    expect(err[2]).toBe(
      `logbase query:     it would scan at least 1 partition, 25 files, 24.4 KiB: dt=2026-11-30/hour=23 (in s3://${BUCKET}/lake/)`,
    );
  });

  it('prints what a dry run would read and starts no query', async () => {
    const { code, out } = await query("SELECT * FROM click WHERE dt = '2026-12-01' AND hour = '01'", {
      dryRun: true,
    });

    expect(code).toBe(0);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(0);
    expect(out).toEqual([
      'click_v1 (as click, line 1, column 15): 1 partition, 1 file, 2.0 KiB: dt=2026-12-01/hour=01',
      "  filter on partitions: (dt = '2026-12-01') AND (\"hour\" = '01')",
      `total: 1 partition, 2.0 KiB (listed in s3://${BUCKET}/lake/)`,
      'the guard lets this query run',
    ]);
  });

  it("says why Athena failed a query, e.g. the work group's scan cutoff", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: { State: 'CANCELLED', StateChangeReason: 'Bytes scanned limit was exceeded' },
      },
    });

    const { code, err } = await query('SELECT * FROM click', { allowFullScan: true });

    expect(code).toBe(1);
    expect(err).toEqual(['logbase query: Athena query q-2 cancelled: Bytes scanned limit was exceeded']);
  });

  it('prints JSON with numbers typed from Athena column types', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-3' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { StatementType: 'DML', Status: { State: 'SUCCEEDED' } },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        ResultSetMetadata: {
          ColumnInfo: [
            { Name: 'user_id', Type: 'varchar' },
            { Name: 'n', Type: 'bigint' },
            { Name: 'ok', Type: 'boolean' },
          ],
        },
        Rows: [row('user_id', 'n', 'ok'), row('u1', '3', 'true')],
      },
    });

    const { out } = await query(
      "SELECT user_id, count(*) n, true ok FROM click WHERE dt = '2026-12-01' GROUP BY 1",
      {
        format: 'json',
      },
    );

    expect(JSON.parse(out.join('\n'))).toEqual([{ user_id: 'u1', n: 3, ok: true }]);
  });
});
