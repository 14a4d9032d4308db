import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { DataDirError } from '../../../local/errors';
import type { LocalStack } from '../../../local/stack';
import {
  clientsFor,
  destroyClients,
  eventually,
  FIXTURE,
  fixtureInvoker,
  Invocations,
  listKeys,
  readGzipText,
  readObject,
  recordText,
  removeDir,
  startFixtureStack,
  tempDataDir,
} from './harness';

describe('the local stack data dir', () => {
  let dataDir: string;
  const running: LocalStack[] = [];

  async function start(fresh: boolean, onRecords = new Invocations<KinesisStreamEvent>()) {
    const stack = await startFixtureStack({
      dataDir,
      fresh,
      invoker: fixtureInvoker(new Invocations(), onRecords),
    });
    running.push(stack);
    return { stack, clients: clientsFor(stack), onRecords };
  }

  async function stop(stack: LocalStack, clients: ReturnType<typeof clientsFor>) {
    destroyClients(clients);
    await stack.stop();
    running.splice(running.indexOf(stack), 1);
  }

  /** Every record text in the fixture stream, read from TRIM_HORIZON on each shard. */
  async function streamTexts(clients: ReturnType<typeof clientsFor>): Promise<string[]> {
    const shards = await clients.kinesis.send(new ListShardsCommand({ StreamName: FIXTURE.stream }));
    const texts: string[] = [];
    for (const shard of shards.Shards ?? []) {
      const it = await clients.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: FIXTURE.stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const out = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      for (const r of out.Records ?? []) texts.push(Buffer.from(r.Data ?? []).toString());
    }
    return texts.sort();
  }

  /** The bodies of the messages on the on-failure queue (received, so hidden for 30 s after). */
  async function queued(clients: ReturnType<typeof clientsFor>): Promise<string[]> {
    const { QueueUrl } = await clients.sqs.send(
      new GetQueueUrlCommand({ QueueName: FIXTURE.onFailureQueue }),
    );
    const out = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    return (out.Messages ?? []).map((m) => m.Body as string);
  }

  const item = (clients: ReturnType<typeof clientsFor>) =>
    clients.dynamodb.send(new GetItemCommand({ TableName: FIXTURE.table, Key: { pk: { S: 'kept' } } }));

  beforeAll(async () => {
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    for (const stack of running) await stack.stop();
    await removeDir(dataDir);
  });

  it('keeps objects, items, stream records, queued messages, buffered Firehose records and checkpoints across a stop/start', async () => {
    // Prepare: a first run writes to every service; the bulk record stays buffered (900 s interval)
    const first = await start(true);
    await first.clients.s3.send(
      new PutObjectCommand({ Bucket: FIXTURE.bucket, Key: 'kept/object.txt', Body: 'kept' }),
    );
    await first.clients.dynamodb.send(
      new PutItemCommand({ TableName: FIXTURE.table, Item: { pk: { S: 'kept' }, kind: { S: 'test' } } }),
    );
    await first.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: FIXTURE.stream,
        Data: Buffer.from('before-restart'),
        PartitionKey: 'k',
      }),
    );
    await eventually('before-restart delivered', () =>
      first.onRecords.events.some((e) => e.Records.some((r) => recordText(r) === 'before-restart')),
    );
    const { QueueUrl } = await first.clients.sqs.send(
      new GetQueueUrlCommand({ QueueName: FIXTURE.onFailureQueue }),
    );
    await first.clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'queued-before-restart' }));
    await first.clients.firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: FIXTURE.bulk,
        Records: [{ Data: Buffer.from('buffered\n') }],
      }),
    );

    // Act
    await stop(first.stack, first.clients);
    const second = await start(false);
    await second.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: FIXTURE.stream,
        Data: Buffer.from('after-restart'),
        PartitionKey: 'k',
      }),
    );

    // Assess
    expect((await readObject(second.clients.s3, FIXTURE.bucket, 'kept/object.txt')).toString()).toBe('kept');
    expect((await item(second.clients)).Item?.kind).toEqual({ S: 'test' });
    expect(await queued(second.clients)).toEqual(['queued-before-restart']);
    expect(await streamTexts(second.clients)).toEqual(['after-restart', 'before-restart']);
    const [bulkKey] = await listKeys(second.clients.s3, FIXTURE.bucket, 'bulk/');
    expect(await readGzipText(second.clients.s3, FIXTURE.bucket, bulkKey as string)).toBe('buffered\n');
    await eventually('after-restart delivered', () =>
      second.onRecords.events.some((e) => e.Records.some((r) => recordText(r) === 'after-restart')),
    );
    const redelivered = second.onRecords.events.flatMap((e) => e.Records.map(recordText));
    expect(redelivered).toEqual(['after-restart']);
    await stop(second.stack, second.clients);
  });

  it('starts empty with fresh: bucket, stream, table and queue exist again, with nothing in them', async () => {
    // Act
    const { stack, clients } = await start(true);

    // Assess
    expect(await listKeys(clients.s3, FIXTURE.bucket, '')).toEqual([]);
    expect((await item(clients)).Item).toBeUndefined();
    expect(await streamTexts(clients)).toEqual([]);
    expect(await queued(clients)).toEqual([]);
    await stop(stack, clients);
  });

  it('refuses a data dir that a running stack holds', async () => {
    // Prepare
    const { stack, clients } = await start(false);

    // Act + Assess
    await expect(start(false)).rejects.toThrow(DataDirError);
    await stop(stack, clients);
  });
});
