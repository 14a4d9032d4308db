import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type LocalService, localEndpoint } from './endpoints';

/** True when running against the embedded local stack (stage `local`, or `LOGBASE_LOCAL=true`). */
export function isLocal(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.LOGBASE_LOCAL === 'true';
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Per-client settings on top of the shared ones. */
export interface ClientOptions {
  /**
   * Calls per request, the first included (default 3, the SDK's standard retry mode). A caller that
   * owns its retries (collect's stream writes, see lib/aws/retry.ts) sets 1, so retries never multiply.
   */
  maxAttempts?: number;
}

/**
 * Client options shared by every SDK client. On AWS this is just the defaults. Locally it points
 * at the emulator, uses dummy credentials and HTTP/1.1 (kinesalite does not speak HTTP/2).
 */
export function clientConfig(
  service: LocalService,
  env: NodeJS.ProcessEnv = process.env,
  options: ClientOptions = {},
) {
  const base = {
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000 }),
  };
  if (!isLocal(env)) return base;
  return {
    ...base,
    region: env.AWS_REGION ?? 'ap-northeast-1',
    endpoint: localEndpoint(service, env),
    credentials: LOCAL_CREDENTIALS,
  };
}

/** An S3 client for this environment (path-style addressing locally, as s3rver needs). */
export const s3Client = (env: NodeJS.ProcessEnv = process.env) =>
  new S3Client({ ...clientConfig('s3', env), forcePathStyle: isLocal(env) });
/** A Kinesis client for this environment (always HTTP/1.1: PutRecords/GetRecords need nothing more). */
export const kinesisClient = (env: NodeJS.ProcessEnv = process.env, options: ClientOptions = {}) =>
  new KinesisClient(clientConfig('kinesis', env, options));
/** A Firehose client for this environment. */
export const firehoseClient = (env: NodeJS.ProcessEnv = process.env, options: ClientOptions = {}) =>
  new FirehoseClient(clientConfig('firehose', env, options));
/** A DynamoDB client for this environment. */
export const dynamoDbClient = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoDBClient(clientConfig('dynamodb', env));
/** A Lambda client for this environment (locally: serverless-offline's invoke endpoint). */
export const lambdaClient = (env: NodeJS.ProcessEnv = process.env) =>
  new LambdaClient(clientConfig('lambda', env));
/** An SQS client for this environment (locally: the stack's SQS; queue URLs of any host reach it). */
export const sqsClient = (env: NodeJS.ProcessEnv = process.env) => new SQSClient(clientConfig('sqs', env));
/** An SNS client for this environment (locally: the stack's SNS, the same server as its SQS). */
export const snsClient = (env: NodeJS.ProcessEnv = process.env) => new SNSClient(clientConfig('sns', env));
/** An Athena client (AWS only: there is no Athena emulator, so the local stack keeps the DuckDB engine). */
export const athenaClient = () =>
  new AthenaClient({ maxAttempts: 5, requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000 }) });
