import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Command } from 'commander';
import { loadCollectConfig } from '../../functions/collect/config';
import { dynamoDbClient, firehoseClient, sqsClient } from '../../lib/aws/clients';
import { defaultVectorizer } from '../../lib/domain/vectorizer';
import { hoursBetween, parseHour, recordRun } from '../ops/lake';
import { formatArticlesLines, redriveArticles } from '../ops/redrive-articles';
import { redriveCollect } from '../ops/redrive-collect';
import { formatQuarantineCounts } from '../ops/redrive-quarantine';
import { formatVectorsReports, redriveVectors } from '../ops/redrive-vectors';
import { closeTarget, type OpsTarget, opsTarget, PROJECT_ROOT } from '../ops/target';
import type { RegisterCommand } from './register';

/**
 * `logbase redrive collect|articles|vectors`, next to `redrive format` (cli/commands/redrive.ts):
 * each re-delivers what a stage set aside and records the run under ops/runs/redrive-<what>/.
 */

interface StageOptions {
  stage?: string;
  region?: string;
  bucket?: string;
  serviceDir: string;
}

interface HoursOptions extends StageOptions {
  from?: string;
  to?: string;
  dryRun: boolean;
}

type Out = (line: string) => void;

function hoursOf(o: Pick<HoursOptions, 'from' | 'to'>) {
  if (o.from === undefined && o.to === undefined) return undefined;
  if (o.from === undefined || o.to === undefined)
    throw new Error('give both --from and --to, or neither (every hour)');
  return hoursBetween(parseHour(o.from, '--from'), parseHour(o.to, '--to'));
}

/** The environment serverless.yml gives a function on the target (provider's and its own). */
function functionEnv(target: Pick<OpsTarget, 'wiring'>, key: string): NodeJS.ProcessEnv {
  const fn = target.wiring.functions.find((f) => f.key === key);
  if (fn === undefined) throw new Error(`serverless.yml has no function ${key}`);
  return { ...fn.environment };
}

/** The environment the CLI's own clients use for the target (the local emulators, or AWS). */
const clientEnv = (target: Pick<OpsTarget, 'local' | 'region'>): NodeJS.ProcessEnv => ({
  ...process.env,
  LOGBASE_LOCAL: target.local ? 'true' : 'false',
  AWS_REGION: target.region,
});

export type RedriveTarget = Pick<
  OpsTarget,
  's3' | 'kinesis' | 'lambda' | 'bucket' | 'region' | 'stage' | 'local' | 'wiring'
>;

/** `redrive collect` on a resolved target; returns the exit code. */
export async function runRedriveCollect(
  target: RedriveTarget,
  o: Pick<HoursOptions, 'from' | 'to' | 'dryRun'>,
  out: Out,
  given?: FirehoseClient,
): Promise<number> {
  // One retry layer: putToFirehose retries what Firehose refuses, so the client makes one attempt.
  const firehose =
    given ??
    (target.local
      ? firehoseClient(clientEnv(target), { maxAttempts: 1 })
      : new FirehoseClient({ region: target.region, maxAttempts: 1 }));
  const hours = hoursOf(o);
  const startedAt = new Date().toISOString();
  const config = loadCollectConfig(functionEnv(target, 'collect'));
  try {
    const summary = await redriveCollect({
      s3: target.s3,
      firehose,
      kinesis: target.kinesis,
      bucket: target.bucket,
      eventsDeliveryStream: config.eventsDeliveryStream,
      clicksStream: config.clicksStream,
      limits: config.limits,
      ...(hours ? { hours } : {}),
      dryRun: o.dryRun,
      startedAt,
    });
    for (const line of formatQuarantineCounts(summary, 'the streams', o.dryRun)) out(line);
    if (!o.dryRun)
      out(
        `put ${summary.delivered.events} event(s) on ${config.eventsDeliveryStream} (Firehose), ${summary.delivered.clicks} click(s) on ${config.clicksStream} (Kinesis)`,
      );
    for (const f of summary.failed) out(`failed: ${f.key}: ${f.error}`);
    if (o.dryRun) return 0;
    return recordQuarantineRedrive(
      target,
      'redrive-collect',
      o,
      startedAt,
      summary,
      { delivered: summary.delivered },
      out,
    );
  } finally {
    if (given === undefined) firehose.destroy();
  }
}

/**
 * Records a quarantine redrive (collect or articles) under ops/runs/, prints where, and returns the exit
 * code: 1 when an object failed.
 */
async function recordQuarantineRedrive(
  target: RedriveTarget,
  command: 'redrive-collect' | 'redrive-articles',
  o: Pick<HoursOptions, 'from' | 'to'>,
  startedAt: string,
  summary: { objects: number; read: unknown; redriven: unknown; stayed: unknown; failed: unknown[] },
  delivered: Record<string, unknown>,
  out: Out,
): Promise<number> {
  const key = await recordRun(target.s3, target.bucket, {
    command,
    stage: target.stage,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    arguments: { from: o.from ?? null, to: o.to ?? null },
    counts: {
      quarantine_objects: summary.objects,
      read: summary.read,
      redriven: summary.redriven,
      stayed: summary.stayed,
      ...delivered,
      failed: summary.failed,
    },
  });
  out(`recorded: s3://${target.bucket}/${key}`);
  return summary.failed.length === 0 ? 0 : 1;
}

/** `redrive articles` on a resolved target; returns the exit code. */
export async function runRedriveArticles(
  target: RedriveTarget,
  o: Pick<HoursOptions, 'from' | 'to' | 'dryRun'>,
  out: Out,
  given?: DynamoDBClient,
): Promise<number> {
  const dynamodb =
    given ??
    (target.local
      ? dynamoDbClient(clientEnv(target))
      : new DynamoDBClient({ region: target.region, maxAttempts: 5 }));
  const hours = hoursOf(o);
  const startedAt = new Date().toISOString();
  const table = functionEnv(target, 'vectorizeArticle').ARTICLE_VECTORS_TABLE;
  if (!table) throw new Error('serverless.yml gives vectorizeArticle no ARTICLE_VECTORS_TABLE');
  try {
    const summary = await redriveArticles({
      s3: target.s3,
      dynamodb,
      bucket: target.bucket,
      table,
      vectorizer: defaultVectorizer,
      ...(hours ? { hours } : {}),
      dryRun: o.dryRun,
      startedAt,
    });
    for (const line of formatArticlesLines(summary, table, o.dryRun)) out(line);
    if (o.dryRun) return 0;
    return recordQuarantineRedrive(
      target,
      'redrive-articles',
      o,
      startedAt,
      summary,
      { written: summary.written },
      out,
    );
  } finally {
    if (given === undefined) dynamodb.destroy();
  }
}

/** `redrive vectors` on a resolved target; returns the exit code (1 when a range is kept). */
export async function runRedriveVectors(
  target: RedriveTarget,
  o: { dryRun: boolean },
  out: Out,
  given?: SQSClient,
): Promise<number> {
  const sqs =
    given ??
    (target.local ? sqsClient(clientEnv(target)) : new SQSClient({ region: target.region, maxAttempts: 5 }));
  const startedAt = new Date().toISOString();
  const sub = target.wiring.streamSubscriptions.find((s) => s.functionKey === 'updateUserVectors');
  if (sub?.onFailure?.type !== 'sqs')
    throw new Error('serverless.yml gives updateUserVectors no SQS on-failure destination');
  const queueName = sub.onFailure.arn.split(':').pop() as string;
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const reports = await redriveVectors({
      sqs,
      kinesis: target.kinesis,
      lambda: target.lambda,
      queueUrl: QueueUrl as string,
      functionName: sub.functionName,
      region: target.region,
      dryRun: o.dryRun,
    });
    out(`${queueName}: ${reports.length} on-failure record(s)`);
    for (const line of formatVectorsReports(reports, o.dryRun)) out(line);
    if (o.dryRun) return 0;
    const count = (k: string) => reports.filter((r) => r.outcome.kind === k).length;
    const key = await recordRun(target.s3, target.bucket, {
      command: 'redrive-vectors',
      stage: target.stage,
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      arguments: { queue: queueName, function: sub.functionName },
      counts: {
        messages: reports.length,
        applied: count('applied'),
        past_retention: count('expired'),
        still_failing: count('still-failing'),
        unreadable: count('unreadable'),
        records_applied: reports.reduce(
          (n, r) => n + (r.outcome.kind === 'applied' ? r.outcome.records : 0),
          0,
        ),
        ranges: reports.map((r) => ({ ...r.range, outcome: r.outcome.kind, deleted: r.deleted })),
      },
    });
    out(`recorded: s3://${target.bucket}/${key}`);
    return reports.every((r) => r.deleted) ? 0 : 1;
  } finally {
    if (given === undefined) sqs.destroy();
  }
}

const stageOptions = (c: Command) =>
  c
    .option('--stage <stage>', 'a deployed stage (default: the running local stack)')
    .option('--region <region>', 'AWS region of the stage (default: the one serverless.yml resolves)')
    .option('--bucket <name>', 'the stage\'s data bucket, when deployed with --param="dataBucket=<name>"')
    .option('--service-dir <dir>', 'folder holding serverless.yml', PROJECT_ROOT);

const hourOptions = (c: Command) =>
  c
    .option(
      '--from <hour>',
      'first quarantine hour (UTC, when received), e.g. 2026-03-01T03 (default: every hour)',
    )
    .option('--to <hour>', 'last hour, included')
    .option('--dry-run', 'count what would pass now, move nothing', false);

async function withTarget(o: StageOptions, run: (t: OpsTarget) => Promise<number>): Promise<void> {
  const target = await opsTarget({
    ...(o.stage ? { stage: o.stage } : {}),
    ...(o.region ? { region: o.region } : {}),
    ...(o.bucket ? { bucket: o.bucket } : {}),
    serviceDir: o.serviceDir,
  });
  try {
    process.exitCode = await run(target);
  } finally {
    closeTarget(target);
  }
}

const print: Out = (line) => process.stdout.write(`${line}\n`);

/** Registers `logbase redrive collect|articles|vectors` under `redrive` (created when not there yet). */
export const registerRedriveSources: RegisterCommand = (program: Command) => {
  const redrive = program.commands.find((c) => c.name() === 'redrive') ?? program.command('redrive');
  hourOptions(
    stageOptions(
      redrive
        .command('collect')
        .description(
          "collect's quarantine (quarantine/collect/): events that pass the registry now go to the streams",
        ),
    ),
  )
    .addHelpText(
      'after',
      [
        '',
        "Each event is re-validated by collect's own code with this checkout's registry (deploy it first), with",
        'its original request_id and received_at; clicks go to the Kinesis clicks stream, other events to the',
        'events Firehose. A body rejected whole is read whole again. Redriven lines leave their quarantine',
        'object (copied under ops/redriven/), so a second run moves nothing; duplicates of an event_id within',
        'a request never pass. Recorded under ops/runs/redrive-collect/.',
      ].join('\n'),
    )
    .action(async (o: HoursOptions) => {
      hoursOf(o);
      await withTarget(o, (t) => runRedriveCollect(t, o, print));
    });
  hourOptions(
    stageOptions(
      redrive
        .command('articles')
        .description(
          'the articles quarantine (quarantine/articles/): articles that pass the schema now are vectorized',
        ),
    ),
  )
    .addHelpText(
      'after',
      [
        '',
        "Articles are validated and vectorized by vectorize-article's own code and put in ArticleVectors (one",
        'item per article_id: a redriven article replaces the stored one). Redriven lines leave their quarantine',
        'object (copied under ops/redriven/). Recorded under ops/runs/redrive-articles/.',
      ].join('\n'),
    )
    .action(async (o: HoursOptions) => {
      hoursOf(o);
      await withTarget(o, (t) => runRedriveArticles(t, o, print));
    });
  stageOptions(
    redrive
      .command('vectors')
      .description(
        "update-user-vectors' on-failure queue: re-read each failed batch's range from the stream and apply it",
      ),
  )
    .option('--dry-run', 'read the ranges and say which are still in the stream, apply nothing', false)
    .addHelpText(
      'after',
      [
        '',
        'Each message names a shard and a sequence range (KinesisBatchInfo), not the records: the range is read',
        'again (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords to its end) and handed to the function as its',
        'Kinesis event. The function applies each click once per user, so a range applied twice changes',
        'nothing. Applied: the message is deleted. Past retention, or still failing: reported and kept.',
        'Exit code 1 when a message is kept. Recorded under ops/runs/redrive-vectors/.',
      ].join('\n'),
    )
    .action(async (o: StageOptions & { dryRun: boolean }) => {
      await withTarget(o, (t) => runRedriveVectors(t, o, print));
    });
};
