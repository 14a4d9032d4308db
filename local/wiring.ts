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
  /** `AWS::SQS::Queue` resources (on-failure destinations, or queues functions use). */
  queues: QueueSpec[];
  /** `AWS::SNS::Topic` resources. */
  topics: TopicSpec[];
  /** `AWS::SNS::Subscription` resources (and topics' inline `Subscription`) to a queue of `queues`. */
  topicSubscriptions: TopicSubscriptionSpec[];
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
  /** `arn:aws:lambda:<region>:<account>:function:<name>`. */
  arn: string;
  /** provider and function `environment`, with Ref / Fn::GetAtt of the local resources resolved. */
  environment: Record<string, string>;
  /** Retries of a failed asynchronous invocation (`maximumRetryAttempts`, 0-2; Lambda's default 2). */
  asyncRetries: number;
  /** `destinations.onFailure`: where an asynchronous invocation goes once its retries are exhausted. */
  onFailure?: DestinationSpec;
}

export interface QueueSpec {
  logicalId: string;
  name: string;
  arn: string;
  /** What `Ref` returns: the queue URL (AWS's form; the local SQS finds a queue by region and name). */
  url: string;
  /** CreateQueue attributes (VisibilityTimeout, FifoQueue, RedrivePolicy, ...), as strings. */
  attributes: Record<string, string>;
}

export interface TopicSpec {
  logicalId: string;
  name: string;
  arn: string;
  attributes: Record<string, string>;
}

export interface TopicSubscriptionSpec {
  /** Logical id of the AWS::SNS::Subscription, or `<topic logical id>.Subscription[i]`. */
  source: string;
  topicArn: string;
  protocol: 'sqs';
  /** The queue's ARN. */
  endpoint: string;
  /** RawMessageDelivery, FilterPolicy (JSON text), FilterPolicyScope. */
  attributes: Record<string, string>;
}

/** An on-failure destination the local stack delivers to: a queue or a topic of serverless.yml. */
export interface DestinationSpec {
  type: 'sqs' | 'sns';
  arn: string;
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
  /** `destinations.onFailure`: where a batch's description goes once its retries are exhausted. */
  onFailure?: DestinationSpec;
}

/** The account id kinesalite and dynalite report; local ARNs use it too. */
export const LOCAL_ACCOUNT_ID = '000000000000';

const DEFAULT_KINESIS_BATCH_SIZE = 100;
/** Lambda retries a failed asynchronous invocation twice unless `maximumRetryAttempts` says otherwise. */
const DEFAULT_ASYNC_RETRIES = 2;
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
    queues: [],
    topics: [],
    topicSubscriptions: [],
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
      case 'AWS::SQS::Queue':
        wiring.queues.push(queueSpec(ctx, logicalId, resource, at));
        break;
      case 'AWS::SNS::Topic':
        wiring.topics.push(topicSpec(ctx, logicalId, resource, at));
        wiring.topicSubscriptions.push(
          ...inlineTopicSubscriptions(ctx, logicalId, resource, at, wiring.warnings),
        );
        break;
      case 'AWS::SNS::Subscription': {
        const sub = topicSubscription(ctx, logicalId, resource.Properties ?? {}, at, wiring.warnings);
        if (sub) wiring.topicSubscriptions.push(sub);
        break;
      }
    }
  }

  const globalEnv = config.provider.environment ?? {};
  for (const [key, fn] of Object.entries(config.functions ?? {})) {
    const name = fn.name ?? `${config.service}-${stage}-${key}`;
    const at = `functions.${key}`;
    const environment = functionEnvironment(
      ctx,
      { ...globalEnv, ...(fn.environment ?? {}) },
      at,
      wiring.warnings,
    );
    const destinations = fn.destinations as Record<string, Json> | undefined;
    const spec: FunctionSpec = {
      key,
      name,
      arn: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${name}`,
      environment,
      asyncRetries:
        fn.maximumRetryAttempts === undefined
          ? DEFAULT_ASYNC_RETRIES
          : int(fn.maximumRetryAttempts, `${at}.maximumRetryAttempts`),
    };
    if (destinations?.onSuccess !== undefined)
      wiring.warnings.push(`${at}.destinations.onSuccess is not emulated locally`);
    const onFailure = destination(
      ctx,
      destinations?.onFailure,
      `${at}.destinations.onFailure`,
      wiring.warnings,
    );
    if (onFailure) spec.onFailure = onFailure;
    wiring.functions.push(spec);
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
  const known = new Set([...wiring.queues.map((q) => q.arn), ...wiring.topics.map((t) => t.arn)]);
  const destinations = [
    ...wiring.functions.map((f) => [f.onFailure, `functions.${f.key}.destinations.onFailure`] as const),
    ...wiring.streamSubscriptions.map(
      (s) =>
        [s.onFailure, `functions.${s.functionKey} stream ${s.streamName} destinations.onFailure`] as const,
    ),
  ];
  for (const [dest, at] of destinations) {
    if (dest && !known.has(dest.arn))
      throw new WiringError(`${at}: ${dest.arn} is no queue or topic of serverless.yml's resources`);
  }
  for (const sub of wiring.topicSubscriptions) {
    if (!wiring.topics.some((t) => t.arn === sub.topicArn))
      throw new WiringError(
        `subscription ${sub.source}: topic ${sub.topicArn} is not in serverless.yml's resources`,
      );
    if (!wiring.queues.some((q) => q.arn === sub.endpoint))
      throw new WiringError(
        `subscription ${sub.source}: queue ${sub.endpoint} is not in serverless.yml's resources`,
      );
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

/**
 * A function's environment with Ref / Fn::GetAtt / Fn::Sub / Fn::Join of the local resources resolved; a
 * value the local stack cannot resolve (another intrinsic, a resource osls generates) is left out and warned.
 */
function functionEnvironment(
  ctx: Context,
  env: Record<string, Json>,
  at: string,
  warnings: string[],
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object') {
      resolved[name] = String(value);
      continue;
    }
    try {
      resolved[name] = str(resolve(ctx, value, `${at}.environment.${name}`), `${at}.environment.${name}`);
    } catch (error) {
      if (!(error instanceof WiringError)) throw error;
      warnings.push(`${at}.environment.${name} is left out locally: ${error.message}`);
    }
  }
  return resolved;
}

/** Queue attributes CreateQueue takes, as CloudFormation names them (all the same but RedrivePolicy's form). */
const QUEUE_ATTRIBUTES = [
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'DelaySeconds',
  'FifoQueue',
  'FifoThroughputLimit',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedriveAllowPolicy',
  'RedrivePolicy',
  'VisibilityTimeout',
];

function queueSpec(ctx: Context, logicalId: string, r: PrintedResource, at: string): QueueSpec {
  const p = resolveDeep(ctx, r.Properties ?? {}, at) as Record<string, Json>;
  const name = physicalName(ctx, logicalId);
  const attributes: Record<string, string> = {};
  for (const attribute of QUEUE_ATTRIBUTES) {
    const value = p[attribute];
    if (value === undefined) continue;
    attributes[attribute] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return { logicalId, name, arn: arnOf(ctx, logicalId), url: queueUrl(ctx, name), attributes };
}

function topicSpec(ctx: Context, logicalId: string, r: PrintedResource, at: string): TopicSpec {
  const p = resolveDeep(ctx, r.Properties ?? {}, at) as Record<string, Json>;
  const attributes: Record<string, string> = {};
  for (const attribute of ['DisplayName', 'FifoTopic', 'ContentBasedDeduplication']) {
    if (p[attribute] !== undefined) attributes[attribute] = String(p[attribute]);
  }
  return { logicalId, name: physicalName(ctx, logicalId), arn: arnOf(ctx, logicalId), attributes };
}

function inlineTopicSubscriptions(
  ctx: Context,
  logicalId: string,
  r: PrintedResource,
  at: string,
  warnings: string[],
): TopicSubscriptionSpec[] {
  const inline = r.Properties?.Subscription;
  if (inline === undefined) return [];
  if (!Array.isArray(inline)) throw new WiringError(`${at}.Subscription must be a list`);
  return inline.flatMap((entry: Record<string, Json>, i) => {
    const source = `${logicalId}.Subscription[${i}]`;
    const sub = topicSubscription(
      ctx,
      source,
      { ...entry, TopicArn: { Ref: logicalId } },
      `${at}.Subscription[${i}]`,
      warnings,
    );
    return sub ? [sub] : [];
  });
}

function topicSubscription(
  ctx: Context,
  source: string,
  raw: Record<string, Json>,
  at: string,
  warnings: string[],
): TopicSubscriptionSpec | undefined {
  const p = resolveDeep(ctx, raw, at) as Record<string, Json>;
  const protocol = str(p.Protocol, `${at}.Protocol`);
  if (protocol !== 'sqs') {
    warnings.push(`${at}: SNS subscriptions with protocol ${protocol} are not emulated locally (sqs only)`);
    return undefined;
  }
  const attributes: Record<string, string> = {};
  for (const attribute of ['RawMessageDelivery', 'FilterPolicyScope']) {
    if (p[attribute] !== undefined) attributes[attribute] = String(p[attribute]);
  }
  if (p.FilterPolicy !== undefined)
    attributes.FilterPolicy =
      typeof p.FilterPolicy === 'string' ? p.FilterPolicy : JSON.stringify(p.FilterPolicy);
  return {
    source,
    topicArn: str(p.TopicArn, `${at}.TopicArn`),
    protocol,
    endpoint: str(p.Endpoint, `${at}.Endpoint`),
    attributes,
  };
}

/**
 * A `destinations.onFailure` (of a function, or of a stream event): an ARN, or `{ type, arn }` as osls takes
 * it. Queues and topics are delivered to; a function or an event bus is warned about and left out.
 */
function destination(ctx: Context, raw: Json, at: string, warnings: string[]): DestinationSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = (
    typeof raw === 'object' && 'arn' in (raw as object) ? (raw as Record<string, Json>).arn : raw
  ) as Json;
  const declaredType =
    typeof raw === 'object' && (raw as Record<string, Json>).type !== undefined
      ? str((raw as Record<string, Json>).type, `${at}.type`)
      : undefined;
  const arn = str(resolve(ctx, value, `${at}.arn`), `${at}.arn`);
  const type = declaredType ?? (arn.startsWith('arn:') ? arn.split(':')[2] : 'function');
  if (type === 'sqs' || type === 'sns') return { type, arn };
  warnings.push(
    `${at}: ${type} destinations are not emulated locally (sqs and sns only); ${arn} gets nothing`,
  );
  return undefined;
}

function deriveEvents(ctx: Context, wiring: Wiring, key: string, name: string, fn: PrintedFunction): void {
  (fn.events ?? []).forEach((event, i) => {
    const at = `functions.${key}.events[${i}]`;
    if ('s3' in event) wiring.s3Subscriptions.push(s3Subscription(ctx, key, name, event.s3, `${at}.s3`));
    if ('stream' in event) {
      const sub = streamSubscription(ctx, wiring, key, name, event.stream, `${at}.stream`);
      if (sub) wiring.streamSubscriptions.push(sub);
    }
    for (const source of ['sqs', 'sns'])
      if (source in event)
        wiring.warnings.push(
          `${at}.${source}: ${source} events are not emulated locally (${key} will not be invoked)`,
        );
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
  const onFailure = destination(
    ctx,
    (e.destinations as Record<string, Json> | undefined)?.onFailure,
    `${at}.destinations.onFailure`,
    wiring.warnings,
  );
  for (const ignored of ['maximumRecordAgeInSeconds', 'bisectBatchOnFunctionError']) {
    if (e[ignored] !== undefined) wiring.warnings.push(`${at}.${ignored} is ignored locally`);
  }
  return {
    ...(onFailure ? { onFailure } : {}),
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
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
};

/** A queue's URL as `Ref` gives it on AWS; the local SQS finds queues by the region and name in it. */
function queueUrl(ctx: Context, name: string): string {
  return `https://sqs.${ctx.region}.amazonaws.com/${ctx.accountId}/${name}`;
}

/** What `Ref` returns: a queue's URL, a topic's ARN, otherwise the physical name. */
function refOf(ctx: Context, logicalId: string): string {
  const type = ctx.resources[logicalId]?.Type;
  if (type === 'AWS::SQS::Queue') return queueUrl(ctx, physicalName(ctx, logicalId));
  if (type === 'AWS::SNS::Topic') return arnOf(ctx, logicalId);
  return physicalName(ctx, logicalId);
}

/** `Fn::GetAtt`: every type's Arn, and the name/URL attributes of queues and topics. */
function attributeOf(ctx: Context, logicalId: string, attribute: string, at: string): string {
  const type = ctx.resources[logicalId]?.Type;
  if (attribute === 'Arn') return arnOf(ctx, logicalId);
  if (type === 'AWS::SQS::Queue' && attribute === 'QueueName') return physicalName(ctx, logicalId);
  if (type === 'AWS::SQS::Queue' && attribute === 'QueueUrl') return refOf(ctx, logicalId);
  if (type === 'AWS::SNS::Topic' && attribute === 'TopicName') return physicalName(ctx, logicalId);
  if (type === 'AWS::SNS::Topic' && attribute === 'TopicArn') return arnOf(ctx, logicalId);
  throw new WiringError(
    `${at}: Fn::GetAtt ${logicalId}.${attribute} is not supported locally (Arn; QueueName, QueueUrl; TopicName, TopicArn)`,
  );
}

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
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${region}:${accountId}:${name}`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${region}:${accountId}:${name}`;
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
      return pseudo(ctx, name) ?? refOf(ctx, name);
    }
    case 'Fn::GetAtt': {
      const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
      return attributeOf(ctx, str(id, `${at}.Fn::GetAtt`), str(attr, `${at}.Fn::GetAtt`), at);
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
