import { join, resolve } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { dynamoDbClient, kinesisClient, s3Client, sqsClient } from '../../lib/aws/clients';
import { LOCAL_DEFAULTS } from '../../lib/aws/endpoints';
import { dataDirLayout } from '../../local/data-dir';
import { loadServiceConfig } from '../../local/service-config';
import { deriveWiring, type Wiring } from '../../local/wiring';
import { awsStatus } from '../status/aws';
import { fetchHealth, type LocalNames, localStatus, StackNotRunningError } from '../status/local';
import { renderStatus, type StatusReport } from '../status/report';
import { type Output, stdio } from '../stdio';
import type { RegisterCommand } from './register';

const PROJECT_ROOT = resolve(__dirname, '..', '..');

export interface StatusOptions {
  stage?: string;
  json: boolean;
  endpoint: string;
  dataDir?: string;
  region?: string;
  bucket?: string;
  serviceDir: string;
}

/** The names `logbase status` needs, from serverless.yml as resolved for the stage. */
export function statusNames(
  wiring: Wiring,
  stage: string,
): LocalNames & { stateMachine: string; deliveryStreams: string[] } {
  const sub = wiring.streamSubscriptions.find((s) => s.functionKey === 'updateUserVectors');
  const table = wiring.tables.find((t) => t.name.endsWith('-UserVectors'));
  const bucket = wiring.buckets[0];
  const machine = wiring.stateMachines.find((m) => m.key === 'batchScoring');
  const failures = wiring.queues.find((q) => q.name.endsWith('-format-failures'));
  if (!sub || !table || !bucket || !machine || !failures)
    throw new Error(
      'serverless.yml lacks the clicks subscription, UserVectors, the data bucket or batchScoring',
    );
  return {
    stage,
    bucket: bucket.name,
    clicksStream: sub.streamName,
    userVectorsTable: table.name,
    vectorsFunction: sub.functionName,
    stateMachine: machine.name,
    formatFailuresQueue: failures.name,
    deliveryStreams: wiring.deliveryStreams.map((d) => d.name),
  };
}

/** The report of the stage (`--stage`) or of the running local stack. */
export async function gatherStatus(options: StatusOptions): Promise<StatusReport> {
  const serviceDir = resolve(options.serviceDir);
  const stage = options.stage ?? 'local';
  if (stage === 'local') {
    // First: a clear error when the stack is not running, before anything slower.
    const health = await fetchHealth(options.endpoint);
    const config = await loadServiceConfig({ serviceDir, stage });
    const names = statusNames(deriveWiring(config), stage);
    const env: NodeJS.ProcessEnv = { ...process.env, LOGBASE_LOCAL: 'true' };
    for (const [service, name] of [
      ['s3', 'AWS_ENDPOINT_URL_S3'],
      ['kinesis', 'AWS_ENDPOINT_URL_KINESIS'],
      ['dynamodb', 'AWS_ENDPOINT_URL_DYNAMODB'],
      ['sqs', 'AWS_ENDPOINT_URL_SQS'],
    ] as const) {
      const endpoint = health.services[service]?.endpoint;
      if (endpoint) env[name] = endpoint;
    }
    const [s3, kinesis, dynamodb, sqs] = [
      s3Client(env),
      kinesisClient(env),
      dynamoDbClient(env),
      sqsClient(env),
    ];
    try {
      const dataDir = options.dataDir ? resolve(options.dataDir) : join(serviceDir, '.logbase', 'data');
      return await localStatus({
        s3,
        kinesis,
        dynamodb,
        sqs,
        health,
        checkpointsFile: dataDirLayout(dataDir).checkpoints,
        names,
      });
    } finally {
      for (const c of [s3, kinesis, dynamodb, sqs]) c.destroy();
    }
  }
  const config = await loadServiceConfig({
    serviceDir,
    stage,
    ...(options.region ? { region: options.region } : {}),
  });
  const names = statusNames(deriveWiring(config), stage);
  const region = options.region ?? String(config.provider.region ?? 'ap-northeast-1');
  const clients = {
    cloudwatch: new CloudWatchClient({ region, maxAttempts: 5 }),
    s3: new S3Client({ region, maxAttempts: 5 }),
    sfn: new SFNClient({ region, maxAttempts: 5 }),
  };
  try {
    return await awsStatus({
      ...clients,
      names: { ...names, service: config.service, bucket: options.bucket ?? names.bucket },
    });
  } finally {
    for (const c of Object.values(clients)) c.destroy();
  }
}

/** `logbase status`; 0 when nothing needs someone, 1 when problems are listed, 2 when the status could not be read. */
export async function runStatus(
  options: StatusOptions,
  io: Output = stdio,
  gather: (options: StatusOptions) => Promise<StatusReport> = gatherStatus,
): Promise<number> {
  let report: StatusReport;
  try {
    report = await gather(options);
  } catch (error) {
    if (error instanceof StackNotRunningError) {
      io.err(`logbase status: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (options.json) io.out(JSON.stringify(report, null, 2));
  else for (const line of renderStatus(report)) io.out(line);
  return report.problems.length ? 1 : 0;
}

/** Registers `logbase status`. */
export const registerStatus: RegisterCommand = (program: Command) => {
  program
    .command('status')
    .description(
      'the pipeline at a glance: per stage its last activity, lag and quarantine rate over the last hour, ' +
        'the last batch run, alarms in ALARM (the running local stack, or a deployed --stage)',
    )
    .option(
      '--stage <stage>',
      'a deployed stage: CloudWatch alarms and metrics, S3, Step Functions (default: local)',
    )
    .option('--json', 'print the report as JSON (for scripts)', false)
    .option(
      '--endpoint <url>',
      "the local stack's HTTP API, where GET /health answers",
      `http://${LOCAL_DEFAULTS.host}:${LOCAL_DEFAULTS.http}`,
    )
    .option('--data-dir <dir>', 'the local stack data dir (default: <service-dir>/.logbase/data)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT)
    .addHelpText(
      'after',
      '\nExit status: 0 nothing needs someone, 1 problems are listed, 2 the local stack is not running.',
    )
    .action(async (options: StatusOptions) => {
      process.exitCode = await runStatus(options);
    });
};
