import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { eventually, FIXTURE, readObject, useFixtureStack } from './harness';

/**
 * The whole platform shape on the fixture: serverless-offline runs the fixture's real handlers (built by
 * serverless-esbuild), invoked through the Lambda Invoke API, and the handlers reach the emulators through
 * the AWS_ENDPOINT_URL_* the stack passed them.
 */
describe('the local stack with serverless-offline (fixture handlers)', () => {
  const local = useFixtureStack({ offline: true }, 120_000);

  it('invokes the S3-subscribed handler, which writes back through the S3 endpoint it was given', async () => {
    // Act
    await local.clients.s3.send(
      new PutObjectCommand({ Bucket: FIXTURE.bucket, Key: 'raw/hello world.json', Body: '{}' }),
    );

    // Assess
    const copy = await eventually('seen/raw/hello world.json.json', () =>
      readObject(local.clients.s3, FIXTURE.bucket, 'seen/raw/hello world.json.json'),
    );
    const event = JSON.parse(copy.toString()) as S3Event;
    expect(event.Records[0]?.s3.object.key).toBe('raw/hello+world.json');
  });

  it('invokes the stream-subscribed handler, which writes each record to DynamoDB', async () => {
    // Act
    const put = await local.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: FIXTURE.stream,
        Data: Buffer.from('through offline'),
        PartitionKey: 'p',
      }),
    );

    // Assess
    const item = await eventually('the Seen item', async () => {
      const out = await local.clients.dynamodb.send(
        new GetItemCommand({ TableName: FIXTURE.table, Key: { pk: { S: put.SequenceNumber as string } } }),
      );
      return out.Item;
    });
    expect(item.data).toEqual({ S: 'through offline' });
  });

  it('starts serverless-offline again when it dies on its own, and functions are invoked again', async () => {
    // Prepare
    const first = local.stack.offlinePid as number;

    // Act: kill it from outside, as a crash would end it.
    process.kill(-first, 'SIGKILL');
    const second = await eventually(
      'a new serverless-offline',
      () =>
        local.stack.offlinePid !== undefined && local.stack.offlinePid !== first
          ? local.stack.offlinePid
          : undefined,
      60_000,
    );
    await local.clients.s3.send(
      new PutObjectCommand({ Bucket: FIXTURE.bucket, Key: 'raw/after-restart.json', Body: '{}' }),
    );

    // Assess
    expect(second).not.toBe(first);
    const copy = await eventually(
      'seen/raw/after-restart.json.json',
      () => readObject(local.clients.s3, FIXTURE.bucket, 'seen/raw/after-restart.json.json'),
      60_000,
    );
    expect(JSON.parse(copy.toString()).Records[0].s3.object.key).toBe('raw/after-restart.json');
  }, 90_000);

  it('stops serverless-offline with the stack', async () => {
    // Prepare
    const pid = local.stack.offlinePid as number;
    expect(pid).toBeGreaterThan(0);

    // Act
    await local.stack.stop();

    // Assess
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
