import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

/**
 * Parquet read back with hyparquet, a reader independent of DuckDB (the writer): rows as objects,
 * plus each column's physical and logical type and the file's compression codecs.
 */
export async function readParquet(bytes: Uint8Array): Promise<{
  rows: Record<string, unknown>[];
  columns: Record<string, { type?: string; logical?: unknown; converted?: string }>;
  codecs: string[];
}> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file, compressors, metadata, utf8: true })) as Record<
    string,
    unknown
  >[];
  const columns: Record<string, { type?: string; logical?: unknown; converted?: string }> = {};
  for (const child of parquetSchema(metadata).children) {
    const e = child.element;
    columns[e.name] = { type: e.type, logical: e.logical_type, converted: e.converted_type };
  }
  const codecs = [
    ...new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => String(c.meta_data?.codec)))),
  ];
  return { rows, columns, codecs };
}
