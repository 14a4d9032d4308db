import {
  HIVE_TYPES,
  LAKE_FIRST_DAY,
  type LakeTable,
  type LakeView,
  lakeTables,
  lakeViews,
  PRESTO_TYPES,
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
/** The logical id of a view's resource: `GlueViewClick`. */
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
        Name: table.name,
        Description: `${table.type} events, schema version ${table.version} (from the schema registry)`,
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
  const definition = {
    originalSql: `SELECT * FROM "${database}"."${view.table.name}"`,
    catalog: 'awsdatacatalog',
    schema: database,
    columns: [
      ...view.table.columns.map((c) => ({ name: c.name, type: PRESTO_TYPES[c.type] })),
      { name: 'dt', type: 'varchar' },
      { name: 'hour', type: 'varchar' },
    ],
  };
  return `/* Presto View: ${Buffer.from(JSON.stringify(definition)).toString('base64')} */`;
}

function viewResource(view: LakeView, database: string): Resource {
  return {
    Type: 'AWS::Glue::Table',
    DependsOn: [tableLogicalId(view.table)],
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
  for (const view of lakeViews(tables)) resources[viewLogicalId(view)] = viewResource(view, database);
  return resources;
}
