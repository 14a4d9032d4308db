import { join, resolve } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { type Command, InvalidArgumentError } from 'commander';
import { dynamoDbClient, s3Client } from '../../lib/aws/clients';
import { dataDirLayout } from '../../local/data-dir';
import { loadServiceConfig, type PrintedService } from '../../local/service-config';
import { type Catalog, deriveCatalog } from '../datasets/derive';
import {
  listBucket,
  type Measured,
  measureObjects,
  measureTables,
  type Read,
  readsFromAthena,
  readsFromQueryLog,
  readsFromRunRecords,
} from '../datasets/measure';
import { assemble, type DatasetsReport, renderOne, renderTable } from '../datasets/report';
import { readQueryLog } from '../query/query-log';
import { type Output, stdio } from '../stdio';
import { stageLake } from './query';
import type { RegisterCommand } from './register';

/** The project root: where serverless.yml and `.logbase/` live. */
const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** Where the datasets are read from: the local stack (its emulators and query log) or a stage on AWS. */
export type DatasetsSource =
  | { local: true; s3: S3Client; dynamodb: DynamoDBClient; queryLog: string }
  | {
      local: false;
      s3: S3Client;
      dynamodb: DynamoDBClient;
      athena: AthenaClient;
      workGroup: string;
      database: string;
    };

export interface DatasetsOptions {
  unusedDays: number;
  /** The data bucket when the stage was deployed with `--param="dataBucket=<name>"`. */
  bucket?: string;
  now?: () => Date;
  /** Progress of the long listings, on stderr. */
  progress?: (line: string) => void;
}

/** Lists, describes and reads the history of every dataset of the stage `config` resolves. */
export async function datasetsReport(
  config: PrintedService,
  source: DatasetsSource,
  options: DatasetsOptions,
): Promise<DatasetsReport> {
  const now = options.now?.() ?? new Date();
  const since = new Date(now.getTime() - options.unusedDays * 86_400_000).toISOString();
  const catalog: Catalog = deriveCatalog(config);
  if (options.bucket) catalog.bucket = options.bucket;
  const progress = options.progress ?? (() => {});
  const objects = await listBucket(source.s3, catalog.bucket, (n) =>
    progress(`listed ${n} objects of s3://${catalog.bucket}`),
  );
  const s3 = measureObjects(catalog, objects);
  const tables = await measureTables(source.dynamodb, catalog, { countItems: source.local });
  const reads: Map<string, Read[]>[] = [await readsFromRunRecords(source.s3, catalog, objects, since)];
  const measured: Map<string, Measured>[] = [s3.measured, tables.measured];
  const blindSpots: string[] = [];
  if (source.local) {
    reads.push(readsFromQueryLog(catalog, await readQueryLog(source.queryLog)));
    blindSpots.push(
      `reads other than logbase query (its log, ${source.queryLog}) and the ops run records: functions' reads are not recorded (the detail view lists which functions may read, from their IAM statements), nor direct S3 GETs.`,
      "when a table was last written (DynamoDB keeps no such time), nor a table's size (the emulator reports none); its items are counted with a Scan.",
    );
  } else {
    const athena = await readsFromAthena(source.athena, catalog, {
      workGroup: source.workGroup,
      database: source.database,
      since,
      progress: (n) => progress(`read ${n} queries of work group ${source.workGroup}`),
    });
    reads.push(athena.reads);
    blindSpots.push(
      `reads outside the work group ${source.workGroup}'s history (${athena.executions} queries since ${since.slice(0, 10)}${athena.capped ? ', stopped at the cap' : ''}; ${athena.unparsed} not parsed): functions' reads, direct S3 GETs and other work groups would need CloudTrail S3 data events; the detail view lists which functions may read, from their IAM statements.`,
      "a table's last write and its reads (DynamoDB keeps neither); item counts and sizes are DescribeTable's, updated about every six hours.",
    );
  }
  return assemble(
    catalog,
    { measured, reads, unknown: [...s3.unknown, ...tables.unknown] },
    { now, unusedDays: options.unusedDays, blindSpots },
  );
}

export interface DatasetsCliFlags {
  name?: string;
  json: boolean;
}

/** Prints the report (all, or the dataset `name`); returns the exit code. */
export function printReport(report: DatasetsReport, flags: DatasetsCliFlags, io: Output = stdio): number {
  if (flags.name === undefined) {
    if (flags.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of renderTable(report)) io.out(line);
    return 0;
  }
  const name = flags.name.replace(/\/$/, '');
  const d = report.datasets.find((x) => x.name === name || x.family === name);
  const unknown = report.unknown.find((u) => u.name.replace(/\/$/, '') === name);
  if (d === undefined && unknown === undefined) {
    io.err(
      `logbase datasets: no dataset "${flags.name}"; known: ${report.datasets.map((x) => x.name).join(', ')}`,
    );
    return 1;
  }
  if (flags.json) io.out(JSON.stringify(d ?? unknown, null, 2));
  else if (d) for (const line of renderOne(d, report)) io.out(line);
  else
    io.out(`${unknown?.name}: ${unknown?.flags.join(', ')}: no declaration in catalog/datasets.ts covers it`);
  return 0;
}

interface CommandOptions {
  stage?: string;
  region?: string;
  bucket?: string;
  json: boolean;
  unusedDays: number;
  dataDir?: string;
  serviceDir: string;
}

function positiveInt(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError('must be a whole number of days, e.g. 30');
  return n;
}

async function action(name: string | undefined, o: CommandOptions): Promise<number> {
  const serviceDir = resolve(o.serviceDir);
  const stage = o.stage ?? 'local';
  const config = await loadServiceConfig({ serviceDir, stage, ...(o.region ? { region: o.region } : {}) });
  const progress = process.stderr.isTTY
    ? (line: string) => process.stderr.write(`\r${line}\x1b[K`)
    : (line: string) => process.stderr.write(`${line}\n`);
  let source: DatasetsSource;
  if (stage === 'local') {
    const env = { ...process.env, LOGBASE_LOCAL: 'true' };
    source = {
      local: true,
      s3: s3Client(env),
      dynamodb: dynamoDbClient(env),
      queryLog: dataDirLayout(o.dataDir ? resolve(o.dataDir) : join(serviceDir, '.logbase', 'data')).queryLog,
    };
  } else {
    const lake = stageLake(config, o.region);
    source = {
      local: false,
      s3: new S3Client({ region: lake.region, maxAttempts: 5 }),
      dynamodb: new DynamoDBClient({ region: lake.region, maxAttempts: 5 }),
      athena: new AthenaClient({ region: lake.region, maxAttempts: 5 }),
      workGroup: lake.target.workGroup,
      database: lake.target.database,
    };
  }
  try {
    const report = await datasetsReport(config, source, {
      unusedDays: o.unusedDays,
      progress,
      ...(o.bucket ? { bucket: o.bucket } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    return printReport(report, { ...(name ? { name } : {}), json: o.json });
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code;
    if (stage === 'local' && code === 'ECONNREFUSED') {
      stdio.err('logbase datasets: the local stack is not running: start it (npm start), or pass --stage');
      return 1;
    }
    throw error;
  } finally {
    source.s3.destroy();
    source.dynamodb.destroy();
    if (!source.local) source.athena.destroy();
  }
}

/** Registers `logbase datasets [name]`. */
export const registerDatasets: RegisterCommand = (program: Command) => {
  program
    .command('datasets')
    .description(
      'every dataset of the stage (bucket prefixes and tables): owner, retention, size, last write and read; flags unused, unretained and unknown ones',
    )
    .argument('[name]', 'one dataset in full (schema, writers and readers, recent reads), e.g. lake/click/v1')
    .option('--stage <stage>', 'a deployed stage (default: the running local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option(
      '--bucket <name>',
      'the data bucket, when the stage was deployed with --param="dataBucket=<name>"',
    )
    .option('--unused-days <n>', 'flag datasets nobody read for this many days', positiveInt, 30)
    .option('--json', 'the whole answer as JSON, for scripts', false)
    .option(
      '--data-dir <dir>',
      'the local stack data dir, for its query log (default: <service-dir>/.logbase/data)',
    )
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      [
        '',
        'Datasets are derived from serverless.yml (Firehose prefixes, the functions writing under quarantine/,',
        'marts/ and reports/, the tables) and the schema registry (lake/<type>/v<N>); their owner, description',
        'and retention are declared in catalog/datasets.ts, which also generates the lifecycle rules and TTLs.',
        "Last read: locally from logbase query's log; on a stage from the work group's Athena history; both",
        'from the ops run records. A prefix or table no declaration covers is flagged "unknown dataset".',
      ].join('\n'),
    )
    .action(async (name: string | undefined, options: CommandOptions) => {
      process.exitCode = await action(name, options);
    });
};
