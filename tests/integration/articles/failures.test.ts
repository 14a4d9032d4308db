import { gzipSync } from 'node:zlib';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { generateArticles } from '../../../cli/traffic/articles';
import { BUCKET, usePlatform } from '../collect/platform';
import { eventually } from '../local/harness';

/**
 * An object under articles/ that vectorize-article cannot store, on the whole local platform: the
 * invocation fails, Lambda's two asynchronous retries run, and the event ends in the function's
 * on-failure queue, where it can be found and replayed. (Its own platform: it removes the table.)
 */
const platform = usePlatform();

describe('When the articles of an object under articles/ cannot be stored', () => {
  it('fails the invocation, retries it twice and leaves the event on the articles-failures queue', async () => {
    // Prepare: without its table, every BatchWriteItem fails.
    await platform.clients.dynamodb.send(
      new DeleteTableCommand({ TableName: 'logbase-local-ArticleVectors' }),
    );
    const key = 'articles/crawl/dt=2026-11-20/unstorable.jsonl.gz';
    const body = generateArticles({ seed: 13, articles: 5 })
      .map((a) => JSON.stringify(a))
      .join('\n');

    // Act
    await platform.clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(body) }));

    // Assess
    const { sqs } = platform.clients;
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: 'logbase-local-articles-failures' }),
    );
    const message = await eventually(
      'the on-failure record',
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        const first = out.Messages?.[0];
        if (first !== undefined)
          await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle }));
        return first;
      },
      30_000,
    );
    const record = JSON.parse(message.Body ?? '');
    expect(record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    // S3 event keys are URL-encoded (dt%3D...), as on AWS.
    expect(decodeURIComponent(record.requestPayload.Records[0].s3.object.key)).toBe(key);
    // serverless-offline reports every handler error as errorType "Error"; the message is the function's.
    expect(record.responsePayload.errorMessage).toContain('5 articles not stored');
  });
});
