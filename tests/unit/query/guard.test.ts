import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { LakeTable } from '../../../catalog/lake';
import { type GuardVerdict, lakeResolver, QueryGuard, refusalMessage } from '../../../cli/query/guard';
import type { PartitionListing, PartitionSource, PartitionStats } from '../../../cli/query/partitions';

/** The lake the guard sees: a few partitions of click_v1 and impression_v1, 1000 bytes a file. */
const LAKE: Record<string, [string, string, number][]> = {
  click_v1: [
    ['2026-11-30', '23', 1],
    ['2026-12-01', '00', 2],
    ['2026-12-01', '01', 1],
  ],
  impression_v1: [['2026-12-01', '00', 1]],
};

class FakePartitions implements PartitionSource {
  readonly where = 's3://logbase-test-data/lake/';
  readonly listed: { table: string; days?: string[] }[] = [];
  async list(table: LakeTable, days?: string[]): Promise<PartitionListing> {
    this.listed.push({ table: table.name, ...(days ? { days } : {}) });
    const partitions: PartitionStats[] = (LAKE[table.name] ?? [])
      .filter(([dt]) => !days || days.includes(dt))
      .map(([dt, hour, files]) => ({ dt, hour, files, bytes: files * 1000 }));
    return { partitions, complete: true };
  }
}

let db: DuckDBInstance;
let connection: DuckDBConnection;
let partitions: FakePartitions;
let guard: QueryGuard;

beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  connection = await db.connect();
});
afterAll(() => {
  connection.closeSync();
  db.closeSync();
});
beforeEach(() => {
  partitions = new FakePartitions();
  guard = new QueryGuard(
    connection,
    lakeResolver('logbase_test'),
    partitions,
    () => new Date('2026-12-01T12:00:00Z'),
  );
});

/** The tables the guard refuses, with why. */
const refused = (v: GuardVerdict) =>
  v.reads.filter((r) => r.problem).map((r) => [r.read.table.name, r.problem]);
/** Per read: table and the partitions it would read. */
const reads = (v: GuardVerdict) =>
  v.reads.map((r) => [r.read.table.name, r.partitions.map((p) => `${p.dt}/${p.hour}`)]);

describe('The query guard', () => {
  it('refuses a query with no filter on dt, naming the table, its partitions and bytes', async () => {
    // Act
    const verdict = await guard.check('SELECT count(*) FROM click');

    // Assess
    expect(verdict.allowed).toBe(false);
    expect(refused(verdict)).toEqual([['click_v1', 'no filter on dt']]);
    expect(refusalMessage(verdict, partitions.where).slice(0, 3)).toEqual([
      'refused: a lake table is read without a filter on dt that prunes partitions:',
      '  click_v1 (as click, line 1, column 22): no filter on dt',
      '    it would scan all 3 partitions, 4 files, 3.9 KiB: dt=2026-11-30/hour=23, dt=2026-12-01/hour=00, ' +
        'dt=2026-12-01/hour=01 (in s3://logbase-test-data/lake/)',
    ]);
  });

  it('lets a query with dt = a day run, and reads only that day', async () => {
    const verdict = await guard.check("SELECT count(*) FROM click WHERE dt = '2026-12-01'");

    expect(verdict.allowed).toBe(true);
    expect(reads(verdict)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
    expect(verdict.bytes).toBe(3000);
    // Only the matched day's prefix is listed.
    expect(partitions.listed).toEqual([{ table: 'click_v1', days: ['2026-12-01'] }]);
  });

  it('follows an alias to its table', async () => {
    const ok = await guard.check("SELECT c.user_id FROM click AS c WHERE c.dt = '2026-11-30'");
    const bad = await guard.check("SELECT c.user_id FROM click AS c WHERE c.user_id = 'dt'");

    expect(reads(ok)).toEqual([['click_v1', ['2026-11-30/23']]]);
    expect(ok.allowed).toBe(true);
    expect(bad.allowed).toBe(false);
  });

  it('refuses a table hidden behind a CTE, and accepts the filter inside the CTE or on the CTE', async () => {
    const hidden = await guard.check('WITH recent AS (SELECT * FROM click) SELECT count(*) FROM recent');
    const inside = await guard.check(
      "WITH recent AS (SELECT * FROM click WHERE dt = '2026-12-01') SELECT count(*) FROM recent",
    );
    const outside = await guard.check(
      "WITH recent AS (SELECT user_id, dt FROM click) SELECT count(*) FROM recent r WHERE r.dt = '2026-12-01'",
    );

    expect(refused(hidden)).toEqual([['click_v1', 'no filter on dt']]);
    expect(inside.allowed).toBe(true);
    expect(outside.allowed).toBe(true);
    expect(reads(outside)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
  });

  it('does not push a filter through a LIMIT or a window function, where it would change the result', async () => {
    const limited = await guard.check("SELECT * FROM (SELECT * FROM click LIMIT 10) WHERE dt = '2026-12-01'");
    const windowed = await guard.check(
      "SELECT * FROM (SELECT dt, row_number() OVER () AS n FROM click) s WHERE s.dt = '2026-12-01'",
    );

    const distinctOn = await guard.check(
      "SELECT * FROM (SELECT DISTINCT ON (user_id) * FROM click ORDER BY occurred_at) WHERE dt = '2026-12-01'",
    );
    const distinct = await guard.check(
      "SELECT * FROM (SELECT DISTINCT user_id, dt FROM click) WHERE dt = '2026-12-01'",
    );

    expect(refused(limited)).toEqual([['click_v1', 'no filter on dt']]);
    expect(refused(windowed)).toEqual([['click_v1', 'no filter on dt']]);
    expect(refused(distinctOn)).toEqual([['click_v1', 'no filter on dt']]);
    expect(distinct.allowed).toBe(true);
  });

  it('follows a renamed dt out of a subquery, and is not fooled by another column renamed to dt', async () => {
    const renamed = await guard.check("SELECT * FROM (SELECT dt AS day FROM click) WHERE day = '2026-12-01'");
    const fake = await guard.check("SELECT * FROM (SELECT user_id AS dt FROM click) WHERE dt = '2026-12-01'");
    const aliased = await guard.check("SELECT * FROM click AS c(dt) WHERE c.dt = '2026-12-01'");

    const cteAliases = await guard.check(
      "WITH w(day, u) AS (SELECT dt, user_id FROM click) SELECT * FROM w AS z(d) WHERE z.d = '2026-12-01'",
    );

    expect(reads(renamed)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
    expect(reads(cteAliases)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
    expect(refused(fake)).toEqual([['click_v1', 'no filter on dt']]);
    // `AS c(dt)` names the first column (event_id) dt.
    expect(refused(aliased)).toEqual([['click_v1', 'no filter on dt']]);
  });

  it('checks a scalar subquery in the select list and a recursive CTE', async () => {
    const scalar = await guard.check(
      "SELECT (SELECT max(occurred_at) FROM click) AS last, count(*) FROM impression WHERE dt = '2026-12-01'",
    );
    const recursive = await guard.check(
      "WITH RECURSIVE r AS (SELECT user_id FROM click WHERE dt = '2026-12-01' UNION ALL SELECT user_id FROM r) SELECT * FROM r",
    );

    expect(refused(scalar)).toEqual([['click_v1', 'no filter on dt']]);
    expect(reads(recursive)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
  });

  it('reads nothing from the lake when a CTE shadows a lake table name', async () => {
    const verdict = await guard.check('WITH click AS (SELECT 1 AS x) SELECT * FROM click');

    expect(verdict).toMatchObject({ allowed: true, reads: [] });
  });

  it('checks the tables read by a subquery in FROM and in WHERE', async () => {
    const inFrom = await guard.check("SELECT count(*) FROM (SELECT * FROM click) s WHERE dt >= '2026-12-01'");
    const inWhere = await guard.check(
      "SELECT count(*) FROM impression WHERE dt = '2026-12-01' AND article_id IN (SELECT article_id FROM click)",
    );

    expect(inFrom.allowed).toBe(true);
    expect(refused(inWhere)).toEqual([['click_v1', 'no filter on dt']]);
  });

  it('is not fooled by a filter in a comment or dt in a string', async () => {
    const line = await guard.check("SELECT * FROM click -- WHERE dt = '2026-12-01'");
    const block = await guard.check("SELECT * FROM click /* WHERE dt = '2026-12-01' */ WHERE tab = 'top'");
    const text = await guard.check("SELECT * FROM click WHERE tab = 'dt = ''2026-12-01'''");

    for (const v of [line, block, text]) expect(refused(v)).toEqual([['click_v1', 'no filter on dt']]);
  });

  it('refuses an OR that defeats pruning, and accepts an OR of days', async () => {
    const defeats = await guard.check("SELECT * FROM click WHERE dt = '2026-12-01' OR user_id = 'u1'");
    const days = await guard.check("SELECT * FROM click WHERE dt = '2026-11-30' OR dt = '2026-12-01'");

    expect(refused(defeats)).toEqual([['click_v1', 'no filter on dt']]);
    expect(reads(days)).toEqual([['click_v1', ['2026-11-30/23', '2026-12-01/00', '2026-12-01/01']]]);
  });

  it('accepts ranges and IN lists, reading only the partitions they keep', async () => {
    const range = await guard.check("SELECT * FROM click WHERE dt >= '2026-12-01' AND dt < '2026-12-02'");
    const between = await guard.check("SELECT * FROM click WHERE dt BETWEEN '2026-11-01' AND '2026-11-30'");
    const inList = await guard.check("SELECT * FROM click WHERE dt IN ('2026-11-30', '2026-10-01')");
    const hour = await guard.check("SELECT * FROM click WHERE dt = '2026-12-01' AND hour = '01'");

    expect(reads(range)).toEqual([['click_v1', ['2026-12-01/00', '2026-12-01/01']]]);
    expect(reads(between)).toEqual([['click_v1', ['2026-11-30/23']]]);
    expect(reads(inList)).toEqual([['click_v1', ['2026-11-30/23']]]);
    expect(reads(hour)).toEqual([['click_v1', ['2026-12-01/01']]]);
    for (const v of [range, between, inList, hour]) expect(v.allowed).toBe(true);
  });

  it('refuses a dt filter that keeps every day, and an hour filter without one on dt', async () => {
    const everyDay = await guard.check("SELECT * FROM click WHERE dt >= '2000-01-01'");
    const hourOnly = await guard.check("SELECT * FROM click WHERE hour = '01'");

    expect(refused(everyDay)).toEqual([
      [
        'click_v1',
        "its filter on dt (dt >= '2000-01-01') keeps every day partition projection knows (2020-01-01 to 2026-12-02)",
      ],
    ]);
    expect(refused(hourOnly)).toEqual([['click_v1', 'no filter on dt']]);
  });

  it('refuses a join where one of the two tables has no filter on dt', async () => {
    const verdict = await guard.check(
      "SELECT count(*) FROM click c JOIN impression i ON c.user_id = i.user_id WHERE c.dt = '2026-12-01'",
    );

    expect(refused(verdict)).toEqual([['impression_v1', 'no filter on dt']]);
    expect(refusalMessage(verdict, partitions.where)[1]).toBe(
      '  impression_v1 (as i, line 1, column 35): no filter on dt',
    );
  });

  it('accepts a join when both tables are filtered, directly or through a join on dt', async () => {
    const both = await guard.check(
      "SELECT count(*) FROM click c JOIN impression i ON c.user_id = i.user_id WHERE c.dt = '2026-12-01' AND i.dt = '2026-12-01'",
    );
    const onDt = await guard.check(
      "SELECT count(*) FROM click c JOIN impression i ON c.dt = i.dt AND c.user_id = i.user_id WHERE c.dt = '2026-12-01'",
    );
    const using = await guard.check(
      "SELECT count(*) FROM click JOIN impression USING (user_id, dt) WHERE click.dt = '2026-12-01'",
    );

    for (const v of [both, onDt, using]) expect(v.allowed).toBe(true);
    expect(reads(onDt)).toEqual([
      ['click_v1', ['2026-12-01/00', '2026-12-01/01']],
      ['impression_v1', ['2026-12-01/00']],
    ]);
  });

  it('takes a left join ON condition as a filter of its inner side only', async () => {
    const inner = await guard.check(
      "SELECT count(*) FROM click c LEFT JOIN impression i ON i.user_id = c.user_id AND i.dt = '2026-12-01' WHERE c.dt = '2026-12-01'",
    );
    const outer = await guard.check(
      "SELECT count(*) FROM click c LEFT JOIN impression i ON i.user_id = c.user_id AND c.dt = '2026-12-01' AND i.dt = '2026-12-01'",
    );

    expect(inner.allowed).toBe(true);
    expect(refused(outer)).toEqual([['click_v1', 'no filter on dt']]);
  });

  it('follows a filter through UNION ALL into both of its sides', async () => {
    const verdict = await guard.check(
      "SELECT count(*) FROM (SELECT * FROM click_v1 UNION ALL SELECT * FROM click) WHERE dt = '2026-11-30'",
    );

    expect(reads(verdict)).toEqual([
      ['click_v1', ['2026-11-30/23']],
      ['click_v1', ['2026-11-30/23']],
    ]);
  });

  it('resolves the database-qualified name and leaves other databases alone', async () => {
    const ours = await guard.check('SELECT * FROM logbase_test.click');
    const theirs = await guard.check('SELECT * FROM other_db.click');

    expect(refused(ours)).toEqual([['click_v1', 'no filter on dt']]);
    expect(theirs).toMatchObject({ allowed: true, reads: [] });
  });

  it('evaluates a dt filter written with functions, and refuses one it cannot evaluate', async () => {
    const fn = await guard.check("SELECT * FROM click WHERE substr(dt, 1, 7) = '2026-11'");
    const unknown = await guard.check('SELECT * FROM click WHERE dt = no_such_function(current_date)');

    const today = await guard.check('SELECT * FROM click WHERE dt = CAST(current_date AS VARCHAR)');

    expect(reads(fn)).toEqual([['click_v1', ['2026-11-30/23']]]);
    expect(today.allowed).toBe(true);
    expect(unknown.allowed).toBe(false);
    expect(refused(unknown)[0]?.[1]).toMatch(
      /^its filter on dt \(dt = no_such_function\(current_date\)\) could not be evaluated to partitions: Catalog Error: Scalar Function with name no_such_function does not exist/,
    );
  });

  it('refuses what it cannot check: a parse error, two statements, a file read; --allow-full-scan lets them run', async () => {
    const syntax = await guard.check('SELEC * FROM click');
    const two = await guard.check("SELECT 1; SELECT * FROM click WHERE dt = '2026-12-01'");
    const file = await guard.check("SELECT * FROM read_parquet('lake/click/v1/*/*/*.parquet')");
    const allowed = await guard.check('SELECT count(*) FROM click', { allowFullScan: true });

    expect(syntax.problem).toBe(
      'DuckDB\'s parser could not read the query at line 1, column 1: syntax error at or near "SELEC"',
    );
    expect(two.problem).toBe('one statement at a time, please (found 2)');
    expect(file.problem).toMatch(/^the query reads files directly \(read_parquet\)/);
    for (const v of [syntax, two, file]) expect(v.allowed).toBe(false);
    expect(allowed).toMatchObject({ allowed: true, tables: ['click_v1'], partitions: 3, bytes: 4000 });
  });
});
