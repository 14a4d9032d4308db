import { setTimeout as delay } from 'node:timers/promises';
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';

/**
 * The one Athena runner, shared by `logbase query --stage` (cli/commands/query.ts) and the batch
 * chain's ArticleStats with engine `athena` (lib/batch/tasks.ts). There is no Athena emulator: unit
 * tests mock the client (aws-sdk-client-mock).
 */

/** A query's result, the same shape from DuckDB and from Athena. */
export interface QueryResult {
  columns: { name: string; type: string }[];
  /** JSON-ready values: strings, numbers, booleans, null, objects for maps and lists. */
  rows: unknown[][];
}

/** Where a query runs on AWS: the stage's work group (its enforced settings apply) and Glue database. */
export interface AthenaTarget {
  workGroup: string;
  database: string;
}

/** What Athena says about a finished query. */
export interface AthenaStats {
  queryExecutionId: string;
  dataScannedBytes: number;
  engineMs: number;
}

/** Raised when Athena fails or cancels a query (the work group's scan cutoff included), with Athena's reason. */
export class AthenaQueryError extends Error {
  override name = 'AthenaQueryError';
  constructor(
    message: string,
    readonly queryExecutionId: string,
  ) {
    super(message);
  }
}

export interface AthenaRunOptions {
  /** Waits between GetQueryExecution polls: from `firstPollMs`, doubling to `maxPollMs`. */
  firstPollMs?: number;
  maxPollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Aborting stops the query on Athena (StopQueryExecution) and rejects. */
  signal?: AbortSignal;
}

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'integer', 'bigint', 'double', 'float', 'real']);

/** Athena gives every value as text; numbers and booleans are typed back from the column's type. */
function typed(value: string | undefined, type: string): unknown {
  if (value === undefined) return null;
  if (NUMBER_TYPES.has(type)) {
    const n = Number(value);
    return Number.isFinite(n) && (type !== 'bigint' || Number.isSafeInteger(n)) ? n : value;
  }
  if (type === 'boolean') return value === 'true';
  return value;
}

/**
 * Runs one query on Athena: StartQueryExecution in the work group, GetQueryExecution until it ends,
 * then every page of GetQueryResults. The SDK client's own retries cover throttling of each call.
 */
export async function runAthenaQuery(
  athena: AthenaClient,
  sql: string,
  target: AthenaTarget,
  options: AthenaRunOptions = {},
): Promise<{ result: QueryResult; stats: AthenaStats }> {
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const started = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: target.workGroup,
      QueryExecutionContext: { Catalog: 'AwsDataCatalog', Database: target.database },
    }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new AthenaQueryError('Athena started no query (no QueryExecutionId)', '');

  let execution: QueryExecution | undefined;
  let wait = options.firstPollMs ?? 250;
  for (;;) {
    if (options.signal?.aborted) {
      await athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      throw new AthenaQueryError(`query ${id} stopped`, id);
    }
    execution = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution;
    const state = execution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      const reason =
        execution?.Status?.StateChangeReason ??
        execution?.Status?.AthenaError?.ErrorMessage ??
        'no reason given';
      throw new AthenaQueryError(`Athena query ${id} ${state.toLowerCase()}: ${reason}`, id);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, options.maxPollMs ?? 2_000);
  }

  const result: QueryResult = { columns: [], rows: [] };
  let token: string | undefined;
  let first = true;
  do {
    const page = await athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, NextToken: token }),
    );
    if (first) {
      result.columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({
        name: c.Name ?? '',
        type: c.Type ?? 'varchar',
      }));
    }
    const rows = page.ResultSet?.Rows ?? [];
    // The first row of a SELECT's first page repeats the column names.
    for (const [index, row] of rows.entries()) {
      if (first && index === 0 && execution?.StatementType === 'DML') continue;
      result.rows.push(
        (row.Data ?? []).map((d, i) => typed(d.VarCharValue, result.columns[i]?.type ?? 'varchar')),
      );
    }
    first = false;
    token = page.NextToken;
  } while (token);

  return {
    result,
    stats: {
      queryExecutionId: id,
      dataScannedBytes: execution?.Statistics?.DataScannedInBytes ?? 0,
      engineMs: execution?.Statistics?.EngineExecutionTimeInMillis ?? 0,
    },
  };
}
