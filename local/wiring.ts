import { WiringError } from './errors';
import type { PrintedFunction, PrintedResource, PrintedService } from './service-config';
import { deriveStateMachines, type StateMachineSpec } from './state-machines';

/**
 * What the local stack builds and connects, derived from the resolved serverless.yml (never written twice).
 * Pure: no AWS calls, so the derivation is unit-testable on a printed config.
 */
export interface Wiring {
  service: string;
  stage: string;
  region: string;
  accountId: string;
  buckets: BucketSpec[];
  streams: StreamSpec[];
  tables: TableSpec[];
  deliveryStreams: DeliveryStreamSpec[];
  functions: FunctionSpec[];
  s3Subscriptions: S3Subscription[];
  streamSubscriptions: StreamSubscription[];
  /** `stepFunctions.stateMachines` (serverless-step-functions), Task states resolved to the functions. */
  stateMachines: StateMachineSpec[];
  /** Things in serverless.yml the local stack ignores, said once at start-up. */
  warnings: string[];
}

export interface BucketSpec {
  /** Logical id in resources, or `function:<key>` for a bucket only named by an `s3` event. */
  source: string;
  name: string;
}

export interface StreamSpec {
  logicalId: string;
  name: string;
  arn: string;
  shardCount: number;
}

/** A DynamoDB table as CreateTable input (only the fields dynalite understands). */
export interface TableSpec {
  logicalId: string;
  name: string;
  createTable: {
    TableName: string;
    KeySchema: unknown[];
    AttributeDefinitions: unknown[];
    BillingMode?: string;
    ProvisionedThroughput?: unknown;
    GlobalSecondaryIndexes?: unknown[];
    LocalSecondaryIndexes?: unknown[];
  };
}

export type CompressionFormat = 'UNCOMPRESSED' | 'GZIP';

export interface DeliveryStreamSpec {
  logicalId: string;
  name: string;
  arn: string;
  type: 'DirectPut' | 'KinesisStreamAsSource';
  /** Kinesis stream name, for KinesisStreamAsSource. */
  sourceStream?: string;
  bucket: string;
  bucketArn: string;
  prefix: string;
  errorOutputPrefix: string;
  /** Flush when the buffer holds this many MiB (before compression) ... */
  sizeInMBs: number;
  /** ... or this many seconds after the first buffered record, whichever comes first. */
  intervalInSeconds: number;
  compression: CompressionFormat;
}

export interface FunctionSpec {
  /** The key under `functions:` (e.g. `collect`). */
  key: string;
  /** The deployed name, `<service>-<stage>-<key>` unless overridden. */
  name: string;
  environment: Record<string, string>;
}

export interface S3Subscription {
  functionKey: string;
  functionName: string;
  bucket: string;
  /** e.g. `s3:ObjectCreated:*`. */
  event: string;
  prefix?: string;
  suffix?: string;
}

export interface StreamSubscription {
  functionKey: string;
  functionName: string;
  streamName: string;
  streamArn: string;
  batchSize: number;
  startingPosition: 'LATEST' | 'TRIM_HORIZON';
  reportBatchItemFailures: boolean;
  /** -1: retry until the records expire (as on AWS). */
  maximumRetryAttempts: number;
}

/** The account id kinesalite and dynalite report; local ARNs use it too. */
export const LOCAL_ACCOUNT_ID = '000000000000';

const DEFAULT_KINESIS_BATCH_SIZE = 100;
const DEFAULT_BUFFER_MB = 5;
const DEFAULT_BUFFER_SECONDS = 300;

type Json = unknown;

/** Derives the local wiring from `sls print` output; throws a WiringError naming the offending path. */
export function deriveWiring(config: PrintedService): Wiring {
  const stage = str(config.provider.stage, 'provider.stage');
  const region = str(config.provider.region ?? 'us-east-1', 'provider.region');
  const ctx: Context = {
    resources: config.resources?.Resources ?? {},
    region,
    accountId: LOCAL_ACCOUNT_ID,
    stage,
  };
  const wiring: Wiring = {
    service: config.service,
    stage,
    region,
    accountId: LOCAL_ACCOUNT_ID,
    buckets: [],
    streams: [],
    tables: [],
    deliveryStreams: [],
    functions: [],
    s3Subscriptions: [],
    streamSubscriptions: [],
    stateMachines: [],
    warnings: [],
  };

  for (const [logicalId, resource] of Object.entries(ctx.resources)) {
    const at = `resources.Resources.${logicalId}.Properties`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        wiring.buckets.push({ source: logicalId, name: physicalName(ctx, logicalId) });
        break;
      case 'AWS::Kinesis::Stream':
        wiring.streams.push(streamSpec(ctx, logicalId, resource, at, wiring.warnings));
        break;
      case 'AWS::DynamoDB::Table':
        wiring.tables.push(tableSpec(ctx, logicalId, resource, at));
        break;
      case 'AWS::KinesisFirehose::DeliveryStream':
        wiring.deliveryStreams.push(deliveryStreamSpec(ctx, logicalId, resource, at));
        break;
    }
  }

  const globalEnv = config.provider.environment ?? {};
  for (const [key, fn] of Object.entries(config.functions ?? {})) {
    const name = fn.name ?? `${config.service}-${stage}-${key}`;
    wiring.functions.push({ key, name, environment: stringMap({ ...globalEnv, ...(fn.environment ?? {}) }) });
    deriveEvents(ctx, wiring, key, name, fn);
  }

  wiring.stateMachines = deriveStateMachines(
    config,
    {
      region,
      accountId: LOCAL_ACCOUNT_ID,
      functions: wiring.functions,
      resolveOther: (v, at) => resolve(ctx, v, at),
    },
    wiring.warnings,
  );

  for (const sub of wiring.s3Subscriptions) {
    if (!wiring.buckets.some((b) => b.name === sub.bucket)) {
      wiring.buckets.push({ source: `function:${sub.functionKey}`, name: sub.bucket });
    }
  }
  for (const ds of wiring.deliveryStreams) {
    if (!wiring.buckets.some((b) => b.name === ds.bucket)) {
      throw new WiringError(
        `delivery stream ${ds.name} writes to bucket ${ds.bucket}, which serverless.yml does not define`,
      );
    }
    if (ds.sourceStream && !wiring.streams.some((s) => s.name === ds.sourceStream)) {
      throw new WiringError(
        `delivery stream ${ds.name} reads stream ${ds.sourceStream}, which serverless.yml does not define`,
      );
    }
  }
  return wiring;
}

interface Context {
  resources: Record<string, PrintedResource>;
  region: string;
  accountId: string;
  stage: string;
}

function streamSpec(
  ctx: Context,
  logicalId: string,
  r: PrintedResource,
  at: string,
  warnings: string[],
): StreamSpec {
  const p = r.Properties ?? {};
  const mode = (p.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode;
  if (mode === 'ON_DEMAND') warnings.push(`stream ${logicalId} is ON_DEMAND on AWS; locally it has 1 shard`);
  const shardCount =
    p.ShardCount === undefined || mode === 'ON_DEMAND' ? 1 : int(p.ShardCount, `${at}.ShardCount`);
  const name = physicalName(ctx, logicalId);
  return { logicalId, name, arn: arnOf(ctx, logicalId), shardCount };
}

function tableSpec(ctx: Context, logicalId: string, r: PrintedResource, at: string): TableSpec {
  const p = resolveDeep(ctx, r.Properties ?? {}, at) as Record<string, Json>;
  const name = physicalName(ctx, logicalId);
  const billingMode = p.BillingMode === undefined ? 'PROVISIONED' : str(p.BillingMode, `${at}.BillingMode`);
  if (!Array.isArray(p.KeySchema)) throw new WiringError(`${at}.KeySchema must be a list`);
  if (!Array.isArray(p.AttributeDefinitions))
    throw new WiringError(`${at}.AttributeDefinitions must be a list`);
  const createTable: TableSpec['createTable'] = {
    TableName: name,
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    BillingMode: billingMode,
  };
  const provisioned = billingMode === 'PROVISIONED';
  if (provisioned) createTable.ProvisionedThroughput = p.ProvisionedThroughput ?? defaultThroughput();
  if (Array.isArray(p.GlobalSecondaryIndexes)) {
    createTable.GlobalSecondaryIndexes = p.GlobalSecondaryIndexes.map((gsi: Record<string, Json>) => {
      const { IndexName, KeySchema, Projection, ProvisionedThroughput } = gsi;
      return provisioned
        ? {
            IndexName,
            KeySchema,
            Projection,
            ProvisionedThroughput: ProvisionedThroughput ?? defaultThroughput(),
          }
        : { IndexName, KeySchema, Projection };
    });
  }
  if (Array.isArray(p.LocalSecondaryIndexes)) {
    createTable.LocalSecondaryIndexes = p.LocalSecondaryIndexes.map((lsi: Record<string, Json>) => {
      const { IndexName, KeySchema, Projection } = lsi;
      return { IndexName, KeySchema, Projection };
    });
  }
  return { logicalId, name, createTable };
}

const defaultThroughput = () => ({ ReadCapacityUnits: 5, WriteCapacityUnits: 5 });

function deliveryStreamSpec(
  ctx: Context,
  logicalId: string,
  r: PrintedResource,
  at: string,
): DeliveryStreamSpec {
  const p = r.Properties ?? {};
  const type = (p.DeliveryStreamType ?? 'DirectPut') as string;
  if (type !== 'DirectPut' && type !== 'KinesisStreamAsSource') {
    throw new WiringError(
      `${at}.DeliveryStreamType ${type} is not supported locally (DirectPut, KinesisStreamAsSource)`,
    );
  }
  const destKey = p.ExtendedS3DestinationConfiguration
    ? 'ExtendedS3DestinationConfiguration'
    : 'S3DestinationConfiguration';
  const dest = p[destKey] as Record<string, Json> | undefined;
  if (!dest) {
    throw new WiringError(
      `${at} has no ExtendedS3DestinationConfiguration; the local Firehose delivers to S3 only`,
    );
  }
  const dAt = `${at}.${destKey}`;
  if ((dest.DynamicPartitioningConfiguration as { Enabled?: boolean } | undefined)?.Enabled) {
    throw new WiringError(`${dAt}.DynamicPartitioningConfiguration is not supported by the local Firehose`);
  }
  const bucketArn = str(resolve(ctx, dest.BucketARN, `${dAt}.BucketARN`), `${dAt}.BucketARN`);
  const hints = (dest.BufferingHints ?? {}) as Record<string, Json>;
  const compression = (dest.CompressionFormat ?? 'UNCOMPRESSED') as string;
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') {
    throw new WiringError(
      `${dAt}.CompressionFormat ${compression} is not supported locally (UNCOMPRESSED, GZIP)`,
    );
  }
  const spec: DeliveryStreamSpec = {
    logicalId,
    name: physicalName(ctx, logicalId),
    arn: arnOf(ctx, logicalId),
    type,
    bucket: nameFromArn(bucketArn, `${dAt}.BucketARN`),
    bucketArn,
    prefix: dest.Prefix === undefined ? '' : str(resolve(ctx, dest.Prefix, `${dAt}.Prefix`), `${dAt}.Prefix`),
    errorOutputPrefix:
      dest.ErrorOutputPrefix === undefined
        ? ''
        : str(resolve(ctx, dest.ErrorOutputPrefix, `${dAt}.ErrorOutputPrefix`), `${dAt}.ErrorOutputPrefix`),
    sizeInMBs:
      hints.SizeInMBs === undefined
        ? DEFAULT_BUFFER_MB
        : int(hints.SizeInMBs, `${dAt}.BufferingHints.SizeInMBs`),
    intervalInSeconds:
      hints.IntervalInSeconds === undefined
        ? DEFAULT_BUFFER_SECONDS
        : int(hints.IntervalInSeconds, `${dAt}.BufferingHints.IntervalInSeconds`),
    compression,
  };
  if (type === 'KinesisStreamAsSource') {
    const source = p.KinesisStreamSourceConfiguration as Record<string, Json> | undefined;
    const sAt = `${at}.KinesisStreamSourceConfiguration.KinesisStreamARN`;
    if (!source)
      throw new WiringError(`${at}.KinesisStreamSourceConfiguration is required for KinesisStreamAsSource`);
    spec.sourceStream = nameFromArn(str(resolve(ctx, source.KinesisStreamARN, sAt), sAt), sAt);
  }
  return spec;
}

function deriveEvents(ctx: Context, wiring: Wiring, key: string, name: string, fn: PrintedFunction): void {
  (fn.events ?? []).forEach((event, i) => {
    const at = `functions.${key}.events[${i}]`;
    if ('s3' in event) wiring.s3Subscriptions.push(s3Subscription(ctx, key, name, event.s3, `${at}.s3`));
    if ('stream' in event) {
      const sub = streamSubscription(ctx, wiring, key, name, event.stream, `${at}.stream`);
      if (sub) wiring.streamSubscriptions.push(sub);
    }
  });
}

function s3Subscription(ctx: Context, key: string, name: string, raw: Json, at: string): S3Subscription {
  if (typeof raw === 'string')
    return { functionKey: key, functionName: name, bucket: raw, event: 's3:ObjectCreated:*' };
  const e = raw as Record<string, Json>;
  const bucketValue = resolve(ctx, e.bucket, `${at}.bucket`);
  const sub: S3Subscription = {
    functionKey: key,
    functionName: name,
    bucket: str(bucketValue, `${at}.bucket`),
    event: e.event === undefined ? 's3:ObjectCreated:*' : str(e.event, `${at}.event`),
  };
  const rules = e.rules === undefined ? [] : e.rules;
  if (!Array.isArray(rules)) throw new WiringError(`${at}.rules must be a list of {prefix} / {suffix}`);
  for (const rule of rules as Record<string, Json>[]) {
    if (rule.prefix !== undefined) sub.prefix = str(rule.prefix, `${at}.rules.prefix`);
    if (rule.suffix !== undefined) sub.suffix = str(rule.suffix, `${at}.rules.suffix`);
  }
  return sub;
}

function streamSubscription(
  ctx: Context,
  wiring: Wiring,
  key: string,
  name: string,
  raw: Json,
  at: string,
): StreamSubscription | undefined {
  const e = (typeof raw === 'string' ? { arn: raw } : raw) as Record<string, Json>;
  const arn = str(resolve(ctx, e.arn, `${at}.arn`), `${at}.arn`);
  if (e.type === 'dynamodb' || arn.includes(':dynamodb:')) {
    wiring.warnings.push(
      `${at}: DynamoDB stream subscriptions are not emulated locally (${key} will not be invoked)`,
    );
    return undefined;
  }
  if (e.enabled === false) {
    wiring.warnings.push(`${at}: subscription of ${key} is disabled (enabled: false)`);
    return undefined;
  }
  for (const ignored of ['parallelizationFactor', 'filterPatterns', 'tumblingWindowInSeconds', 'consumer']) {
    if (e[ignored] !== undefined) wiring.warnings.push(`${at}.${ignored} is ignored locally`);
  }
  const position =
    e.startingPosition === undefined ? 'TRIM_HORIZON' : str(e.startingPosition, `${at}.startingPosition`);
  if (position !== 'LATEST' && position !== 'TRIM_HORIZON') {
    throw new WiringError(
      `${at}.startingPosition ${position} is not supported locally (LATEST, TRIM_HORIZON)`,
    );
  }
  return {
    functionKey: key,
    functionName: name,
    streamName: nameFromArn(arn, `${at}.arn`),
    streamArn: arn,
    batchSize: e.batchSize === undefined ? DEFAULT_KINESIS_BATCH_SIZE : int(e.batchSize, `${at}.batchSize`),
    startingPosition: position,
    reportBatchItemFailures: e.functionResponseType === 'ReportBatchItemFailures',
    maximumRetryAttempts:
      e.maximumRetryAttempts === undefined
        ? -1
        : intAllowingMinusOne(e.maximumRetryAttempts, `${at}.maximumRetryAttempts`),
  };
}

// ---------------------------------------------------------------- intrinsics

/** The physical name of a logical resource (what `Ref` returns for the types the local stack knows). */
function physicalName(ctx: Context, logicalId: string): string {
  const r = ctx.resources[logicalId];
  if (!r) throw new WiringError(`Ref to unknown resource ${logicalId}`);
  const p = r.Properties ?? {};
  const field = NAME_FIELDS[r.Type];
  if (!field) throw new WiringError(`Ref ${logicalId}: type ${r.Type} is not known to the local stack`);
  const at = `resources.Resources.${logicalId}.Properties.${field}`;
  if (p[field] === undefined)
    throw new WiringError(`${at} is required locally (generated names are not emulated)`);
  return str(resolve(ctx, p[field], at), at);
}

const NAME_FIELDS: Record<string, string> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::KinesisFirehose::DeliveryStream': 'DeliveryStreamName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Logs::LogStream': 'LogStreamName',
};

function arnOf(ctx: Context, logicalId: string): string {
  const r = ctx.resources[logicalId];
  if (!r) throw new WiringError(`Fn::GetAtt of unknown resource ${logicalId}`);
  const name = physicalName(ctx, logicalId);
  const { region, accountId } = ctx;
  switch (r.Type) {
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${name}`;
    case 'AWS::Kinesis::Stream':
      return `arn:aws:kinesis:${region}:${accountId}:stream/${name}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${region}:${accountId}:table/${name}`;
    case 'AWS::KinesisFirehose::DeliveryStream':
      return `arn:aws:firehose:${region}:${accountId}:deliverystream/${name}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${region}:${accountId}:log-group:${name}:*`;
    default:
      throw new WiringError(`Fn::GetAtt ${logicalId}.Arn: type ${r.Type} is not known to the local stack`);
  }
}

function pseudo(ctx: Context, name: string): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      return undefined;
  }
}

/** Resolves the intrinsics the local stack meets: Ref, Fn::GetAtt (Arn), Fn::Sub, Fn::Join. */
function resolve(ctx: Context, value: Json, at: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, Json>;
  const keys = Object.keys(obj);
  if (keys.length !== 1) return value;
  const [fn] = keys as [string];
  const arg = obj[fn];
  switch (fn) {
    case 'Ref': {
      const name = str(arg, `${at}.Ref`);
      return pseudo(ctx, name) ?? physicalName(ctx, name);
    }
    case 'Fn::GetAtt': {
      const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
      if (attr !== 'Arn')
        throw new WiringError(`${at}: Fn::GetAtt ${id}.${attr} is not supported locally (Arn only)`);
      return arnOf(ctx, str(id, `${at}.Fn::GetAtt`));
    }
    case 'Fn::Sub': {
      const [template, vars] = Array.isArray(arg) ? [arg[0], arg[1] ?? {}] : [arg, {}];
      return str(template, `${at}.Fn::Sub`).replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
        if (name in (vars as object)) return String(resolve(ctx, (vars as Record<string, Json>)[name], at));
        const [id, attr] = name.split('.');
        if (attr) return String(resolve(ctx, { 'Fn::GetAtt': [id, attr] }, at));
        return String(resolve(ctx, { Ref: name }, at));
      });
    }
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2 || !Array.isArray(arg[1])) {
        throw new WiringError(`${at}: Fn::Join expects [delimiter, [values]]`);
      }
      return (arg[1] as Json[]).map((v, i) => String(resolve(ctx, v, `${at}[${i}]`))).join(String(arg[0]));
    }
    default:
      if (fn.startsWith('Fn::')) throw new WiringError(`${at}: ${fn} is not supported by the local stack`);
      return value;
  }
}

function resolveDeep(ctx: Context, value: Json, at: string): Json {
  const resolved = resolve(ctx, value, at);
  if (Array.isArray(resolved)) return resolved.map((v, i) => resolveDeep(ctx, v, `${at}[${i}]`));
  if (resolved && typeof resolved === 'object') {
    return Object.fromEntries(
      Object.entries(resolved as Record<string, Json>).map(([k, v]) => [
        k,
        resolveDeep(ctx, v, `${at}.${k}`),
      ]),
    );
  }
  return resolved;
}

/** The resource name at the end of an ARN: `arn:aws:s3:::bucket`, `...:stream/name`, `...:table/name`. */
export function nameFromArn(arn: string, at = 'arn'): string {
  if (!arn.startsWith('arn:')) throw new WiringError(`${at}: "${arn}" is not an ARN`);
  const resource = arn.split(':').slice(5).join(':');
  const name = resource.includes('/') ? resource.slice(resource.indexOf('/') + 1) : resource;
  if (!name) throw new WiringError(`${at}: "${arn}" names no resource`);
  return name;
}

function str(value: Json, at: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new WiringError(`${at} must be a string, got ${JSON.stringify(value)}`);
}

function int(value: Json, at: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new WiringError(`${at} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function intAllowingMinusOne(value: Json, at: string): number {
  return value === -1 || value === '-1' ? -1 : int(value, at);
}

function stringMap(env: Record<string, Json>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
      .map(([k, v]) => [k, String(v)]),
  );
}
