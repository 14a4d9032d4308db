import { resolve } from 'node:path';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { kinesisClient, lambdaClient, s3Client } from '../../lib/aws/clients';
import { loadServiceConfig, type PrintedService } from '../../local/service-config';
import { deriveWiring, type Wiring } from '../../local/wiring';

/** The project root: where serverless.yml lives. */
export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** A stage the operations commands work on: its resolved serverless.yml, resources and SDK clients. */
export interface OpsTarget {
  stage: string;
  local: boolean;
  region: string;
  config: PrintedService;
  wiring: Wiring;
  bucket: string;
  s3: S3Client;
  kinesis: KinesisClient;
  lambda: LambdaClient;
  /** The formatter's deployed name (`<service>-<stage>-formatParquet`). */
  formatter: string;
}

/**
 * Resolves `--stage` (default: the running local stack, reached on its default ports or the
 * AWS_ENDPOINT_URL_* variables `logbase dev` prints) into names and clients.
 */
export async function opsTarget(options: {
  stage?: string;
  region?: string;
  serviceDir?: string;
  bucket?: string;
}): Promise<OpsTarget> {
  const stage = options.stage ?? 'local';
  const local = stage === 'local';
  const config = await loadServiceConfig({
    serviceDir: resolve(options.serviceDir ?? PROJECT_ROOT),
    stage,
    ...(options.region ? { region: options.region } : {}),
  });
  const wiring = deriveWiring(config);
  const region = options.region ?? String(config.provider.region ?? 'ap-northeast-1');
  const bucket = options.bucket ?? config.provider.environment?.DATA_BUCKET;
  if (typeof bucket !== 'string' || bucket === '') {
    throw new Error(`serverless.yml gives no provider.environment.DATA_BUCKET for stage ${stage}`);
  }
  const formatter = wiring.functions.find((f) => f.key === 'formatParquet')?.name;
  if (formatter === undefined) throw new Error('serverless.yml has no function formatParquet');
  // Locally: the emulators (lib/aws/clients.ts); on a stage: AWS in the stage's region.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOGBASE_LOCAL: local ? 'true' : 'false',
    AWS_REGION: region,
  };
  const s3 = local ? s3Client(env) : new S3Client({ region, maxAttempts: 5 });
  const kinesis = local ? kinesisClient(env) : new KinesisClient({ region, maxAttempts: 5 });
  const lambda = local ? lambdaClient(env) : new LambdaClient({ region, maxAttempts: 3 });
  return { stage, local, region, config, wiring, bucket, s3, kinesis, lambda, formatter };
}

/** Frees the clients' sockets. */
export function closeTarget(t: OpsTarget): void {
  t.s3.destroy();
  t.kinesis.destroy();
  t.lambda.destroy();
}
