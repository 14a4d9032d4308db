import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { marshalArticle, writeArticleVectors } from '../../../lib/aws/article-vectors';
import type { ArticleVectorItem } from '../../../lib/domain/articles';

const dynamoMock = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'ap-northeast-1' });
const TABLE = 'logbase-test-ArticleVectors';

function items(count: number): ArticleVectorItem[] {
  return Array.from({ length: count }, (_, i) => ({
    article_id: `art_${i}`,
    vector: new Uint8Array(512).fill(i % 256),
    model: 'hash-v1',
    category: 'sports',
    published_at: '2026-11-20T08:30:00.000Z',
    title: `title ${i}`,
    updated_at: '2026-11-20T09:05:00.000Z',
  }));
}

/** A fake clock: sleeping advances it, never waits. */
function fakeTime() {
  const t = { now: 1_000, slept: [] as number[] };
  return {
    t,
    options: {
      now: () => t.now,
      sleep: async (ms: number) => {
        t.slept.push(ms);
        t.now += ms;
      },
      random: () => 0.5,
    },
  };
}

const idsOf = (requests: WriteRequest[] | undefined) =>
  (requests ?? []).map((r) => r.PutRequest?.Item?.article_id?.S);
const sentIds = () =>
  dynamoMock.commandCalls(BatchWriteItemCommand).map((c) => idsOf(c.args[0].input.RequestItems?.[TABLE]));

beforeEach(() => dynamoMock.reset());

describe('Writing article vectors with BatchWriteItem', () => {
  it('puts 60 items in calls of 25, 25 and 10, each item with the stored attributes', async () => {
    // Prepare
    dynamoMock.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });

    // Act
    const result = await writeArticleVectors(client, TABLE, items(60), { concurrency: 1 });

    // Assess
    expect(sentIds().map((ids) => ids.length)).toEqual([25, 25, 10]);
    expect(result.written).toHaveLength(60);
    expect(result.failed).toEqual([]);
    expect(marshalArticle(items(1)[0] as ArticleVectorItem).PutRequest?.Item).toEqual({
      article_id: { S: 'art_0' },
      vector: { B: new Uint8Array(512) },
      model: { S: 'hash-v1' },
      category: { S: 'sports' },
      published_at: { S: '2026-11-20T08:30:00.000Z' },
      title: { S: 'title 0' },
      updated_at: { S: '2026-11-20T09:05:00.000Z' },
    });
  });

  it('sends again only the items DynamoDB left unprocessed, after a full-jitter backoff', async () => {
    // Prepare: the first call leaves two items unprocessed, the second one of them.
    const input = items(5);
    const left = (ids: number[]) => ({
      [TABLE]: ids.map((i) => marshalArticle(input[i] as ArticleVectorItem)),
    });
    dynamoMock
      .on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: left([1, 3]) })
      .resolvesOnce({ UnprocessedItems: left([3]) })
      .resolves({ UnprocessedItems: {} });
    const { t, options } = fakeTime();

    // Act
    const result = await writeArticleVectors(client, TABLE, input, { ...options, baseDelayMs: 100 });

    // Assess
    expect(sentIds()).toEqual([['art_0', 'art_1', 'art_2', 'art_3', 'art_4'], ['art_1', 'art_3'], ['art_3']]);
    expect(t.slept).toEqual([50, 100]);
    expect(result.written.sort()).toEqual(['art_0', 'art_1', 'art_2', 'art_3', 'art_4']);
    expect(result.failed).toEqual([]);
  });

  it('reports the items still unprocessed after the last attempt as failed, and the rest as written', async () => {
    // Prepare
    const input = items(3);
    dynamoMock
      .on(BatchWriteItemCommand)
      .resolves({ UnprocessedItems: { [TABLE]: [marshalArticle(input[2] as ArticleVectorItem)] } });
    const { t, options } = fakeTime();

    // Act
    const result = await writeArticleVectors(client, TABLE, input, { ...options, maxAttempts: 3 });

    // Assess
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 3);
    expect(t.slept).toHaveLength(2);
    expect(result.written.sort()).toEqual(['art_0', 'art_1']);
    expect(result.failed).toEqual([
      { article_id: 'art_2', reason: 'UnprocessedItems: DynamoDB did not write it (after 3 attempts)' },
    ]);
  });

  it('stops retrying when the next wait would pass the deadline', async () => {
    // Prepare
    const input = items(1);
    dynamoMock
      .on(BatchWriteItemCommand)
      .resolves({ UnprocessedItems: { [TABLE]: [marshalArticle(input[0] as ArticleVectorItem)] } });
    const { t, options } = fakeTime();

    // Act
    const result = await writeArticleVectors(client, TABLE, input, { ...options, deadline: t.now + 10 });

    // Assess
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 1);
    expect(result.failed).toEqual([
      { article_id: 'art_0', reason: 'UnprocessedItems: DynamoDB did not write it (no time left to retry)' },
    ]);
  });

  it('fails the items of a call that threw (the SDK already retried it) without calling again', async () => {
    // Prepare
    dynamoMock
      .on(BatchWriteItemCommand)
      .rejectsOnce(
        Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }),
      )
      .resolves({ UnprocessedItems: {} });

    // Act
    const result = await writeArticleVectors(client, TABLE, items(30), { concurrency: 1 });

    // Assess
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 2);
    expect(result.failed).toHaveLength(25);
    expect(result.failed[0]).toEqual({
      article_id: 'art_0',
      reason: 'ProvisionedThroughputExceededException: Rate exceeded',
    });
    expect(result.written).toHaveLength(5);
  });
});
