import { MAINTENANCE_FUNCTIONS } from '../../catalog/datasets';
import { formatBytes } from '../query/guard';
import type { Catalog, Dataset } from './derive';
import type { Measured, Read, UnknownDataset } from './measure';

/** `logbase datasets`' answer: every dataset with its declared and measured facts, its flags, and what it cannot see. */

export interface DatasetReport extends Dataset {
  measured: Measured;
  flags: string[];
}

export interface DatasetsReport {
  stage: string;
  bucket: string;
  at: string;
  unusedDays: number;
  datasets: DatasetReport[];
  unknown: (UnknownDataset & { flags: string[] })[];
  /** What the figures do not cover, in words. */
  blindSpots: string[];
}

export const UNKNOWN_FLAG = 'unknown dataset';
export const NO_RETENTION_FLAG = 'grows without a retention';
export const notReadFlag = (days: number) => `not read for ${days} days`;

/** How many reads of each dataset the answer keeps (newest first). */
const RECENT_READS = 10;

/** The report: measured facts merged per dataset, reads from every source, the flags. */
export function assemble(
  catalog: Catalog,
  parts: { measured: Map<string, Measured>[]; reads: Map<string, Read[]>[]; unknown: UnknownDataset[] },
  options: { now: Date; unusedDays: number; blindSpots: string[] },
): DatasetsReport {
  const since = new Date(options.now.getTime() - options.unusedDays * 86_400_000).toISOString();
  const datasets = catalog.datasets.map((d): DatasetReport => {
    const measured: Measured = { reads: [] };
    for (const m of parts.measured) Object.assign(measured, m.get(d.name) ?? {});
    const reads = parts.reads.flatMap((r) => r.get(d.name) ?? []).sort((a, b) => b.at.localeCompare(a.at));
    measured.reads = reads.slice(0, RECENT_READS);
    if (reads[0]) measured.lastRead = reads[0].at;
    const holdsData = (measured.count ?? 0) > 0;
    const flags: string[] = [];
    const readRecently = measured.lastRead !== undefined && measured.lastRead >= since;
    const users = d.readers.filter((f) => !MAINTENANCE_FUNCTIONS.includes(f));
    if (holdsData && !readRecently && users.length === 0) flags.push(notReadFlag(options.unusedDays));
    if (holdsData && d.retention === undefined) flags.push(NO_RETENTION_FLAG);
    return { ...d, measured, flags };
  });
  return {
    stage: catalog.stage,
    bucket: catalog.bucket,
    at: options.now.toISOString(),
    unusedDays: options.unusedDays,
    datasets,
    unknown: parts.unknown.map((u) => ({ ...u, flags: [UNKNOWN_FLAG] })),
    blindSpots: options.blindSpots,
  };
}

const minute = (iso: string | undefined) => (iso ? `${iso.slice(0, 16).replace('T', ' ')}Z` : '-');

/** The retention in a table cell: `400 days`, `kept`, `TTL`, or `none`. */
function retentionCell(d: DatasetReport): string {
  if (d.retention === undefined) return 'none';
  const m = /expires after (\d+ days?)/.exec(d.retention);
  if (m) return m[1] as string;
  if (d.retention.includes('TTL')) return 'TTL';
  return 'kept';
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

const partitions = (m: Measured) =>
  m.oldestPartition === undefined
    ? '-'
    : m.oldestPartition === m.newestPartition
      ? m.oldestPartition
      : `${m.oldestPartition}..${m.newestPartition}`;

/** Every dataset, one line each, then the unknown ones and the blind spots. */
export function renderTable(report: DatasetsReport): string[] {
  const rows = [
    [
      'DATASET',
      'OWNER',
      'SIZE',
      'OBJECTS/ITEMS',
      'PARTITIONS',
      'LAST WRITE',
      'LAST READ',
      'RETENTION',
      'FLAGS',
    ],
  ];
  for (const d of report.datasets) {
    const m = d.measured;
    rows.push([
      d.name,
      d.owner.split(' ')[0] as string,
      m.bytes === undefined ? '-' : formatBytes(m.bytes),
      m.count === undefined ? '-' : `${m.count}${d.kind === 'table' ? ' items' : ''}`,
      partitions(m),
      minute(m.lastWrite),
      m.lastRead
        ? minute(m.lastRead)
        : d.readers.some((f) => !MAINTENANCE_FUNCTIONS.includes(f))
          ? 'by functions'
          : '-',
      retentionCell(d),
      d.flags.join(', '),
    ]);
  }
  for (const u of report.unknown) {
    rows.push([
      u.name,
      '-',
      u.bytes === undefined ? '-' : formatBytes(u.bytes),
      u.count === undefined ? '-' : String(u.count),
      '-',
      minute(u.lastWrite),
      '-',
      'none',
      u.flags.join(', '),
    ]);
  }
  const flagged = report.datasets.filter((d) => d.flags.length > 0).length + report.unknown.length;
  return [
    `Datasets of stage ${report.stage} (bucket ${report.bucket}), ${report.at.slice(0, 16)}Z:`,
    ...table(rows),
    '',
    `${report.datasets.length} declared, ${report.unknown.length} unknown, ${flagged} flagged` +
      ` (not read for ${report.unusedDays} days = no read seen and no function may read it).`,
    ...report.blindSpots.map((s) => `Cannot see: ${s}`),
  ];
}

/** One dataset in full: declared facts, schema, measured facts, recent reads. */
export function renderOne(d: DatasetReport, report: DatasetsReport): string[] {
  const m = d.measured;
  const lines = [
    `${d.name} (${d.kind === 'table' ? `DynamoDB table` : `s3://${report.bucket}/${d.prefix}`})`,
    `  description:  ${d.description}`,
    `  owner:        ${d.owner}`,
    `  retention:    ${d.retention ?? 'none declared'}`,
    `  size:         ${m.bytes === undefined ? '-' : formatBytes(m.bytes)}`,
    `  ${d.kind === 'table' ? 'items:  ' : 'objects:'}      ${m.count ?? '-'}`,
    `  partitions:   ${partitions(m)}`,
    `  last write:   ${minute(m.lastWrite)}`,
    `  last read:    ${minute(m.lastRead)}`,
    `  written by:   ${d.writers.join(', ') || '-'} (functions, per their IAM statements)`,
    `  read by:      ${d.readers.join(', ') || '-'} (functions, per their IAM statements)`,
    `  flags:        ${d.flags.join(', ') || '-'}`,
  ];
  if (d.schema) {
    lines.push(`  schema:       ${d.schema.format}; ${d.schema.types.join(', ')}`);
    for (const c of d.schema.columns ?? []) {
      lines.push(`    ${c.name.padEnd(16)} ${c.type.padEnd(18)} ${c.required ? 'required' : 'optional'}`);
    }
  }
  lines.push(`  recent reads: ${m.reads.length === 0 ? 'none seen' : ''}`);
  for (const r of m.reads) {
    lines.push(
      `    ${minute(r.at)}  ${r.via}${r.who ? ` by ${r.who}` : ''}: ${r.what.replace(/\s+/g, ' ').slice(0, 120)}`,
    );
  }
  return lines;
}
