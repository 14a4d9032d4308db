import {
  type AthenaClient,
  BatchGetQueryExecutionCommand,
  paginateListQueryExecutions,
} from '@aws-sdk/client-athena';
import {
  DescribeTableCommand,
  type DynamoDBClient,
  paginateListTables,
  paginateScan,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { lakeTables } from '../../catalog/lake';
import { RUNS_PREFIX, type RunRecord } from '../ops/lake';
import { lakeResolver, tablesRead } from '../query/guard';
import { openDuckDb } from '../query/local';
import type { QueryLogEntry } from '../query/query-log';
import { type Catalog, type Dataset, datasetOf, unknownPrefixOf } from './derive';

/** What `logbase datasets` measures: the bucket listed once, the tables described, the reads it can see. */

export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
}

/** One read of a dataset: a query (local log or Athena) or an operations run. */
export interface Read {
  at: string;
  /** `query` (local log), `athena`, or the ops command (`backfill`). */
  via: string;
  who?: string;
  /** The SQL (queries) or the run's arguments. */
  what: string;
}

export interface Measured {
  bytes?: number;
  /** Objects, or items for a table. */
  count?: number;
  oldestPartition?: string;
  newestPartition?: string;
  lastWrite?: string;
  lastRead?: string;
  reads: Read[];
}

export interface UnknownDataset {
  kind: 's3' | 'table';
  /** `scratch/` in the bucket, or a table's name. */
  name: string;
  bytes?: number;
  count?: number;
  lastWrite?: string;
}

/** A stage's bucket listed in full (all pages), calling `progress` after each page. */
export async function listBucket(
  s3: S3Client,
  bucket: string,
  progress: (listed: number) => void = () => {},
): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
    for (const o of page.Contents ?? []) {
      if (o.Key)
        out.push({
          key: o.Key,
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        });
    }
    progress(out.length);
  }
  return out;
}

const PARTITION = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})(?:\/hour=(\d{2}))?\//;

/** `2026-12-01/03` (or the day alone) of a key's `dt=/hour=` folders. */
export function partitionLabel(key: string): string | undefined {
  const m = PARTITION.exec(key);
  if (!m) return undefined;
  return m[2] ? `${m[1]}/${m[2]}` : m[1];
}

/** Sizes, counts, partitions and last writes per dataset, and the objects under no declaration grouped by prefix. */
export function measureObjects(
  catalog: Catalog,
  objects: ListedObject[],
): { measured: Map<string, Measured>; unknown: UnknownDataset[] } {
  const measured = new Map<string, Measured>();
  for (const d of catalog.datasets) {
    if (d.kind === 's3') measured.set(d.name, { bytes: 0, count: 0, reads: [] });
  }
  const families = [
    ...new Set(catalog.datasets.flatMap((d) => (d.prefix ? [`${d.prefix.split('/')[0]}/`] : []))),
  ];
  const unknown = new Map<string, UnknownDataset>();
  for (const o of objects) {
    const d = datasetOf(catalog.datasets, o.key);
    const at = o.lastModified?.toISOString();
    if (d === undefined) {
      const name = unknownPrefixOf(o.key, families);
      const u = unknown.get(name) ?? { kind: 's3', name, bytes: 0, count: 0 };
      u.bytes = (u.bytes ?? 0) + o.size;
      u.count = (u.count ?? 0) + 1;
      if (at && (u.lastWrite === undefined || at > u.lastWrite)) u.lastWrite = at;
      unknown.set(name, u);
      continue;
    }
    const m = measured.get(d.name) as Measured;
    m.bytes = (m.bytes ?? 0) + o.size;
    m.count = (m.count ?? 0) + 1;
    if (at && (m.lastWrite === undefined || at > m.lastWrite)) m.lastWrite = at;
    const p = partitionLabel(o.key.slice(d.prefix?.length ?? 0));
    if (p) {
      if (m.oldestPartition === undefined || p < m.oldestPartition) m.oldestPartition = p;
      if (m.newestPartition === undefined || p > m.newestPartition) m.newestPartition = p;
    }
  }
  return { measured, unknown: [...unknown.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

/**
 * Items and bytes of each declared table, and the tables with the stage's name prefix that no
 * declaration covers. `countItems`: count with a Scan (the local stack, whose tables are small);
 * otherwise DescribeTable's ItemCount and TableSizeBytes (DynamoDB updates them about every six hours).
 */
export async function measureTables(
  dynamodb: DynamoDBClient,
  catalog: Catalog,
  options: { countItems: boolean },
): Promise<{ measured: Map<string, Measured>; unknown: UnknownDataset[] }> {
  const measured = new Map<string, Measured>();
  const declared = new Set<string>();
  for (const d of catalog.datasets) {
    if (d.kind !== 'table' || d.table === undefined) continue;
    declared.add(d.table);
    const m: Measured = { reads: [] };
    try {
      const t = (await dynamodb.send(new DescribeTableCommand({ TableName: d.table }))).Table;
      m.bytes = t?.TableSizeBytes ?? 0;
      m.count = t?.ItemCount ?? 0;
      if (options.countItems) {
        let n = 0;
        for await (const page of paginateScan(
          { client: dynamodb },
          { TableName: d.table, Select: 'COUNT' },
        )) {
          n += page.Count ?? 0;
        }
        m.count = n;
        // dynalite reports no TableSizeBytes: no size rather than a wrong one.
        delete m.bytes;
      }
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
    }
    measured.set(d.name, m);
  }
  const unknown: UnknownDataset[] = [];
  for await (const page of paginateListTables({ client: dynamodb }, {})) {
    for (const name of page.TableNames ?? []) {
      if (name.startsWith(catalog.namePrefix) && !declared.has(name)) unknown.push({ kind: 'table', name });
    }
  }
  return { measured, unknown };
}

/** The dataset names a lake table (`click_v1`) is. */
const lakeDatasets = (catalog: Catalog) => {
  const byTable = new Map<string, Dataset>();
  for (const d of catalog.datasets) if (d.lakeTable) byTable.set(d.lakeTable, d);
  return byTable;
};

/** The queries of the local log that ran, as reads of the lake tables each touched. */
export function readsFromQueryLog(catalog: Catalog, entries: QueryLogEntry[]): Map<string, Read[]> {
  const byTable = lakeDatasets(catalog);
  const reads = new Map<string, Read[]>();
  for (const e of entries) {
    if (e.outcome !== 'ran') continue;
    for (const t of e.tables) {
      const d = byTable.get(t);
      if (d)
        reads.set(d.name, [
          ...(reads.get(d.name) ?? []),
          { at: e.at, via: 'query', who: e.user, what: e.sql },
        ]);
    }
  }
  return reads;
}

/**
 * What each operations command reads, by prefix (its run record says when and with which arguments):
 * a backfill re-formats raw hours, a redrive re-formats quarantined lines, a compaction rewrites lake files.
 */
export const OPS_READS: Record<string, string[]> = {
  backfill: ['raw/events/', 'raw/clicks/'],
  'redrive-format': ['quarantine/format/'],
  'redrive-collect': ['quarantine/collect/'],
  'redrive-articles': ['quarantine/articles/'],
  compact: ['lake/'],
  compaction: ['lake/'],
};

/** The run records under ops/runs/ (their keys from the listing), as reads of the datasets their command reads. */
export async function readsFromRunRecords(
  s3: S3Client,
  catalog: Catalog,
  objects: ListedObject[],
  since: string,
): Promise<Map<string, Read[]>> {
  const reads = new Map<string, Read[]>();
  const keys = objects
    .map((o) => o.key)
    .filter((k) => k.startsWith(RUNS_PREFIX) && k.endsWith('.json'))
    .filter((k) => (partitionLabel(k) ?? '9999') >= since.slice(0, 10));
  for (const key of keys) {
    const out = await s3.send(new GetObjectCommand({ Bucket: catalog.bucket, Key: key }));
    let run: RunRecord;
    try {
      run = JSON.parse((await out.Body?.transformToString('utf8')) ?? '') as RunRecord;
    } catch {
      continue;
    }
    const prefixes = OPS_READS[run.command] ?? [];
    for (const d of catalog.datasets) {
      if (!d.prefix || !prefixes.some((p) => d.prefix?.startsWith(p))) continue;
      if (d.name.startsWith('lake/_')) continue;
      const read: Read = {
        at: run.started_at,
        via: run.command,
        who: run.user,
        what: JSON.stringify(run.arguments),
      };
      reads.set(d.name, [...(reads.get(d.name) ?? []), read]);
    }
  }
  return reads;
}

/** What the Athena history gave: reads per dataset, and how much of the history it covered. */
export interface AthenaReads {
  reads: Map<string, Read[]>;
  executions: number;
  /** Queries DuckDB's parser could not read (DDL, Trino-only syntax): their tables are unknown. */
  unparsed: number;
  /** True when it stopped at `maxExecutions` before reaching `since`. */
  capped: boolean;
}

/**
 * The work group's query history back to `since` (ListQueryExecutions, newest first; BatchGetQueryExecution
 * 50 at a time, the batched GetQueryExecution), each query's lake tables found with the guard's parser.
 */
export async function readsFromAthena(
  athena: AthenaClient,
  catalog: Catalog,
  options: {
    workGroup: string;
    database: string;
    since: string;
    maxExecutions?: number;
    progress?: (n: number) => void;
  },
): Promise<AthenaReads> {
  const max = options.maxExecutions ?? 2000;
  const byTable = lakeDatasets(catalog);
  const resolve = lakeResolver(options.database, lakeTables());
  const reads = new Map<string, Read[]>();
  const { instance, connection } = await openDuckDb();
  let executions = 0;
  let unparsed = 0;
  let capped = false;
  try {
    outer: for await (const page of paginateListQueryExecutions(
      { client: athena },
      { WorkGroup: options.workGroup },
    )) {
      const ids = page.QueryExecutionIds ?? [];
      for (let i = 0; i < ids.length; i += 50) {
        const batch = await athena.send(
          new BatchGetQueryExecutionCommand({ QueryExecutionIds: ids.slice(i, i + 50) }),
        );
        let older = false;
        for (const q of batch.QueryExecutions ?? []) {
          const at = q.Status?.SubmissionDateTime?.toISOString();
          if (at === undefined || at < options.since) {
            older = true;
            continue;
          }
          executions += 1;
          if (q.Status?.State !== 'SUCCEEDED' || q.StatementType !== 'DML' || !q.Query) continue;
          const tables = await tablesRead(connection, q.Query, resolve);
          if (tables === undefined) {
            unparsed += 1;
            continue;
          }
          for (const t of tables) {
            const d = byTable.get(t);
            if (d) reads.set(d.name, [...(reads.get(d.name) ?? []), { at, via: 'athena', what: q.Query }]);
          }
        }
        options.progress?.(executions);
        // Ids come newest first: once a batch reaches past `since`, the rest is older still.
        if (older) break outer;
        if (executions >= max) {
          capped = true;
          break outer;
        }
      }
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { reads, executions, unparsed, capped };
}
