import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent, S3Event } from 'aws-lambda';
import { eventually, FIXTURE, fixtureInvoker, Invocations, useFixtureStack } from './harness';

const ARN_PREFIX = 'arn:aws:lambda:ap-northeast-1:000000000000:function:';

describe('on-failure destinations of the local stack (fixture: onGuardedObject, onGuardedRecords -> OnFailureQueue)', () => {
  const onGuardedObject = new Invocations<S3Event>();
  const onGuardedRecords = new Invocations<KinesisStreamEvent>();
  const local = useFixtureStack({
    invoker: fixtureInvoker(new Invocations(), new Invocations(), { onGuardedObject, onGuardedRecords }),
  });

  /** Receives (and deletes) every message of a queue until `count` have arrived; then checks none follows. */
  async function drain(queueName: string, count: number): Promise<Message[]> {
    const { sqs } = local.clients;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const received: Message[] = [];
    const receive = async () => {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of out.Messages ?? []) {
        received.push(message);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    };
    await eventually(`${count} message(s) on ${queueName}`, async () => {
      await receive();
      return received.length >= count;
    });
    await receive();
    return received;
  }

  it('sends one on-failure record, after exactly 3 invocations, when an S3-triggered function keeps failing', async () => {
    // Prepare
    onGuardedObject.behaviour = () => {
      throw new TypeError('cannot read the object');
    };

    // Act
    await local.clients.s3.send(
      new PutObjectCommand({ Bucket: FIXTURE.bucket, Key: 'guarded/poison.json', Body: '{}' }),
    );

    // Assess
    const [message, ...more] = await drain(FIXTURE.onFailureQueue, 1);
    expect(more).toEqual([]);
    expect(onGuardedObject.events).toHaveLength(3);
    const record = JSON.parse(message?.Body ?? '');
    expect(record).toEqual({
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: `${ARN_PREFIX}wiring-local-onGuardedObject:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: onGuardedObject.events[0],
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'TypeError', errorMessage: 'cannot read the object' },
    });
    expect(record.requestPayload.Records[0].s3.object.key).toBe('guarded/poison.json');
  });

  it('sends one on-failure record naming the shard and sequence range when a Kinesis batch is given up', async () => {
    // Prepare: maximumRetryAttempts 1, so two invocations of the batch, then the destination
    onGuardedRecords.behaviour = () => {
      throw new Error('downstream is down');
    };

    // Act
    const out = await local.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: FIXTURE.guardedStream,
        Records: ['a', 'b'].map((t) => ({ Data: Buffer.from(t), PartitionKey: 'p' })),
      }),
    );
    const sequenceNumbers = (out.Records ?? []).map((r) => r.SequenceNumber);

    // Assess
    const [message, ...more] = await drain(FIXTURE.onFailureQueue, 1);
    expect(more).toEqual([]);
    expect(onGuardedRecords.events).toHaveLength(2);
    const record = JSON.parse(message?.Body ?? '');
    const shardId = onGuardedRecords.events[0]?.Records[0]?.eventID.split(':')[0];
    expect(record).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: `${ARN_PREFIX}wiring-local-onGuardedRecords`,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: sequenceNumbers[0],
        endSequenceNumber: sequenceNumbers[1],
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        batchSize: 2,
        streamArn: `arn:aws:kinesis:ap-northeast-1:000000000000:stream/${FIXTURE.guardedStream}`,
      },
    });
    expect(shardId).toMatch(/^shardId-\d{12}$/);
  });

  it('fans a message published to the alerts topic out to its subscribed inbox queue', async () => {
    // Prepare
    const topicArn = `arn:aws:sns:ap-northeast-1:000000000000:${FIXTURE.alertsTopic}`;

    // Act
    await local.clients.sns.send(new PublishCommand({ TopicArn: topicArn, Message: '{"alert":"disk"}' }));

    // Assess: RawMessageDelivery, so the body is the message itself
    const messages = await drain(FIXTURE.alertsInbox, 1);
    expect(messages.map((m) => m.Body)).toEqual(['{"alert":"disk"}']);
  });

  it('reaches a queue by the URL Ref gives in the function environment (the AWS form of the URL)', async () => {
    // Prepare
    const url = local.stack.wiring.functions.find((f) => f.key === 'onGuardedObject')?.environment
      .ON_FAILURE_QUEUE_URL;

    // Act
    await local.clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'by Ref' }));

    // Assess
    const messages = await drain(FIXTURE.onFailureQueue, 1);
    expect(messages.map((m) => m.Body)).toEqual(['by Ref']);
  });
});
