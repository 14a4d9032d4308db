import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { dynamoDbClient } from '../../lib/aws/clients';
import { DynamoUserVectorStore } from '../../lib/aws/user-vectors';
import type { UserVectorStore } from '../../lib/domain/user-vectors';
import {
  DEFAULT_OPTIONS,
  PoisonRecordError,
  type StreamRecord,
  updateUserVectors,
} from '../../lib/domain/user-vectors';
import { logger, metrics, tracer } from '../../lib/powertools';
import { loadUpdateUserVectorsConfig, type UpdateUserVectorsConfig } from './config';

/** What the handler needs from the outside world; tests pass their own. */
export interface UpdateUserVectorsDeps {
  config: UpdateUserVectorsConfig;
  /** The store for one invocation: its retries stop waiting at `deadline` (epoch ms). */
  store: (deadline: number) => UserVectorStore;
  now: () => Date;
  /** Milliseconds kept back from the Lambda's remaining time (default 2,000). */
  deadlineMarginMs?: number;
}

/** The shard a record came from: Lambda's eventID is `<shardId>:<sequenceNumber>`. */
function shardOf(record: KinesisStreamRecord): string {
  const id = record.eventID ?? '';
  const colon = id.lastIndexOf(':');
  return colon > 0 ? id.slice(0, colon) : 'unknown';
}

/**
 * One batch of the clicks stream: every click applied to its user's vector (lib/domain/user-vectors.ts),
 * then each record reported through Powertools' BatchProcessor: a poison record, or the records of a user
 * whose write failed, are the batch item failures (Lambda retries from the first of them; applied clicks
 * are recognised and skipped).
 */
export async function handleClicks(
  event: KinesisStreamEvent,
  context: Context,
  deps: UpdateUserVectorsDeps,
): Promise<KinesisStreamBatchResponse> {
  const deadline = Date.now() + context.getRemainingTimeInMillis() - (deps.deadlineMarginMs ?? 2_000);
  const records: StreamRecord[] = event.Records.map((r) => ({
    data: r.kinesis.data,
    sequenceNumber: r.kinesis.sequenceNumber,
    shardId: shardOf(r),
  }));
  const { config } = deps;
  const { failures, stats } = await updateUserVectors(records, deps.store(deadline), {
    ...DEFAULT_OPTIONS,
    historyLength: config.historyLength,
    halfLifeMs: config.halfLifeMs,
    writeConcurrency: config.writeConcurrency,
    now: deps.now,
  });

  const bySequence = new Map<string, Error>();
  for (const [index, error] of failures) {
    const record = event.Records[index] as KinesisStreamRecord;
    bySequence.set(record.kinesis.sequenceNumber, error);
    const where = {
      sequenceNumber: record.kinesis.sequenceNumber,
      shardId: shardOf(record),
      partitionKey: record.kinesis.partitionKey,
      eventSourceARN: record.eventSourceARN,
    };
    if (error instanceof PoisonRecordError)
      logger.error('poison record', { ...where, reason: error.message });
    else logger.error('record not applied', { ...where, error });
  }
  metrics.addMetric('Records', MetricUnit.Count, stats.records);
  metrics.addMetric('ClicksApplied', MetricUnit.Count, stats.applied);
  metrics.addMetric('DuplicateClicks', MetricUnit.Count, stats.duplicates);
  metrics.addMetric('RedeliveredRecords', MetricUnit.Count, stats.redelivered);
  metrics.addMetric('PoisonRecords', MetricUnit.Count, stats.poison);
  metrics.addMetric('FailedRecords', MetricUnit.Count, stats.failed);
  metrics.addMetric('UsersWritten', MetricUnit.Count, stats.usersWritten);
  metrics.addMetric('WriteRaces', MetricUnit.Count, stats.races);
  metrics.addMetric('ClicksWithoutArticleVector', MetricUnit.Count, stats.clicksWithoutVector);
  metrics.addMetric('PendingClicksCounted', MetricUnit.Count, stats.pendingCounted);
  logger.info('batch applied', { ...stats });

  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  return processPartialResponse(
    event,
    async (record: KinesisStreamRecord) => {
      const error = bySequence.get(record.kinesis.sequenceNumber);
      if (error) throw error;
    },
    processor,
  );
}

/** The middy chain: logger, tracer (no response capture: it can list many failures) and metrics. */
export function createHandler(deps: UpdateUserVectorsDeps) {
  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics))
    .handler((event, context) => handleClicks(event, context, deps));
}

/** The real dependencies: the DynamoDB tables through a traced client. */
export function updateUserVectorsDeps(config: UpdateUserVectorsConfig): UpdateUserVectorsDeps {
  const client = tracer.captureAWSv3Client(dynamoDbClient());
  const tables = { users: config.userVectorsTable, articles: config.articleVectorsTable };
  return {
    config,
    store: (deadline) => new DynamoUserVectorStore(client, tables, { deadline }),
    now: () => new Date(),
  };
}

// Settings and the SDK client are created once per container, at start-up.
const deps = updateUserVectorsDeps(loadUpdateUserVectorsConfig());

/** Kinesis trigger on the clicks stream (ReportBatchItemFailures). */
export const handler = createHandler(deps);
