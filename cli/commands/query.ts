import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { type Command, Option } from 'commander';
import { lakeTables, lakeViews } from '../../catalog/lake';
import { AthenaQueryError, type AthenaTarget, runAthenaQuery } from '../../lib/aws/athena';
import { dataDirLayout } from '../../local/data-dir';
import { loadServiceConfig, type PrintedService } from '../../local/service-config';
import {
  dryRunReport,
  formatBytes,
  type GuardVerdict,
  lakeResolver,
  QueryGuard,
  refusalMessage,
} from '../query/guard';
import { LocalLake, openDuckDb } from '../query/local';
import { OUTPUT_FORMATS, type OutputFormat, render } from '../query/output';
import { S3Partitions } from '../query/partitions';
import { appendQueryLog, type QueryLogEntry } from '../query/query-log';
import { type Output, stdio } from '../stdio';
import type { RegisterCommand } from './register';

/** The project root: where serverless.yml and `.logbase/` live. */
const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** What both engines take from the command line. */
export interface QueryFlags {
  format: OutputFormat;
  allowFullScan: boolean;
  dryRun: boolean;
}

export interface LocalQueryOptions extends QueryFlags {
  /** `<data dir>/s3/<bucket>`: the local stack's bucket folder. */
  bucketDir: string;
  /** The local stage's Glue database name (`logbase_local`): the schema of the local views. */
  database: string;
  /** Where every query is logged (`<data dir>/query-log.jsonl`). */
  queryLog: string;
  now?: () => Date;
  user?: string;
}

export interface StageQueryOptions extends QueryFlags {
  athena: AthenaClient;
  s3: S3Client;
  bucket: string;
  target: AthenaTarget;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The guard's answer printed; returns the exit code when the query stops here (refused or dry run). */
function judge(verdict: GuardVerdict, flags: QueryFlags, where: string, io: Output): number | undefined {
  if (flags.dryRun) {
    for (const line of dryRunReport(verdict, where)) io.out(line);
    return verdict.allowed ? 0 : 1;
  }
  if (!verdict.allowed) {
    for (const line of refusalMessage(verdict, where)) io.err(`logbase query: ${line}`);
    return 1;
  }
  return undefined;
}

function readLine(verdict: GuardVerdict): string {
  const n = verdict.partitions;
  return `${n} partition${n === 1 ? '' : 's'}, ${formatBytes(verdict.bytes)}`;
}

/** `logbase query` on the local lake (DuckDB over the local stack's bucket folder); returns the exit code. */
export async function runLocalQuery(
  sql: string,
  options: LocalQueryOptions,
  io: Output = stdio,
): Promise<number> {
  const started = Date.now();
  const entry: QueryLogEntry = {
    at: (options.now?.() ?? new Date()).toISOString(),
    user: options.user ?? userInfo().username,
    sql,
    tables: [],
    partitions: 0,
    bytes: 0,
    outcome: 'failed',
    allowFullScan: options.allowFullScan,
  };
  const lake = await LocalLake.open({
    bucketDir: options.bucketDir,
    database: options.database,
    now: options.now,
  });
  try {
    const verdict = await lake.guard.check(sql, { allowFullScan: options.allowFullScan });
    Object.assign(entry, { tables: verdict.tables, partitions: verdict.partitions, bytes: verdict.bytes });
    const stop = judge(verdict, options, lake.partitions.where, io);
    if (stop !== undefined) {
      entry.outcome = options.dryRun ? 'dry-run' : 'refused';
      return stop;
    }
    let result: Awaited<ReturnType<LocalLake['run']>>;
    try {
      result = await lake.runListed(sql);
    } catch (error) {
      entry.error = (error as Error).message;
      io.err(`logbase query: DuckDB: ${entry.error}`);
      return 1;
    }
    entry.outcome = 'ran';
    entry.rows = result.rows.length;
    for (const line of render(result, options.format)) io.out(line);
    io.err(`logbase query: read ${readLine(verdict)} of the local lake in ${seconds(Date.now() - started)}`);
    return 0;
  } finally {
    entry.durationMs = Date.now() - started;
    lake.close();
    await appendQueryLog(options.queryLog, entry);
  }
}

/** `logbase query --stage <stage>`: the same guard, then Athena in the stage's work group; returns the exit code. */
export async function runStageQuery(
  sql: string,
  options: StageQueryOptions,
  io: Output = stdio,
): Promise<number> {
  const started = Date.now();
  const { instance, connection } = await openDuckDb();
  try {
    const partitions = new S3Partitions(options.s3, options.bucket);
    const guard = new QueryGuard(connection, lakeResolver(options.target.database), partitions, options.now);
    const verdict = await guard.check(sql, { allowFullScan: options.allowFullScan });
    const stop = judge(verdict, options, partitions.where, io);
    if (stop !== undefined) return stop;
    let ran: Awaited<ReturnType<typeof runAthenaQuery>>;
    try {
      ran = await runAthenaQuery(options.athena, sql, options.target, {
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (!(error instanceof AthenaQueryError)) throw error;
      io.err(`logbase query: ${error.message}`);
      return 1;
    }
    const { result, stats } = ran;
    for (const line of render(result, options.format)) io.out(line);
    io.err(
      `logbase query: Athena scanned ${formatBytes(stats.dataScannedBytes)} (the guard listed ${readLine(verdict)}) ` +
        `in ${seconds(Date.now() - started)}, work group ${options.target.workGroup}, query ${stats.queryExecutionId}`,
    );
    return 0;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

interface CommandOptions {
  stage?: string;
  region?: string;
  bucket?: string;
  format: OutputFormat;
  allowFullScan: boolean;
  dryRun: boolean;
  dataDir?: string;
  serviceDir: string;
}

const environment = (config: PrintedService, name: string): string => {
  const value = config.provider.environment?.[name];
  if (typeof value !== 'string' || value === '') {
    throw new Error(
      `serverless.yml gives no provider.environment.${name} for stage ${config.provider.stage}`,
    );
  }
  return value;
};

/** Where the local lake is: the local stage's bucket folder in the data dir, its database name and the query log. */
export function localLake(config: PrintedService, dataDir: string) {
  const layout = dataDirLayout(dataDir);
  return {
    bucketDir: join(layout.s3, environment(config, 'DATA_BUCKET')),
    database: environment(config, 'GLUE_DATABASE'),
    queryLog: layout.queryLog,
  };
}

/** Where a stage's queries run: its region, data bucket, work group and Glue database, as serverless.yml names them. */
export function stageLake(config: PrintedService, region?: string) {
  const workGroup = (config.custom?.names as Record<string, unknown> | undefined)?.athenaWorkGroup;
  if (typeof workGroup !== 'string') throw new Error('serverless.yml gives no custom.names.athenaWorkGroup');
  return {
    region: region ?? String(config.provider.region),
    bucket: environment(config, 'DATA_BUCKET'),
    target: { workGroup, database: environment(config, 'GLUE_DATABASE') },
  };
}

async function action(sql: string, options: CommandOptions): Promise<number> {
  const serviceDir = resolve(options.serviceDir);
  const flags: QueryFlags = {
    format: options.format,
    allowFullScan: options.allowFullScan,
    dryRun: options.dryRun,
  };
  if (options.stage === undefined || options.stage === 'local') {
    const config = await loadServiceConfig({ serviceDir, stage: 'local' });
    const lake = localLake(
      config,
      options.dataDir ? resolve(options.dataDir) : join(serviceDir, '.logbase', 'data'),
    );
    if (!existsSync(lake.bucketDir)) {
      stdio.err(
        `logbase query: no local lake at ${lake.bucketDir}: start the local stack (npm start) and send events, or pass --data-dir`,
      );
      return 1;
    }
    return runLocalQuery(sql, { ...flags, ...lake });
  }
  const config = await loadServiceConfig({
    serviceDir,
    stage: options.stage,
    ...(options.region ? { region: options.region } : {}),
  });
  const { region, bucket, target } = stageLake(config, options.region);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    return await runStageQuery(sql, {
      ...flags,
      athena: new AthenaClient({ region, maxAttempts: 5 }),
      s3: new S3Client({ region, maxAttempts: 5 }),
      bucket: options.bucket ?? bucket,
      target,
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** Registers `logbase query "<SQL>"`. */
export const registerQuery: RegisterCommand = (program: Command) => {
  program
    .command('query')
    .description(
      'run SQL on the lake: DuckDB over the local stack, or Athena with --stage; full scans are refused',
    )
    .argument(
      '<sql>',
      'one SELECT statement, e.g. "SELECT tab, count(*) FROM click WHERE dt = \'2026-12-01\' GROUP BY tab"',
    )
    .option('--stage <stage>', 'run on Athena in the work group logbase-<stage> (default: the local lake)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option(
      '--bucket <name>',
      'the stage\'s data bucket, when it was deployed with --param="dataBucket=<name>" (the guard lists its lake/ prefix)',
    )
    .addOption(
      new Option('--format <format>', 'how results are printed').choices(OUTPUT_FORMATS).default('table'),
    )
    .option(
      '--allow-full-scan',
      'run even when a lake table is read without a filter on dt that prunes partitions',
      false,
    )
    .option('--dry-run', 'print the partitions and bytes the query would read, and run nothing', false)
    .option('--data-dir <dir>', 'the local stack data dir (default: <service-dir>/.logbase/data)')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        `Tables: ${lakeTables()
          .map((t) => t.name)
          .join(', ')} (one per event type and schema version),`,
        `and one view per type at its latest version: ${lakeViews()
          .map((v) => v.name)
          .join(', ')}.`,
        "Partition keys: dt ('YYYY-MM-DD', UTC) and hour ('HH').",
        'A query reading a table with no filter on dt that prunes partitions is refused (even behind a CTE,',
        'a subquery or an alias); --dry-run shows what it would read. Local queries are logged to',
        '<data-dir>/query-log.jsonl.',
      ].join('\n'),
    )
    .action(async (sql: string, options: CommandOptions) => {
      process.exitCode = await action(sql, options);
    });
};
