import type { DuckDBConnection } from '@duckdb/node-api';
import { LAKE_FIRST_DAY, type LakeTable, lakeTables, lakeViews, storedTableName } from '../../catalog/lake';
import { type LakeRead, QueryAnalyzer, type ResolveTable, type Tree } from './analyze';
import type { PartitionSource, PartitionStats } from './partitions';

/**
 * The query guard, the same for DuckDB and Athena: a query that reads a partitioned lake table
 * without a filter on dt that prunes partitions is refused, naming the table and the partitions and
 * bytes it would scan, unless the caller allows a full scan. The decision is taken on DuckDB's parse
 * tree (analyze.ts); each read's dt/hour filter is then evaluated by DuckDB itself against the days
 * partition projection knows (does it leave any out?) and against the partitions that exist (what
 * would be read, and how many bytes).
 */

/** What the guard found about one read of a lake table. */
export interface ReadPlan {
  read: LakeRead;
  /** `click_v1 (as c, line 1, column 15)`. */
  label: string;
  /** The read's filter on its partition keys, as SQL, when it has one. */
  filter?: string;
  /** Why this read is refused; undefined when its filter prunes partitions. */
  problem?: string;
  /** The partitions it would read (every partition of the table when it has no usable filter). */
  partitions: PartitionStats[];
  files: number;
  bytes: number;
  /** False when the listing stopped at its cap: the figures are then "at least". */
  complete: boolean;
}

/** The guard's answer for one query. */
export interface GuardVerdict {
  allowed: boolean;
  /** Set when the SQL itself is not something the guard can judge (a parse error, several statements). */
  problem?: string;
  reads: ReadPlan[];
  /** Lake tables read, by name, once each (for the query log). */
  tables: string[];
  partitions: number;
  bytes: number;
  /** False when a listing stopped at its cap. */
  complete: boolean;
}

export interface GuardOptions {
  /** Run even if a read has no pruning dt filter (`--allow-full-scan`). */
  allowFullScan?: boolean;
}

/** The lake tables and views of one Glue database (or the local schema of the same name). */
export function lakeResolver(database: string, tables: LakeTable[] = lakeTables()): ResolveTable {
  const byName = new Map<string, LakeTable>();
  for (const t of tables) {
    byName.set(t.name, t);
    byName.set(storedTableName(t.name), t);
  }
  for (const v of lakeViews(tables)) byName.set(v.name, v.table);
  const db = database.toLowerCase();
  return ({ catalog, schema, name }) => {
    if (schema !== '' && schema !== db) return undefined;
    if (catalog !== '' && catalog !== 'awsdatacatalog' && catalog !== 'memory') return undefined;
    return byName.get(name);
  };
}

/** `line 2, column 7` of an offset in the SQL text. */
export function position(sql: string, offset: number): string {
  const before = sql.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** 1536 -> `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The one SELECT statement of the SQL as DuckDB's parser sees it, or why it cannot be judged. */
export async function parseSelect(
  db: DuckDBConnection,
  sql: string,
): Promise<{ node: Tree } | { problem: string }> {
  const reader = await db.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
  const tree = JSON.parse(String(reader.getRows()[0]?.[0]));
  if (tree.error) {
    const at = tree.position === undefined ? '' : ` at ${position(sql, Number(tree.position))}`;
    const message = String(tree.error_message);
    return {
      problem: message.startsWith('Only SELECT')
        ? 'only a SELECT statement (WITH, VALUES, DESCRIBE and SHOW included) can be checked by the guard'
        : `DuckDB's parser could not read the query${at}: ${message}`,
    };
  }
  const statements: Tree[] = tree.statements ?? [];
  if (statements.length !== 1)
    return { problem: `one statement at a time, please (found ${statements.length})` };
  return { node: statements[0].node };
}

/** The lake tables a query reads (by Glue name, once each), from the same parse tree the guard judges; undefined when it does not parse. */
export async function tablesRead(
  db: DuckDBConnection,
  sql: string,
  resolve: ResolveTable,
): Promise<string[] | undefined> {
  const parsed = await parseSelect(db, sql);
  if ('problem' in parsed) return undefined;
  return [...new Set(new QueryAnalyzer(resolve).analyze(parsed.node).reads.map((r) => r.table.name))];
}

const isoDay = (date: Date) => date.toISOString().slice(0, 10);

const NOTHING = { reads: [], tables: [], partitions: 0, bytes: 0, complete: true };

export class QueryGuard {
  /**
   * @param db a DuckDB connection: it parses the SQL and evaluates the partition filters (nothing else).
   * @param resolve which table references are lake tables (lakeResolver).
   * @param partitions where the lake's partitions are listed (local folder, or S3).
   * @param now the clock: partition projection's days end at tomorrow (UTC).
   */
  constructor(
    private readonly db: DuckDBConnection,
    private readonly resolve: ResolveTable,
    private readonly partitions: PartitionSource,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async check(sql: string, options: GuardOptions = {}): Promise<GuardVerdict> {
    const parsed = await this.parse(sql);
    if ('problem' in parsed) {
      return {
        allowed: options.allowFullScan === true,
        problem: parsed.problem,
        ...NOTHING,
      };
    }
    const analysis = new QueryAnalyzer(this.resolve).analyze(parsed.node);
    if (analysis.fileFunctions.length > 0) {
      const problem =
        `the query reads files directly (${[...new Set(analysis.fileFunctions)].join(', ')}); ` +
        'logbase query reads the lake through its tables (click, click_v1, ...), which the guard can check';
      return { allowed: false, problem, ...NOTHING };
    }
    const reads: ReadPlan[] = [];
    for (const read of analysis.reads) reads.push(await this.plan(sql, read));
    return {
      allowed: options.allowFullScan === true || reads.every((r) => r.problem === undefined),
      reads,
      tables: [...new Set(reads.map((r) => r.read.table.name))],
      partitions: reads.reduce((n, r) => n + r.partitions.length, 0),
      bytes: reads.reduce((n, r) => n + r.bytes, 0),
      complete: reads.every((r) => r.complete),
    };
  }

  /** The one SELECT statement of the SQL, as DuckDB's parser sees it. */
  private parse(sql: string): Promise<{ node: Tree } | { problem: string }> {
    return parseSelect(this.db, sql);
  }

  private async plan(sql: string, read: LakeRead): Promise<ReadPlan> {
    const table = read.table;
    const as = [
      read.written !== table.name || read.alias ? `as ${read.alias ?? read.written}` : '',
      read.location === undefined ? '' : position(sql, read.location),
    ].filter(Boolean);
    const label = `${table.name}${as.length ? ` (${as.join(', ')})` : ''}`;
    const whole = async (problem: string, filter?: string): Promise<ReadPlan> => {
      const { partitions, complete } = await this.partitions.list(table);
      return {
        read,
        label,
        problem,
        partitions,
        complete,
        ...(filter ? { filter } : {}),
        ...totals(partitions),
      };
    };
    const onDt = read.filters.filter((f) => columnsOf(f).has('dt'));
    if (onDt.length === 0) return whole('no filter on dt');
    const where = await this.whereText(read.filters);
    let keptDays: string[];
    let allDays: number;
    try {
      ({ keptDays, allDays } = await this.projectedDays(where));
    } catch (error) {
      return whole(
        `its filter on dt (${where}) could not be evaluated to partitions: ${(error as Error).message.split('\n')[0]}`,
        where,
      );
    }
    if (keptDays.length === allDays) {
      return whole(
        `its filter on dt (${where}) keeps every day partition projection knows (${LAKE_FIRST_DAY} to ${isoDay(this.tomorrow())})`,
        where,
      );
    }
    const listed =
      keptDays.length === 0
        ? { partitions: [], complete: true }
        : await this.partitions.list(table, keptDays);
    const partitions = await this.matching(where, listed.partitions);
    return { read, label, filter: where, partitions, complete: listed.complete, ...totals(partitions) };
  }

  private tomorrow(): Date {
    const now = this.now();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  }

  /** The filters as one SQL condition over `dt` and `hour`, written back from the tree by DuckDB. */
  private async whereText(filters: Tree[]): Promise<string> {
    const template = JSON.parse(
      String(
        (
          await this.db.runAndReadAll("SELECT json_serialize_sql('SELECT 1 FROM p WHERE true')")
        ).getRows()[0]?.[0],
      ),
    );
    template.statements[0].node.where_clause =
      filters.length === 1
        ? filters[0]
        : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', query_location: 0, children: filters };
    const reader = await this.db.runAndReadAll('SELECT json_deserialize_sql($1::JSON)', [
      JSON.stringify(template),
    ]);
    const text = String(reader.getRows()[0]?.[0]);
    return unwrap(text.slice(text.indexOf(' WHERE ') + ' WHERE '.length));
  }

  /** The days from LAKE_FIRST_DAY to tomorrow (partition projection's range) that the condition keeps. */
  private async projectedDays(where: string): Promise<{ keptDays: string[]; allDays: number }> {
    const last = isoDay(this.tomorrow());
    const candidates =
      `SELECT strftime(d, '%Y-%m-%d') AS dt, lpad(CAST(h AS VARCHAR), 2, '0') AS "hour" ` +
      `FROM range(DATE '${LAKE_FIRST_DAY}', DATE '${last}' + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(d), range(24) AS hours(h)`;
    const reader = await this.db.runAndReadAll(
      `WITH p AS (${candidates}) SELECT DISTINCT dt FROM p WHERE ${where} ORDER BY dt`,
    );
    const allDays =
      Math.round((Date.parse(`${last}T00:00:00Z`) - Date.parse(`${LAKE_FIRST_DAY}T00:00:00Z`)) / 86_400_000) +
      1;
    return { keptDays: reader.getRows().map((r) => String(r[0])), allDays };
  }

  /** The listed partitions the condition keeps (hour filters apply here). */
  private async matching(where: string, listed: PartitionStats[]): Promise<PartitionStats[]> {
    if (listed.length === 0) return [];
    // dt and hour come from keys matched by a strict pattern (digits and dashes): safe to inline.
    const values = listed.map((p, i) => `('${p.dt}', '${p.hour}', ${i})`).join(', ');
    const reader = await this.db.runAndReadAll(
      `WITH p AS (SELECT * FROM (VALUES ${values}) AS v(dt, "hour", i)) SELECT i FROM p WHERE ${where} ORDER BY i`,
    );
    return reader.getRows().map((r) => listed[Number(r[0])] as PartitionStats);
  }
}

/** `(a AND b)` -> `a AND b`, when the outer parentheses enclose the whole text (quotes respected). */
function unwrap(text: string): string {
  if (!text.startsWith('(') || !text.endsWith(')')) return text;
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth += 1;
    else if (!quoted && c === ')') {
      depth -= 1;
      if (depth === 0 && i < text.length - 1) return text;
    }
  }
  return text.slice(1, -1);
}

function columnsOf(filter: Tree): Set<string> {
  const names = new Set<string>();
  const walk = (t: Tree) => {
    if (t === null || typeof t !== 'object') return;
    if (t.class === 'COLUMN_REF') names.add(String(t.column_names.at(-1)).toLowerCase());
    for (const v of Object.values(t)) walk(v);
  };
  walk(filter);
  return names;
}

function totals(partitions: PartitionStats[]): { files: number; bytes: number } {
  return {
    files: partitions.reduce((n, p) => n + p.files, 0),
    bytes: partitions.reduce((n, p) => n + p.bytes, 0),
  };
}

/** `dt=2026-12-01/hour=00, dt=2026-12-01/hour=01, ... and 20 more`. */
export function partitionList(partitions: PartitionStats[], max = 6): string {
  const shown = partitions.slice(0, max).map((p) => `dt=${p.dt}/hour=${p.hour}`);
  if (partitions.length > max) shown.push(`... and ${partitions.length - max} more`);
  return shown.join(', ');
}

/** `3 partitions, 4 files, 12.5 KiB` (the partitions named when few; "at least" when a listing was capped). */
function readSummary(r: ReadPlan, complete = ''): string {
  const n = r.partitions.length;
  const head = `${r.complete ? complete : 'at least '}${partitionFigures(r, n)}`;
  return n === 0 ? head : `${head}: ${partitionList(r.partitions)}`;
}

function partitionFigures(r: ReadPlan, n: number): string {
  return `${n} partition${n === 1 ? '' : 's'}, ${r.files} file${r.files === 1 ? '' : 's'}, ${formatBytes(r.bytes)}`;
}

/** What `logbase query` prints when the guard refuses a query (one line per problem, then what to do). */
export function refusalMessage(verdict: GuardVerdict, where: string): string[] {
  if (verdict.problem) {
    return [
      `refused: ${verdict.problem}`,
      'With --allow-full-scan the query runs without the guard (Athena still cancels one that scans more than its work group allows).',
    ];
  }
  const refused = verdict.reads.filter((r) => r.problem !== undefined);
  const lines = [
    `refused: ${refused.length === 1 ? 'a lake table is' : `${refused.length} lake tables are`} read without a filter on dt that prunes partitions:`,
  ];
  for (const r of refused) {
    lines.push(`  ${r.label}: ${r.problem}`, `    it would scan ${readSummary(r, 'all ')} (in ${where})`);
  }
  lines.push(
    "Filter each lake table on its partition day, e.g. WHERE dt = '2026-12-01' (dt is the event's UTC day as 'YYYY-MM-DD',",
    "hour its UTC hour as 'HH'), next to the table or anywhere it reaches the table (a CTE, a subquery, a join on dt).",
    'Or pass --allow-full-scan to run it anyway.',
  );
  return lines;
}

/** What `--dry-run` prints: per read, the partitions and bytes it would read, then the total and the verdict. */
export function dryRunReport(verdict: GuardVerdict, where: string): string[] {
  if (verdict.problem) return [`not checked: ${verdict.problem}`];
  const lines = verdict.reads.length === 0 ? ['reads no lake table'] : [];
  for (const r of verdict.reads) {
    lines.push(`${r.label}: ${r.problem ? `${r.problem}; ` : ''}${readSummary(r)}`);
    if (r.filter) lines.push(`  filter on partitions: ${r.filter}`);
  }
  const n = verdict.partitions;
  lines.push(
    `total: ${verdict.complete ? '' : 'at least '}${n} partition${n === 1 ? '' : 's'}, ${formatBytes(verdict.bytes)} (listed in ${where})`,
  );
  lines.push(
    verdict.allowed
      ? 'the guard lets this query run'
      : 'the guard refuses this query (see above; --allow-full-scan runs it)',
  );
  return lines;
}
