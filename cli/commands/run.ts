import { resolve } from 'node:path';
import type { Command } from 'commander';
import { dynamoDbClient, s3Client, snsClient } from '../../lib/aws/clients';
import { LOCAL_DEFAULTS } from '../../lib/aws/endpoints';
import { pushCandidatesTask } from '../../lib/batch/push';
import { publishReportTask } from '../../lib/batch/report';
import {
  articleStatsTask,
  type BatchDeps,
  loadBatchConfig,
  notifyFailureTask,
  scoreShardTask,
  shardUsersTask,
  summarizeTask,
  writeRecommendationsTask,
} from '../../lib/batch/tasks';
import { reportKeys } from '../../lib/domain/report/kpi';
import { InProcessInvoker, type LocalHandler } from '../../local/invoker';
import { silentLog } from '../../local/log';
import { LATEST_REPORT_PATH } from '../../local/reports';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { endedLine, progressLine } from '../batch/progress';
import { runOnStage } from '../batch/stage-run';
import { type Output, stdio } from '../stdio';
import type { RegisterCommand } from './register';

/** The batch-scoring Task states, by the serverless.yml function each invokes. */
export const BATCH_TASKS: Record<
  string,
  // biome-ignore lint/suspicious/noExplicitAny: each task takes its own event shape (the state machine's input)
  { state: string; run: (event: any, deps: BatchDeps) => Promise<unknown> }
> = {
  batchArticleStats: { state: 'ArticleStats', run: articleStatsTask },
  batchShardUsers: { state: 'ShardUsers', run: shardUsersTask },
  batchScoreShard: { state: 'ScoreShard', run: scoreShardTask },
  batchWriteRecommendations: { state: 'WriteRecommendations', run: writeRecommendationsTask },
  batchPublishReport: { state: 'PublishReport', run: publishReportTask },
  batchPushCandidates: { state: 'PushCandidates', run: pushCandidatesTask },
  batchSummarize: { state: 'Summarize', run: summarizeTask },
  batchNotifyFailure: { state: 'NotifyFailure', run: notifyFailureTask },
};

export interface RunOptions {
  date?: string;
  stage?: string;
  region?: string;
  dataDir?: string;
  serviceDir?: string;
}

/**
 * In-process handlers of the batch functions, each with the environment serverless.yml gives that function
 * on the stack, printing a progress line as each Task state starts and ends.
 */
export function batchHandlers(
  stack: LocalStack,
  io: Output,
  clock: () => number = Date.now,
): Record<string, LocalHandler> {
  const handlers: Record<string, LocalHandler> = {};
  for (const [key, task] of Object.entries(BATCH_TASKS)) {
    let deps: BatchDeps | undefined;
    handlers[key] = async (event: unknown) => {
      if (!deps) {
        const fn = stack.wiring.functions.find((f) => f.key === key);
        const env = { ...process.env, ...stack.env, ...(fn?.environment ?? {}) };
        deps = {
          config: loadBatchConfig(env),
          s3: s3Client(env),
          ddb: dynamoDbClient(env),
          sns: snsClient(env),
          now: () => new Date(),
        };
      }
      const shard = (event as { shard?: { index?: number }; scored?: { index?: number } }) ?? {};
      const label = { state: task.state, shard: shard.shard?.index ?? shard.scored?.index };
      const started = clock();
      io.out(progressLine(label, { kind: 'started' }));
      try {
        const result = await task.run(event, deps);
        io.out(progressLine(label, { kind: 'done', seconds: (clock() - started) / 1000 }));
        return result;
      } catch (error) {
        const { name, message } = error as Error;
        io.out(progressLine(label, { kind: 'failed', error: name, message }));
        throw error;
      }
    };
  }
  return handlers;
}

/** `logbase run batch-scoring`: runs the state machine on a local stack over the data dir; returns the exit code. */
export async function runBatchScoring(options: RunOptions, io: Output = stdio): Promise<number> {
  if (options.stage && options.stage !== 'local') return runOnStage({ ...options, stage: options.stage }, io);
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
    io.err(
      `the local Step Functions (aws-local-stepfunctions) needs Node.js 22; this is ${process.version} (try: npx node@22 bin/logbase.cjs run batch-scoring)`,
    );
    return 2;
  }
  const serviceDir = options.serviceDir ?? resolve(__dirname, '../..');
  const dataDir = options.dataDir ? resolve(options.dataDir) : resolve(serviceDir, '.logbase', 'data');
  let stack: LocalStack | undefined;
  const handlers: Record<string, LocalHandler> = {};
  try {
    stack = await startLocalStack({
      serviceDir,
      dataDir,
      offline: false,
      invoker: new InProcessInvoker(handlers),
      ports: { s3: 0, kinesis: 0, dynamodb: 0, firehose: 0, sqs: 0, http: 0, lambda: 0 },
      log: silentLog,
    });
    Object.assign(handlers, batchHandlers(stack, io));
    const machine = stack.stepFunctions.list().find((m) => m.key === 'batchScoring');
    if (!machine) {
      io.err('serverless.yml has no stepFunctions.stateMachines.batchScoring');
      return 1;
    }
    io.out(`batch-scoring ${options.date ?? '(yesterday, UTC)'} on the local stack (data dir ${dataDir})`);
    const ended = await stack.stepFunctions.start(machine.name, options.date ? { date: options.date } : {})
      .result;
    if (ended.status !== 'SUCCEEDED') {
      io.err(endedLine(ended));
      return 1;
    }
    io.out(JSON.stringify(ended.output, null, 2));
    const date = (ended.output as { date?: string } | undefined)?.date;
    const bucket = stack.config.provider.environment?.DATA_BUCKET;
    if (date && typeof bucket === 'string') {
      io.out(
        `KPI report of ${date}: s3://${bucket}/${reportKeys(date).html} ` +
          `(npm start serves the newest at http://${LOCAL_DEFAULTS.host}:${LOCAL_DEFAULTS.http}${LATEST_REPORT_PATH})`,
      );
    }
    return 0;
  } finally {
    await stack?.stop();
  }
}

export const registerRun: RegisterCommand = (program: Command) => {
  const run = program.command('run').description('run a batch state machine');
  run
    .command('batch-scoring')
    .description(
      'article stats, shard scoring, Recommendations and push candidates for a date, a line per Task',
    )
    .option('--date <YYYY-MM-DD>', 'the date to score (default: yesterday, UTC)')
    .option(
      '--stage <stage>',
      'local (default), or a deployed stage: StartExecution there and follow its history',
    )
    .option('--region <region>', "the stage's region (default: serverless.yml's provider.region)")
    .option(
      '--data-dir <dir>',
      "the local stack's data dir (default: .logbase/data, npm start's; stop npm start first)",
    )
    .action(async (options: RunOptions) => {
      process.exitCode = await runBatchScoring(options);
    });
};
