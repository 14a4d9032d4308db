/**
 * Default ports of the embedded local stack (`logbase dev`). Every one can be overridden; the
 * running stack passes its real endpoints to functions as `AWS_ENDPOINT_URL_<SERVICE>`.
 */
export const LOCAL_DEFAULTS = {
  host: '127.0.0.1',
  http: 3000,
  lambda: 3002,
  s3: 4569,
  kinesis: 4567,
  dynamodb: 4568,
  firehose: 4573,
  /** SQS and SNS are one local server (fauxqs), so they share a port. */
  sqs: 4576,
  sns: 4576,
} as const;

export type LocalService = 's3' | 'kinesis' | 'dynamodb' | 'firehose' | 'lambda' | 'sqs' | 'sns';

const ENV_NAMES: Record<LocalService, string> = {
  s3: 'AWS_ENDPOINT_URL_S3',
  kinesis: 'AWS_ENDPOINT_URL_KINESIS',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  firehose: 'AWS_ENDPOINT_URL_FIREHOSE',
  lambda: 'AWS_ENDPOINT_URL_LAMBDA',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  sns: 'AWS_ENDPOINT_URL_SNS',
};

/** The environment variable the AWS SDK reads for a service's endpoint. */
export function endpointEnvName(service: LocalService): string {
  return ENV_NAMES[service];
}

/** The local endpoint of a service: the env override when set, else the default port. */
export function localEndpoint(service: LocalService, env: NodeJS.ProcessEnv = process.env): string {
  return env[ENV_NAMES[service]] ?? `http://${LOCAL_DEFAULTS.host}:${LOCAL_DEFAULTS[service]}`;
}
