import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  type SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LocalStackStartError } from './errors';
import { sleep } from './kinesis/shard-reader';
import type { StackLog } from './log';
import type { Wiring } from './wiring';

export interface ProvisionClients {
  s3: S3Client;
  kinesis: KinesisClient;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  sns: SNSClient;
}

/** What provisioning did: names created now, and names that were already in the data dir. */
export interface ProvisionReport {
  created: string[];
  existing: string[];
}

/**
 * Creates the buckets, streams and tables of the wiring; those already in the data dir are kept as they are
 * (a shard count or key schema that no longer matches serverless.yml is warned about: use --fresh).
 * Resolves once every stream and table is ACTIVE.
 */
export async function provision(
  wiring: Wiring,
  clients: ProvisionClients,
  log: StackLog,
): Promise<ProvisionReport> {
  const report: ProvisionReport = { created: [], existing: [] };
  const note = (created: boolean, what: string) => (created ? report.created : report.existing).push(what);

  for (const bucket of wiring.buckets) {
    const exists = await clients.s3.send(new HeadBucketCommand({ Bucket: bucket.name })).then(
      () => true,
      () => false,
    );
    if (!exists) await clients.s3.send(new CreateBucketCommand({ Bucket: bucket.name }));
    note(!exists, `bucket ${bucket.name}`);
  }

  await Promise.all(
    wiring.streams.map(async (stream) => {
      const created = await ignoreInUse(
        clients.kinesis.send(
          new CreateStreamCommand({ StreamName: stream.name, ShardCount: stream.shardCount }),
        ),
      );
      const summary = await waitUntil(`stream ${stream.name}`, async () => {
        const out = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.name }));
        return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE'
          ? out.StreamDescriptionSummary
          : undefined;
      });
      if (!created && summary.OpenShardCount !== stream.shardCount) {
        log.warn(
          `stream ${stream.name} has ${summary.OpenShardCount} shard(s) in the data dir, serverless.yml says ${stream.shardCount} (use --fresh)`,
        );
      }
      note(created, `stream ${stream.name}`);
    }),
  );

  await Promise.all(
    wiring.tables.map(async (table) => {
      const created = await ignoreInUse(
        clients.dynamodb.send(new CreateTableCommand(table.createTable as CreateTableCommandInput)),
      );
      const description = await waitUntil(`table ${table.name}`, async () => {
        const out = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
        return out.Table?.TableStatus === 'ACTIVE' ? out.Table : undefined;
      });
      if (!created && JSON.stringify(description.KeySchema) !== JSON.stringify(table.createTable.KeySchema)) {
        log.warn(
          `table ${table.name} in the data dir has another key schema than serverless.yml (use --fresh)`,
        );
      }
      note(created, `table ${table.name}`);
    }),
  );

  await Promise.all(
    wiring.queues.map(async (queue) => {
      const exists = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue.name })).then(
        () => true,
        () => false,
      );
      try {
        await clients.sqs.send(
          new CreateQueueCommand({ QueueName: queue.name, Attributes: queue.attributes }),
        );
      } catch (error) {
        if (!exists || (error as Error).name !== 'QueueNameExists') throw error;
        log.warn(
          `queue ${queue.name} in the data dir has other attributes than serverless.yml (use --fresh)`,
        );
      }
      note(!exists, `queue ${queue.name}`);
    }),
  );
  await Promise.all(
    wiring.topics.map(async (topic) => {
      const exists = await clients.sns.send(new GetTopicAttributesCommand({ TopicArn: topic.arn })).then(
        () => true,
        () => false,
      );
      await clients.sns.send(new CreateTopicCommand({ Name: topic.name, Attributes: topic.attributes }));
      note(!exists, `topic ${topic.name}`);
    }),
  );
  // Subscribe is idempotent: the same topic, protocol and endpoint give the same subscription.
  for (const sub of wiring.topicSubscriptions) {
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn: sub.topicArn,
        Protocol: sub.protocol,
        Endpoint: sub.endpoint,
        Attributes: sub.attributes,
        ReturnSubscriptionArn: true,
      }),
    );
  }
  return report;
}

/** Resolves true when the create call created the resource, false when it already existed. */
async function ignoreInUse(create: Promise<unknown>): Promise<boolean> {
  try {
    await create;
    return true;
  } catch (error) {
    if ((error as Error).name === 'ResourceInUseException') return false;
    throw error;
  }
}

async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new LocalStackStartError(
        `${what} did not become ACTIVE within ${timeoutMs} ms (a stack killed while creating it leaves it so: use --fresh)`,
      );
    await sleep(25);
  }
}
