import { athenaDedup, rowNumberSql } from '../lib/domain/compact/dedup';
import {
  HIVE_TYPES,
  LAKE_FIRST_DAY,
  type LakeTable,
  type LakeView,
  lakeTables,
  lakeViews,
  PRESTO_TYPES,
  storedTableName,
} from './lake';

/**
 * The Glue catalog of the lake as CloudFormation resources, generated from the registry when
 * serverless.yml is resolved (catalog/serverless.cjs): an external Parquet table per (type,
 * version) with partition projection on dt and hour (no crawler, no MSCK REPAIR), and an Athena
 * view per type over its latest version.
 */

type Resource = { Type: string; DependsOn?: string[]; Properties: Record<string, unknown> };

/** The database resource of serverless.yml; its Ref is the database name. */
const DATABASE = { Ref: 'GlueDatabase' };

/** Where the tables live: the data bucket is referenced, not named, so `--param=dataBucket=...` is honoured. */
const location = (table: LakeTable, suffix = '') => ({
  'Fn::Sub': `s3://\${DataBucket}/${table.prefix}${suffix}`,
});

const pascal = (name: string) =>
  name
    .split(/[_-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** The logical id of a table's resource: `GlueTableClickV1`. */
export const tableLogicalId = (table: LakeTable) => `GlueTable${pascal(table.type)}V${table.version}`;
/** The logical id of a view's resource: `GlueViewClick` (a type's latest version, over its deduplicated view). */
export const viewLogicalId = (view: LakeView) => `GlueView${pascal(view.name)}`;

const PARTITION_COLUMNS = [
  { Name: 'dt', Type: 'string', Comment: 'event day, UTC, YYYY-MM-DD (partition)' },
  { Name: 'hour', Type: 'string', Comment: 'event hour, UTC, 00-23 (partition)' },
];

function glueColumns(table: LakeTable) {
  return table.columns.map((c) => ({
    Name: c.name,
    Type: HIVE_TYPES[c.type],
    ...(c.description === undefined ? {} : { Comment: c.description.slice(0, 255) }),
  }));
}

function tableResource(table: LakeTable): Resource {
  return {
    Type: 'AWS::Glue::Table',
    Properties: {
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseName: DATABASE,
      TableInput: {
        Name: storedTableName(table.name),
        Description: `${table.type} events, schema version ${table.version}, every stored row (the view ${table.name} reads each event once)`,
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: PARTITION_COLUMNS,
        Parameters: {
          classification: 'parquet',
          EXTERNAL: 'TRUE',
          'parquet.compression': 'ZSTD',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': `${LAKE_FIRST_DAY},NOW+1DAYS`,
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: ${!dt} is Fn::Sub's escape for a literal ${dt}, which Athena fills in per partition.
          'storage.location.template': location(table, 'dt=${!dt}/hour=${!hour}/'),
        },
        StorageDescriptor: {
          Columns: glueColumns(table),
          Location: location(table),
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          Compressed: true,
          SerdeInfo: {
            SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            Parameters: { 'serialization.format': '1' },
          },
        },
      },
    },
  };
}

/** The text Athena (Trino) keeps for a view in Glue: its SQL and typed columns, base64 JSON in a comment. */
export function prestoViewText(view: LakeView, database: string): string {
  return prestoText(`SELECT * FROM "${database}"."${view.table.name}"`, view.table, database);
}

/**
 * The SQL of a table's deduplicated view (`click_v1` over `click_v1_stored`): each event once, by the
 * lake's dedup rule (lib/domain/compact/dedup.ts) with the file's path as `"$path"`. The rule
 * partitions by dt and hour, so Athena pushes a filter on them below it and partition projection
 * still prunes.
 */
export function dedupViewSql(table: LakeTable, database: string): string {
  const names = [...table.columns.map((c) => `"${c.name}"`), '"dt"', '"hour"'].join(', ');
  const rule = rowNumberSql(athenaDedup());
  return (
    `SELECT ${names} FROM (SELECT t.*, ${rule} AS lb_copy ` +
    `FROM "${database}"."${storedTableName(table.name)}" t) WHERE lb_copy = 1`
  );
}

function prestoText(originalSql: string, table: LakeTable, database: string): string {
  const definition = {
    originalSql,
    catalog: 'awsdatacatalog',
    schema: database,
    columns: [
      ...table.columns.map((c) => ({ name: c.name, type: PRESTO_TYPES[c.type] })),
      { name: 'dt', type: 'varchar' },
      { name: 'hour', type: 'varchar' },
    ],
  };
  return `/* Presto View: ${Buffer.from(JSON.stringify(definition)).toString('base64')} */`;
}

/** The logical id of a table's deduplicated view: `GlueViewClickV1`. */
export const dedupViewLogicalId = (table: LakeTable) => `GlueView${pascal(table.type)}V${table.version}`;

function dedupViewResource(table: LakeTable, database: string): Resource {
  return {
    Type: 'AWS::Glue::Table',
    DependsOn: [tableLogicalId(table)],
    Properties: {
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseName: DATABASE,
      TableInput: {
        Name: table.name,
        Description: `${table.type} events, schema version ${table.version}, each event once (over ${storedTableName(table.name)})`,
        TableType: 'VIRTUAL_VIEW',
        Parameters: { presto_view: 'true', comment: 'Presto View' },
        ViewOriginalText: prestoText(dedupViewSql(table, database), table, database),
        ViewExpandedText: '/* Presto View */',
        StorageDescriptor: {
          Columns: [...glueColumns(table), ...PARTITION_COLUMNS],
          SerdeInfo: {},
        },
      },
    },
  };
}

function viewResource(view: LakeView, database: string): Resource {
  return {
    Type: 'AWS::Glue::Table',
    DependsOn: [dedupViewLogicalId(view.table)],
    Properties: {
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseName: DATABASE,
      TableInput: {
        Name: view.name,
        Description: `${view.name} events at the latest schema version (${view.table.name})`,
        TableType: 'VIRTUAL_VIEW',
        Parameters: { presto_view: 'true', comment: 'Presto View' },
        ViewOriginalText: prestoViewText(view, database),
        ViewExpandedText: '/* Presto View */',
        StorageDescriptor: {
          Columns: [...glueColumns(view.table), ...PARTITION_COLUMNS],
          SerdeInfo: {},
        },
      },
    },
  };
}

/**
 * Every Glue table and view of the lake, keyed by logical id, for `resources` in serverless.yml. The
 * database name is needed as text only inside the views' SQL.
 */
export function glueResources(
  database: string,
  tables: LakeTable[] = lakeTables(),
): Record<string, Resource> {
  const resources: Record<string, Resource> = {};
  for (const table of tables) resources[tableLogicalId(table)] = tableResource(table);
  for (const table of tables) resources[dedupViewLogicalId(table)] = dedupViewResource(table, database);
  for (const view of lakeViews(tables)) resources[viewLogicalId(view)] = viewResource(view, database);
  return resources;
}
