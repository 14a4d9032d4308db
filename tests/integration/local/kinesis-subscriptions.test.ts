import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { eventually, FIXTURE, fixtureInvoker, Invocations, recordText, useFixtureStack } from './harness';

describe('Kinesis subscriptions of the local stack (fixture: onRecords, batchSize 3, ReportBatchItemFailures)', () => {
  const onRawObject = new Invocations();
  const onRecords = new Invocations<KinesisStreamEvent>();
  const local = useFixtureStack({ invoker: fixtureInvoker(onRawObject, onRecords) });

  /** Puts records (one partition key: one shard, so one order) and returns their sequence numbers. */
  async function putRecords(texts: string[], partitionKey: string): Promise<string[]> {
    const out = await local.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: FIXTURE.stream,
        Records: texts.map((t) => ({ Data: Buffer.from(t), PartitionKey: partitionKey })),
      }),
    );
    expect(out.FailedRecordCount).toBe(0);
    return (out.Records ?? []).map((r) => r.SequenceNumber as string);
  }

  /** The batches (as record texts) whose records start with `tag`. */
  const batchesOf = (tag: string) =>
    onRecords.events
      .map((e) => e.Records.map(recordText))
      .filter((texts) => texts.some((t) => t.startsWith(tag)));
  const deliveriesOf = (tag: string) => batchesOf(tag).flat();

  beforeEach(() => {
    onRecords.behaviour = () => ({ batchItemFailures: [] });
  });

  it('delivers records in order, in batches of at most batchSize, as real-shaped Kinesis events', async () => {
    // Prepare
    const texts = Array.from({ length: 7 }, (_, i) => `order-${i}`);

    // Act
    const sequenceNumbers = await putRecords(texts, 'order');

    // Assess
    await eventually('all 7 records', () => deliveriesOf('order-').length === 7);
    expect(deliveriesOf('order-')).toEqual(texts);
    for (const batch of batchesOf('order-')) expect(batch.length).toBeLessThanOrEqual(3);
    const first = onRecords.events.find((e) => e.Records.some((r) => recordText(r) === 'order-0'))
      ?.Records[0];
    expect(first).toMatchObject({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventName: 'aws:kinesis:record',
      awsRegion: 'ap-northeast-1',
      eventSourceARN: `arn:aws:kinesis:ap-northeast-1:000000000000:stream/${FIXTURE.stream}`,
      kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'order', sequenceNumber: sequenceNumbers[0] },
    });
    expect(first?.eventID).toMatch(new RegExp(`^shardId-\\d{12}:${sequenceNumbers[0]}$`));
    expect(first?.invokeIdentityArn).toMatch(/^arn:aws:iam::000000000000:role\//);
    expect(typeof first?.kinesis.approximateArrivalTimestamp).toBe('number');
  });

  it('retries from a reported item failure and never redelivers the records before it', async () => {
    // Prepare: the first time it sees "partial-2" the function reports it as failed
    let failedOnce = false;
    onRecords.behaviour = (event) => {
      const failing = event.Records.find((r) => recordText(r) === 'partial-2');
      if (failing && !failedOnce) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: failing.kinesis.sequenceNumber }] };
      }
      return { batchItemFailures: [] };
    };
    const texts = Array.from({ length: 6 }, (_, i) => `partial-${i}`);

    // Act
    await putRecords(texts, 'partial');

    // Assess
    await eventually('partial-5', () => deliveriesOf('partial-').includes('partial-5'));
    const counts = Object.fromEntries(
      texts.map((t) => [t, deliveriesOf('partial-').filter((d) => d === t).length]),
    );
    expect(counts).toEqual({
      'partial-0': 1,
      'partial-1': 1,
      'partial-2': 2,
      'partial-3': 1,
      'partial-4': 1,
      'partial-5': 1,
    });
    const retried = batchesOf('partial-').find((batch, i) => i > 0 && batch.includes('partial-2'));
    expect(retried?.[0]).toBe('partial-2');
  });

  it('retries a batch whose invocation throws, then after maximumRetryAttempts writes it to failed-batches/ and moves on', async () => {
    // Prepare: every batch holding "poison" fails
    onRecords.behaviour = (event) => {
      if (event.Records.some((r) => recordText(r) === 'poison-1')) throw new Error('poison record');
      return undefined;
    };

    // Act
    await putRecords(['poison-0', 'poison-1', 'poison-2'], 'poison');
    await putRecords(['poison-after'], 'poison');

    // Assess: 1 attempt + 2 retries, then the next record is delivered
    await eventually('the record after the failed batch', () =>
      deliveriesOf('poison-').includes('poison-after'),
    );
    const withPoison = batchesOf('poison-').filter((b) => b.includes('poison-1'));
    expect(withPoison).toHaveLength(3);
    for (const batch of withPoison) expect(batch.slice(0, 3)).toEqual(['poison-0', 'poison-1', 'poison-2']);
    const files = await readdir(join(local.dataDir, 'failed-batches'));
    expect(files).toHaveLength(1);
    const saved = JSON.parse(
      await readFile(join(local.dataDir, 'failed-batches', files[0] as string), 'utf8'),
    );
    expect(saved.responseContext.error).toContain('poison record');
    expect(saved.records.map((r: { data: string }) => Buffer.from(r.data, 'base64').toString())).toEqual([
      'poison-0',
      'poison-1',
      'poison-2',
    ]);
  });

  it('treats an item identifier that is not in the batch as a failure of the whole batch', async () => {
    // Prepare
    let calls = 0;
    onRecords.behaviour = (event) => {
      if (!event.Records.some((r) => recordText(r).startsWith('bogus-'))) return undefined;
      calls++;
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] } : {};
    };

    // Act
    await putRecords(['bogus-0', 'bogus-1'], 'bogus');

    // Assess
    await eventually('the retry', () => calls === 2);
    expect(batchesOf('bogus-')).toEqual([
      ['bogus-0', 'bogus-1'],
      ['bogus-0', 'bogus-1'],
    ]);
  });
});
