import { BatchWriteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { getBytes, listKeys, listObjects, putAll, putBytes, scanItems } from '../../../lib/aws/batch';

const ddb = mockClient(DynamoDBClient);
const s3 = mockClient(S3Client);
const item = (id: string) => ({ user_id: { S: id } });
const put = (id: string) => ({ PutRequest: { Item: item(id) } });

describe('batch adapters', () => {
  beforeEach(() => {
    ddb.reset();
    s3.reset();
  });

  it('writes 25 items a call and sends only the unprocessed ones again, with a growing capped backoff', async () => {
    // Prepare: 30 items; the first call leaves two unprocessed, their retry leaves one, then all is written
    ddb
      .on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: { T: [put('u01'), put('u02')] } })
      .resolvesOnce({ UnprocessedItems: { T: [put('u02')] } })
      .resolves({});
    const sleeps: number[] = [];

    // Act
    const result = await putAll(
      new DynamoDBClient({}),
      'T',
      Array.from({ length: 30 }, (_, i) => item(`u${String(i).padStart(2, '0')}`)),
      'user_id',
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0.999, baseDelayMs: 10, maxDelayMs: 15 },
    );

    // Assess
    expect(result).toEqual({ written: 30, failed: [] });
    const calls = ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input.RequestItems?.T?.length);
    expect(calls).toEqual([25, 2, 1, 5]);
    expect(sleeps).toEqual([9, 14]);
  });

  it('reports items still unprocessed after the attempts, or past the deadline, and a call that throws, by key', async () => {
    // Prepare
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: { T: [put('a')] } });

    // Act
    const exhausted = await putAll(new DynamoDBClient({}), 'T', [item('a'), item('b')], 'user_id', {
      maxAttempts: 2,
      sleep: async () => {},
    });
    const late = await putAll(new DynamoDBClient({}), 'T', [item('a')], 'user_id', {
      deadline: 1_000,
      now: () => 1_000,
      sleep: async () => {},
    });
    ddb.reset();
    ddb
      .on(BatchWriteItemCommand)
      .rejects(Object.assign(new Error('no table'), { name: 'ResourceNotFoundException' }));
    const thrown = await putAll(new DynamoDBClient({}), 'T', [item('c')], 'user_id');

    // Assess
    expect(exhausted).toEqual({
      written: 1,
      failed: [{ key: 'a', reason: 'UnprocessedItems: DynamoDB did not write it (after 2 attempts)' }],
    });
    expect(late.failed).toEqual([
      { key: 'a', reason: 'UnprocessedItems: DynamoDB did not write it (no time left to retry)' },
    ]);
    expect(thrown).toEqual({
      written: 0,
      failed: [{ key: 'c', reason: 'ResourceNotFoundException: no table' }],
    });
  });

  it('lists every key of a prefix over the pages, sorted, and scans every page of a table', async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'p/b' }, {}], IsTruncated: true, NextContinuationToken: 't' })
      .resolves({ Contents: [{ Key: 'p/a' }] });
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: [item('1')], LastEvaluatedKey: item('1') })
      .resolves({});

    // Act
    const keys = await listKeys(new S3Client({}), 'B', 'p/');
    const items = await scanItems(new DynamoDBClient({}), { table: 'T', attributes: ['user_id'] });

    // Assess
    expect(keys).toEqual(['p/a', 'p/b']);
    expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input.ContinuationToken).toBe('t');
    expect(items).toEqual([item('1')]);
    expect(ddb.commandCalls(ScanCommand)[0]?.args[0].input).toMatchObject({
      ProjectionExpression: '#a0',
      ExpressionAttributeNames: { '#a0': 'user_id' },
    });
  });

  it('reads and writes object bytes, and says which object had no body', async () => {
    // Prepare
    s3.on(GetObjectCommand, { Key: 'k' }).resolves({
      Body: { transformToByteArray: async () => new Uint8Array([1, 2]) } as never,
    });
    s3.on(GetObjectCommand, { Key: 'empty' }).resolves({});
    s3.on(PutObjectCommand).resolves({});

    // Act / Assess
    expect(await getBytes(new S3Client({}), 'B', 'k')).toEqual(new Uint8Array([1, 2]));
    await expect(getBytes(new S3Client({}), 'B', 'empty')).rejects.toThrow('s3://B/empty has no body');
    await putBytes(new S3Client({}), 'B', 'x', 'text', 'text/plain');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Key: 'x',
      ContentType: 'text/plain',
    });
  });
});

describe('listing objects with their times', () => {
  it('lists every page of a prefix by key, each object with when it was last written', async () => {
    // Prepare
    s3.reset();
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [{ Key: 'raw/b', LastModified: new Date('2026-12-01T00:00:02Z') }, {}],
        IsTruncated: true,
        NextContinuationToken: 't',
      })
      .resolves({ Contents: [{ Key: 'raw/a' }] });

    // Act
    const objects = await listObjects(new S3Client({}), 'B', 'raw/');

    // Assess
    expect(objects).toEqual([
      { key: 'raw/a', lastModified: new Date(0) },
      { key: 'raw/b', lastModified: new Date('2026-12-01T00:00:02Z') },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input.ContinuationToken).toBe('t');
  });
});
