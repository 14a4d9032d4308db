import type { QueryResult } from '../../lib/aws/athena';

export type { QueryResult };

export type OutputFormat = 'table' | 'csv' | 'json';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'csv', 'json'];

/** A cell as text: null is empty, maps and lists are JSON. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UBIGINT|UINTEGER|DOUBLE|FLOAT|REAL|DECIMAL)|^(tinyint|smallint|integer|bigint|double|float|real|decimal)/;

/** An aligned table (numbers right-aligned, NULL shown as NULL) and a row count, as a terminal user reads it. */
export function renderTable(result: QueryResult): string[] {
  const header = result.columns.map((c) => c.name);
  const cells = result.rows.map((row) => row.map((v) => (v === null || v === undefined ? 'NULL' : text(v))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = result.columns.map((c) => NUMERIC.test(c.type));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const n = result.rows.length;
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map(line),
    `(${n} row${n === 1 ? '' : 's'})`,
  ];
}

/** RFC 4180 CSV with a header line. */
export function renderCsv(result: QueryResult): string[] {
  const field = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  return [
    result.columns.map((c) => field(c.name)).join(','),
    ...result.rows.map((row) => row.map((v) => field(text(v))).join(',')),
  ];
}

/** One JSON array of objects keyed by column name. */
export function renderJson(result: QueryResult): string[] {
  const objects = result.rows.map((row) =>
    Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])),
  );
  return [JSON.stringify(objects, null, 2)];
}

export function render(result: QueryResult, format: OutputFormat): string[] {
  if (format === 'csv') return renderCsv(result);
  if (format === 'json') return renderJson(result);
  return renderTable(result);
}
